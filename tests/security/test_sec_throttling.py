"""Sign-in throttling and its audit trail (SECURITY.md A2: AU-1, AU-2)."""

from __future__ import annotations

import logging
from datetime import timedelta

from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in

from dashboard.models import utcnow

LOCKED = "Too many failed sign-ins."


def post_sign_in(client, email, password, address="10.0.0.1"):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_AU1_101_failures_lock_the_account_until_the_lock_ends(app, client, make_user):
    make_user("agent@example.com", "support")
    start = utcnow()
    with freeze_time(start) as clock:
        answers = []
        for n in range(101):
            answers.append(post_sign_in(client, "agent@example.com", f"wrong {n}", f"10.0.{n}.1"))
            clock.tick(timedelta(seconds=20))  # 101 tries spread over 34 minutes
        assert LOCKED not in answers[0].get_data(as_text=True)
        assert LOCKED in answers[5].get_data(as_text=True)  # the 6th try meets the first lock
        refused = post_sign_in(client, "agent@example.com", PASSWORD, "10.9.9.9")
        assert refused.status_code == 200 and LOCKED in refused.get_data(as_text=True)
        clock.tick(timedelta(minutes=16))  # longer than the longest lock
        assert post_sign_in(client, "agent@example.com", PASSWORD, "10.9.9.9").status_code == 302
    failures = query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'auth.failure'")
    assert failures < 101  # while locked, passwords are not even checked
    assert query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'auth.lock'") >= 1


def test_AU1_the_lock_grows_and_is_never_permanent(app, client, make_user):
    make_user("agent@example.com", "support")
    with freeze_time(utcnow()) as clock:
        for n in range(5):
            post_sign_in(client, "agent@example.com", f"wrong {n}")
        page = post_sign_in(client, "agent@example.com", "wrong 5").get_data(as_text=True)
        assert "paused for 1 minute;" in page
        clock.tick(timedelta(seconds=61))
        page = post_sign_in(client, "agent@example.com", "wrong 6").get_data(as_text=True)
        assert "paused for 2 minutes" in page
        clock.tick(timedelta(minutes=3))
        assert post_sign_in(client, "agent@example.com", PASSWORD).status_code == 302


def test_AU1_an_unknown_email_is_locked_the_same_way(app, client):
    with freeze_time(utcnow()):
        for n in range(6):
            response = post_sign_in(client, "nobody@example.com", f"wrong {n}")
        assert LOCKED in response.get_data(as_text=True)


def test_AU1_one_address_trying_many_accounts_is_locked(app, client, make_user):
    make_user("agent@example.com", "support")
    with freeze_time(utcnow()):
        for n in range(21):
            post_sign_in(client, f"guess{n}@example.com", "wrong", address="10.6.6.6")
        refused = post_sign_in(client, "agent@example.com", PASSWORD, address="10.6.6.6")
        assert LOCKED in refused.get_data(as_text=True)
        assert post_sign_in(client, "agent@example.com", PASSWORD, "10.7.7.7").status_code == 302


def test_AU2_every_success_and_failure_is_audited_and_logged_without_the_password(
    app, client, make_user, caplog
):
    make_user("agent@example.com", "support")
    with caplog.at_level(logging.INFO):
        post_sign_in(client, "agent@example.com", "the wrong password")
        post_sign_in(client, "agent@example.com", PASSWORD)
    events = query_scalar(
        app,
        "SELECT count(*) FROM audit_events WHERE action IN ('auth.failure', 'auth.success')"
        " AND ip = '10.0.0.1'",
    )
    assert events == 2
    logged = [r for r in caplog.records if r.getMessage() in ("auth.failure", "auth.success")]
    assert [r.getMessage() for r in logged] == ["auth.failure", "auth.success"]
    assert logged[0].ip == "10.0.0.1" and logged[0].email == "agent@example.com"
    everything = caplog.text + str([r.__dict__ for r in caplog.records])
    assert "the wrong password" not in everything and PASSWORD not in everything


def test_a_successful_sign_in_clears_the_account_count(app, client, make_user):
    make_user("agent@example.com", "support")
    with freeze_time(utcnow()):
        for n in range(4):
            post_sign_in(client, "agent@example.com", f"wrong {n}")
        assert sign_in(client, "agent@example.com").status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
        for n in range(4):
            response = post_sign_in(client, "agent@example.com", f"wrong again {n}")
        assert LOCKED not in response.get_data(as_text=True)
