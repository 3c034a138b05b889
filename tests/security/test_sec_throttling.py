"""Sign-in throttling, the request-rate limit of the sign-in forms, and their audit trail
(SECURITY.md A2: AU-1, AU-2; A9: LG-2)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import text
from support import PASSWORD, base_config, csrf_token, query_scalar, sign_in

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import utcnow

LOCKED = "Too many failed sign-ins."
TOO_FAST = "Too many sign-in attempts came from your network address"


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


def test_AU1_failures_from_one_address_do_not_lock_out_colleagues_there(app, client, make_user):
    """Behind an office's NAT one address is everyone: only the accounts it failed on lock."""
    make_user("agent@example.com", "support")
    make_user("colleague@example.com", "support")
    with freeze_time(utcnow()):
        for n in range(25):  # 6 on the agent's account (the 6th locks it), 19 on others
            email = "agent@example.com" if n < 6 else f"guess{n}@example.com"
            post_sign_in(client, email, f"wrong {n}", address="10.6.6.6")
        failures = "SELECT count(*) FROM audit_events WHERE action = 'auth.failure'"
        counted = "SELECT coalesce(sum(count), 0) FROM audit_repeats"
        # Each one counted: the 6 on the account as events; the 19 on emails no account has,
        # from one address, as one event with 18 repeats counted on it (LG-8).
        assert query_scalar(app, failures) == 7 and query_scalar(app, counted) == 18
        colleague = post_sign_in(client, "colleague@example.com", PASSWORD, address="10.6.6.6")
        assert colleague.status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
        for address in ("10.6.6.6", "10.7.7.7"):  # the attacked account is locked everywhere
            refused = post_sign_in(client, "agent@example.com", PASSWORD, address=address)
            assert refused.status_code == 200 and LOCKED in refused.get_data(as_text=True)
    locks = "SELECT count(*) FROM audit_events WHERE action = 'auth.lock'"
    assert query_scalar(app, locks) >= 1


def test_AU1_the_owner_signing_in_elsewhere_does_not_reset_a_guessers_count(app, client, make_user):
    make_user("agent@example.com", "support")
    owner = app.test_client()
    with freeze_time(utcnow()):
        for n in range(5):
            post_sign_in(client, "agent@example.com", f"guess {n}", address="10.6.6.6")
        assert post_sign_in(owner, "agent@example.com", PASSWORD, "10.7.7.7").status_code == 302
        # The account's own count starts over, but not that of the address that guessed.
        again = post_sign_in(client, "agent@example.com", "guess 5", address="10.6.6.6")
        assert "paused for 1 minute;" in again.get_data(as_text=True)


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
        assert post_sign_in(client, "agent@example.com", PASSWORD).status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
        for n in range(4):
            response = post_sign_in(client, "agent@example.com", f"wrong again {n}")
        assert LOCKED not in response.get_data(as_text=True)


def test_AU2_LG2_what_is_typed_as_an_email_is_kept_only_as_a_keyed_digest(
    app, client, make_user, caplog
):
    """What is typed into the email field may be a password: no clear text and no plain hash of
    it (which a list of guesses would find again) in the throttle table, the logs or the audit
    log; the throttle keys of real accounts hold a digest too."""
    make_user("agent@example.com", "support")
    typed = "Tr0ub4dor&3 Horse"  # a password typed into the email field
    with caplog.at_level(logging.INFO), freeze_time(utcnow()):
        for n in range(7):  # past the lock
            post_sign_in(client, f"  {typed} ", f"wrong {n}")
        post_sign_in(client, "agent@example.com", "the wrong password")
    with app.app_context():
        kept = [
            " ".join(map(str, row))
            for sql in (
                "SELECT key FROM sign_in_throttles",
                "SELECT actor_label, target, details FROM audit_events",
            )
            for row in db.session.execute(text(sql))
        ]
    assert any(row.startswith("account:") for row in kept) and any("unknown" in r for r in kept)
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    everything = "\n".join(kept) + logged
    for form in {typed, typed.lower(), f"  {typed} "}:
        plain = hashlib.sha256(form.encode()).hexdigest()
        for leak in (form, plain, plain[:16]):
            assert leak not in everything, leak
    keys = [row for row in kept if row.startswith(("account:", "pair:"))]
    assert keys and not any("agent@example.com" in key for key in keys)


@pytest.fixture
def rate_limited_app(app, tmp_path):
    """The test application's database, served with the request-rate limit on."""
    config = base_config(app.config["SQLALCHEMY_DATABASE_URI"], "http://127.0.0.1:9", tmp_path)
    limited = create_app({**config, "RATELIMIT_ENABLED": True}, migrations=False)
    yield limited
    with limited.app_context():
        db.session.remove()
        db.engine.dispose()


def test_AU1_sign_in_requests_from_one_address_are_rate_limited(rate_limited_app):
    client = rate_limited_app.test_client()
    answers = [
        post_sign_in(client, "nobody@example.com", f"wrong {n}", "10.5.5.5") for n in range(31)
    ]
    assert {a.status_code for a in answers[:30]} == {200}  # refused by the account lock only
    page = answers[30]
    assert page.status_code == 429 and TOO_FAST in page.get_data(as_text=True)
    assert "<!doctype html>" in page.get_data(as_text=True).lower()  # our page, not a bare one
    assert 0 < int(page.headers["Retry-After"]) <= 60
    assert client.get("/login", environ_base={"REMOTE_ADDR": "10.5.5.5"}).status_code == 200
    other = post_sign_in(client, "nobody@example.com", "wrong", "10.5.5.6")
    assert other.status_code == 200  # another address has its own count


@pytest.mark.parametrize("path", ["/login/two-step", "/account/confirm", "/account/password"])
def test_AU1_every_form_that_takes_a_password_or_code_is_rate_limited(
    rate_limited_app, make_user, path
):
    make_user("agent@example.com", "support")
    client = rate_limited_app.test_client()
    assert sign_in(client, "agent@example.com").status_code == 302
    token = csrf_token(client.get("/account").get_data(as_text=True))
    data = {"csrf_token": token, "code": "000000", "password": "wrong"}
    data |= {"current_password": "wrong", "new_password": "x" * 12, "confirm_password": "x" * 12}
    answers = [client.post(path, data=data).status_code for _ in range(31)]
    assert 429 not in answers[:30] and answers[30] == 429
