"""Access control (SECURITY.md A5): deny by default, a roles x routes matrix, object-level
rules, refusals logged and audited, failing closed."""

from __future__ import annotations

import logging

import pytest
from support import csrf_token, example_url, query_scalar, sign_in

ALL = frozenset({"support", "auditor", "admin"})
SENDERS = frozenset({"support", "admin"})
ADMIN = frozenset({"admin"})
READERS = frozenset({"auditor", "admin"})
PUBLIC = {
    "auth.login",
    "auth.second_step",
    "auth.passkey_options",
    "auth.passkey_sign_in",
    "auth.passkey_second_step",
    "auth.sso_start",  # single sign-on's way there and back (test_sec_single_sign_on.py)
    "auth.sso_callback",
    "main.healthz",
    "main.readyz",
    "main.metrics",  # for machines, with a bearer token of its own (tests/test_metrics.py)
    "static",
    "bootstrap.static",
}
#: Who may use each endpoint: written here independently of the code, so a route added without
#: a decision (or with the wrong one) fails the matrix.
EXPECTED = {
    "main.index": ALL,
    "auth.logout": ALL,
    "auth.account": ALL,
    "auth.sign_out_everywhere": ALL,
    "auth.change_password": ALL,
    "auth.two_step_setup": ALL,
    "auth.two_step_start": ALL,
    "auth.two_step_qr": ALL,
    "auth.reauthenticate": ALL,
    "auth.passkeys": ALL,
    "auth.passkey_add_options": ALL,
    "auth.passkey_add": ALL,
    "auth.passkey_remove": ALL,
    "auth.passkey_confirm": ALL,
    "sms.send": SENDERS,
    "sms.resend": SENDERS,
    "sms.check": SENDERS,
    "sms.attempt": ALL,
    "history.index": ALL,
    "history.export": READERS,
    "history.export_manifest": READERS,
    "audit.index": READERS,
    "sms.reveal": SENDERS,
    "admin.index": ADMIN,
    "admin.users_list": ADMIN,
    "admin.user_detail": ADMIN,
    "admin.change_role": ADMIN,
    "admin.disable": ADMIN,
    "admin.enable": ADMIN,
    "admin.reset_two_step": ADMIN,
    "admin.reset_password": ADMIN,
    "admin.sign_out_everywhere": ADMIN,
    "admin.settings": ADMIN,
    "admin.save_settings": ADMIN,
    "admin.limits_page": ADMIN,
    "admin.templates_page": ADMIN,
    "admin.template_action": ADMIN,
    "admin.edit_template": ADMIN,
    "admin.provider": ADMIN,
    "admin.save_credentials": ADMIN,
    "admin.generate_key": ADMIN,
    "admin.public_key": ADMIN,
    "admin.test_connection": ADMIN,
    "admin.switch": ADMIN,
}
#: Requests that end the session: made last.
SESSION_ENDING = {"auth.logout", "auth.sign_out_everywhere"}


def requests_to_make(app):
    rules = sorted(app.url_map.iter_rules(), key=lambda rule: rule.endpoint in SESSION_ENDING)
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, example_url(rule)


def test_AC1_every_route_has_a_decision(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - PUBLIC == set(EXPECTED), "a route without an access decision"


def test_AC1_deny_by_default_for_anonymous(app, client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    checked = 0
    for rule, method, url in requests_to_make(app):
        if rule.endpoint in PUBLIC:
            continue
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login"), (method, url)
        checked += 1
    assert checked >= len(EXPECTED)


@pytest.mark.parametrize("role", ["support", "auditor", "admin"])
def test_AC2_roles_by_routes_matrix(app, client, make_user, role):
    make_user("target@example.com", "support")  # user 1: the object of admin actions
    make_user("other-admin@example.com", "admin")  # so the last admin is never removed
    make_user(f"{role}@example.com", role)
    assert sign_in(client, f"{role}@example.com").status_code == 302
    token = csrf_token(client.get("/account").get_data(as_text=True))
    for rule, method, url in requests_to_make(app):
        if rule.endpoint in PUBLIC:
            continue
        response = client.open(url, method=method, data={"csrf_token": token})
        location = response.headers.get("Location", "")
        if role in EXPECTED[rule.endpoint]:
            assert response.status_code != 403, (role, method, url)
            if rule.endpoint not in SESSION_ENDING:
                assert not location.startswith("/login"), (role, method, url)
        else:
            assert response.status_code == 403, (role, method, url)


def test_AC3_support_sees_only_the_last_digits_of_others_attempts(app, client, make_user):
    from test_history import add_attempt

    make_user("agent@example.com", "support")
    make_user("other@example.com", "support")
    add_attempt(app, "other@example.com", "163877652")
    add_attempt(app, "agent@example.com", "123456789")
    ids = [query_scalar(app, "SELECT public_id FROM attempts WHERE id = :id", id=n) for n in (1, 2)]
    sign_in(client, "agent@example.com")
    others = client.get(f"/attempts/{ids[0]}").get_data(as_text=True)
    assert "+60 •••••7652" in others and "387 7652" not in others
    own = client.get(f"/attempts/{ids[1]}").get_data(as_text=True)
    assert "+60 12-345 6789" in own


def test_AC4_access_control_fails_closed(app, client, make_user, monkeypatch):
    from dashboard.services import users

    make_user("agent@example.com", "support")
    sign_in(client, "agent@example.com")

    def broken(user):
        raise RuntimeError("role store unavailable")

    monkeypatch.setattr(users, "two_step_required", broken)
    response = client.get("/send")
    assert response.status_code == 500
    assert "Send a verification code" not in response.get_data(as_text=True)


def test_AC5_refusals_are_logged_and_audited(app, client, make_user, caplog):
    user_id = make_user("auditor@example.com", "auditor")
    sign_in(client, "auditor@example.com")
    with caplog.at_level(logging.WARNING, logger="dashboard.security"):
        assert client.get("/admin/users").status_code == 403
    denied = [r for r in caplog.records if r.getMessage() == "authz.denied"]
    assert len(denied) == 1
    assert denied[0].user_id == user_id and denied[0].endpoint == "admin.users_list"
    row = query_scalar(
        app,
        "SELECT target FROM audit_events WHERE action = 'access.denied' AND actor_id = :id",
        id=user_id,
    )
    assert row == "/admin/users"
