"""Fresh sign-in before every change that grants power or changes security (SECURITY.md A2:
AU-4). A stale admin session must not create an admin, nor reach production another way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in, totp_code

from dashboard.domain.capabilities import POWERS
from dashboard.models import utcnow

#: POST routes that deliberately do without a fresh sign-in, and why. Every other POST route
#: must ask for one; a new route fails the test below until it is decided here or decorated.
NOT_FRESH = {
    "auth.login": "signing in is the proof",
    "auth.second_step": "part of signing in",
    "auth.passkey_options": "issues a challenge to this session: changes nothing",
    "auth.passkey_sign_in": "signing in is the proof",
    "auth.passkey_second_step": "part of signing in",
    "auth.passkey_confirm": "the fresh sign-in itself",
    "auth.sso_start": "signing in is the proof (it only sends the browser to the provider)",
    "auth.reauthenticate": "the fresh sign-in itself",
    "auth.logout": "gives up power",
    "auth.sign_out_everywhere": "gives up power (one's own sessions)",
    "auth.change_password": "proves the current password itself, throttled like signing in",
    "sms.send": "daily work, limited by the send limits",
    "sms.resend": "daily work, limited by the send limits",
    "sms.check": "daily work, throttled per code",
    "sms.reveal": "audited with a reason, shows one number",
    "history.export": "audited, the auditor's daily work",
    "admin.test_connection": "fetches a token: reads, changes nothing",
}


def post_routes(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            yield rule, app.view_functions[rule.endpoint]


def test_AU4_every_post_route_has_a_fresh_sign_in_decision(app):
    undecided = [
        rule.endpoint
        for rule, view in post_routes(app)
        if not hasattr(view, "fresh_change") and rule.endpoint not in NOT_FRESH
    ]
    assert undecided == [], f"decide whether these need a fresh sign-in: {undecided}"
    both = [r.endpoint for r, view in post_routes(app) if hasattr(view, "fresh_change")]
    assert not set(both) & set(NOT_FRESH), "a route is both guarded and exempted"


def test_AU4_every_post_route_of_a_power_asks_for_a_fresh_sign_in(app):
    """Whatever holds a power (users, settings, limits, templates, the provider) is guarded,
    but for the one read-only exemption written above."""
    unguarded = [
        rule.endpoint
        for rule, view in post_routes(app)
        if getattr(view, "capability", None) in POWERS
        and not hasattr(view, "fresh_change")
        and rule.endpoint != "admin.test_connection"
    ]
    assert unguarded == []


def guarded_urls(app, user_id: int) -> list[tuple[str, str]]:
    values = {"user_id": user_id, "environment": "sandbox", "template_id": "default"}
    found = []
    for rule, view in post_routes(app):
        if hasattr(view, "fresh_change"):
            arguments = {name: values.get(name, "remove") for name in rule.arguments}
            found.append((rule.endpoint, rule.build(arguments)[1]))
    return found


def test_AU4_a_stale_session_changes_nothing_on_any_guarded_route(app, client, make_user):
    make_user("boss@example.com", "admin")
    target = make_user("agent@example.com", "support")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "boss@example.com")
        token = csrf_token(client.get("/admin/users").get_data(as_text=True))
        clock.tick(timedelta(minutes=11))
        events = query_scalar(app, "SELECT count(*) FROM audit_events")
        urls = guarded_urls(app, target)
        assert len(urls) >= 12
        for endpoint, url in urls:
            data = {
                "csrf_token": token,
                "email": "new-admin@example.com",
                "role": "admin",
                "environment": "production",
                "confirmation": "production",
                "reason": "stale",
                "name": "Stale",
                "text": "Code {code}",
            }
            response = client.post(url, data=data)
            assert response.status_code == 302, endpoint
            assert response.headers["Location"].startswith("/account/confirm?"), endpoint
        assert query_scalar(app, "SELECT count(*) FROM audit_events") == events
        assert query_scalar(app, "SELECT count(*) FROM users") == 2


def test_AU4_a_stale_admin_cannot_create_an_admin_until_confirming(app, client, make_user):
    make_user("boss@example.com", "admin")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "boss@example.com")
        page = client.get("/admin/users").get_data(as_text=True)
        clock.tick(timedelta(minutes=11))
        form = {"email": "mallory@example.com", "role": "admin", "csrf_token": csrf_token(page)}
        response = client.post("/admin/users", data=form)
        confirm_url = response.headers["Location"]
        assert confirm_url.startswith("/account/confirm")
        assert query_scalar(app, "SELECT count(*) FROM users WHERE role = 'admin'") == 1
        confirm = client.get(confirm_url).get_data(as_text=True)
        assert "To create a user, confirm it is you" in confirm
        answer = client.post(
            confirm_url,
            data={
                "password": PASSWORD,
                "code": totp_code(app, "boss@example.com"),
                "csrf_token": csrf_token(confirm),
            },
        )
        assert answer.headers["Location"] == "/admin/users"
        created = client.post("/admin/users", data=form)
        assert created.status_code == 200 and "mallory@example.com" in created.get_data(
            as_text=True
        )
        assert query_scalar(app, "SELECT count(*) FROM users WHERE role = 'admin'") == 2


@pytest.mark.parametrize("path", ["/admin/users", "/admin/limits", "/admin/templates"])
def test_AU4_forms_stay_readable_without_a_fresh_sign_in(app, client, make_user, path):
    """Only the change is guarded: a stale admin still reads the page its form is on."""
    make_user("boss@example.com", "admin")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "boss@example.com")
        clock.tick(timedelta(minutes=11))
        assert client.get(path).status_code == 200


def test_AU4_a_stale_session_cannot_put_its_own_authenticator_on_the_account(
    app, client, make_user
):
    """A session left open must not enrol an attacker's phone as the second step (the owner
    would then be locked out of their own account): set-up asks for the password too."""
    make_user("agent@example.com", "support")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "agent@example.com")
        page = client.get("/account/two-step").get_data(as_text=True)
        clock.tick(timedelta(minutes=11))
        started = client.post("/account/two-step/start", data={"csrf_token": csrf_token(page)})
        assert started.headers["Location"].startswith("/account/confirm?")
        secret = "SELECT totp_secret_encrypted FROM users WHERE email = 'agent@example.com'"
        assert query_scalar(app, secret) is None
        confirm = client.get(started.headers["Location"]).get_data(as_text=True)
        assert "To set up two-step sign-in, confirm it is you" in confirm
        answer = client.post(
            started.headers["Location"],
            data={"password": PASSWORD, "csrf_token": csrf_token(confirm)},
        )
        assert answer.headers["Location"] == "/account/two-step"
        client.post("/account/two-step/start", data={"csrf_token": csrf_token(confirm)})
        assert query_scalar(app, secret) is not None
