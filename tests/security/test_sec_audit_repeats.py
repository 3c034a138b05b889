"""Anonymous requests cannot grow the audit log at will (docs/security.md: LG-8): identical
refusals from one address within a window are counted on one event, and the next event of the
kind brings the count into the chain."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in

from dashboard.models import utcnow
from dashboard.services.audit import REPEAT_WINDOW

EVENTS = "SELECT count(*) FROM audit_events WHERE action = :action"
COUNTED = "SELECT coalesce(sum(count), 0) FROM audit_repeats"


def post_sign_in(client, email, password="wrong password", address="10.0.0.1"):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_LG8_failures_on_emails_no_account_has_are_counted_on_one_event(app, client):
    with freeze_time(utcnow()) as clock:
        for n in range(40):  # a new email each time: the throttle never sees the same twice
            post_sign_in(client, f"guess{n}@example.com")
        assert query_scalar(app, EVENTS, action="auth.failure") == 1
        assert query_scalar(app, COUNTED) == 39
        post_sign_in(client, "guess@example.com", address="10.0.0.2")  # another address
        assert query_scalar(app, EVENTS, action="auth.failure") == 2

        clock.tick(REPEAT_WINDOW + timedelta(seconds=1))
        post_sign_in(client, "late@example.com")
        assert query_scalar(app, EVENTS, action="auth.failure") == 3
        carried = query_scalar(
            app,
            "SELECT repeats_before FROM audit_events WHERE action = 'auth.failure'"
            " ORDER BY id DESC LIMIT 1",
        )
        assert carried == 39  # now in the chain, under the MAC
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_LG8_refusals_while_an_account_is_locked_are_counted_and_failures_still_audited(
    app, client, make_user
):
    make_user("agent@example.com", "support")
    with freeze_time(utcnow()):
        for n in range(6):  # the 6th failure locks the account
            post_sign_in(client, "agent@example.com", f"wrong {n}")
        # Each failure on a real account is still an event of its own (AU-2): the throttle
        # bounds them.
        assert query_scalar(app, EVENTS, action="auth.failure") == 6
        for _ in range(30):
            post_sign_in(client, "agent@example.com", PASSWORD)
        assert query_scalar(app, EVENTS, action="auth.refused_locked") == 1
        assert query_scalar(app, COUNTED) == 29


def test_LG8_the_audit_page_says_how_many_more_times(app, client, make_user):
    make_user("auditor@example.com", "auditor")
    with freeze_time(utcnow()):
        for n in range(12):
            post_sign_in(client, f"guess{n}@example.com")
    assert sign_in(client, "auditor@example.com").status_code == 302
    page = client.get("/audit?action=auth.failure").get_data(as_text=True)
    assert "and 11 more times until" in page
