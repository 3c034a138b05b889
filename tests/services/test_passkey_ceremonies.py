"""Passkeys through the pages' requests (services.passkeys, auth.passkeys): what a person
sees and what is stored, with a software authenticator (support.passkey_authenticator)."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in
from support.passkey_authenticator import (
    SoftAuthenticator,
    add_passkey,
    post_json,
    sign_in_with_passkey,
    use_passkey,
)

from dashboard.models import utcnow
from dashboard.services import passkeys, runtime_settings, users


def sign_out(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})


def password_step(client, email: str):
    token = csrf_token(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})


def test_a_passkey_is_stored_with_its_details_and_listed(app, support):
    assert add_passkey(support, SoftAuthenticator(), name="  Work   laptop ").status_code == 200
    with app.app_context():
        user = users.find_by_email("agent@example.com")
        (passkey,) = user.passkeys
        assert passkey.name == "Work laptop"
        assert passkey.transports == ["internal"]
        assert passkey.user_verified and passkey.sign_count == 0
        assert len(user.webauthn_user_handle) == 32
    page = support.get("/account").text
    assert "Work laptop" in page and "not used yet" in page and "Add a passkey" in page
    assert 'aria-label="Remove the passkey Work laptop"' in page


def test_the_user_handle_stays_the_same_for_every_passkey(app, support):
    authenticator = SoftAuthenticator()
    add_passkey(support, authenticator, name="One")
    add_passkey(support, authenticator, name="Two")
    first, second = authenticator.credentials
    assert first.user_handle == second.user_handle
    options = post_json(support, "/account/passkeys/options", {"name": "Three"}, page="/account")
    assert len(options.json["excludeCredentials"]) == 2


def test_a_passkey_alone_turns_two_step_on_and_is_the_second_step(app, support):
    authenticator = SoftAuthenticator()
    add_passkey(support, authenticator)
    sign_out(support)
    response = password_step(support, "agent@example.com")
    assert response.headers["Location"].startswith("/login/two-step")
    page = support.get("/login/two-step").text
    assert "Use a passkey" in page and "6-digit code" not in page  # no app to take a code from
    answer, _, _ = use_passkey(support, authenticator, "second_step", "/login/two-step/passkey")
    assert answer.json == {"redirect": "/"}
    assert support.get("/history").status_code == 200
    assert query_scalar(app, "SELECT last_used_at IS NOT NULL FROM passkeys")


def test_a_passkey_replaces_the_code_of_an_enrolled_user(app, client, make_user):
    make_user("agent@example.com", "support", two_step=True)
    sign_in(client, "agent@example.com")
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    sign_out(client)
    password_step(client, "agent@example.com")
    page = client.get("/login/two-step").text
    assert "Use a passkey" in page and "6-digit code" in page  # either will do
    answer, _, _ = use_passkey(client, authenticator, "second_step", "/login/two-step/passkey")
    assert answer.status_code == 200


def test_another_accounts_passkey_is_no_second_step(app, client, make_user):
    make_user("agent@example.com", "support")
    make_user("other@example.com", "support")
    theirs = SoftAuthenticator()
    sign_in(client, "other@example.com")
    add_passkey(client, theirs)
    sign_out(client)
    sign_in(client, "agent@example.com")
    add_passkey(client, SoftAuthenticator())
    sign_out(client)
    password_step(client, "agent@example.com")
    options = post_json(client, "/passkeys/options", {"purpose": "second_step"})
    answer = theirs.get(options.json)
    response = post_json(client, "/login/two-step/passkey", {"credential": answer})
    assert response.status_code == 400 and "not registered" in response.json["message"]
    assert client.get("/history").status_code == 302


def test_a_passkey_is_enrolment_for_an_admin(app, client, make_user):
    make_user("boss@example.com", "admin", two_step=False)
    sign_in(client, "boss@example.com")
    assert client.get("/admin/users").headers["Location"] == "/account/two-step"
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    assert client.get("/admin/users").status_code == 200


def test_a_passkey_confirms_it_is_you(app, support):
    authenticator = SoftAuthenticator()
    add_passkey(support, authenticator, name="One")
    with freeze_time(utcnow()) as clock:
        clock.tick(timedelta(minutes=11))
        stale = post_json(support, "/account/passkeys/options", {"name": "Two"}, page="/account")
        assert stale.status_code == 302
        options = post_json(support, "/passkeys/options", {"purpose": "confirm"}, page="/account")
        body = {"credential": authenticator.get(options.json), "next": "/account/passkeys"}
        confirmed = post_json(support, "/account/passkey-confirm-typo", body, page="/account")
        assert confirmed.status_code == 404
        confirmed = post_json(support, "/account/confirm/passkey", body, page="/account")
        assert confirmed.json == {"redirect": "/account/passkeys"}
        fresh = post_json(support, "/account/passkeys/options", {"name": "Two"}, page="/account")
        assert fresh.status_code == 200


def test_the_admin_policy_is_saved_and_audited(app, client, make_user):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/settings").text
    assert "Admins must use a passkey" in page
    client.post(
        "/admin/settings", data={"passkeys_for_admins": "y", "csrf_token": csrf_token(page)}
    )
    with app.app_context():
        assert runtime_settings.passkeys_for_admins()
    assert query_scalar(
        app,
        "SELECT count(*) FROM audit_events WHERE action = 'setting.change'"
        " AND target = 'passkeys_for_admins'",
    )


def test_remove_all_is_the_way_back_for_an_admin_who_lost_theirs(app, client, make_user):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    add_passkey(client, SoftAuthenticator(), name="Lost")
    with app.app_context():
        user = users.find_by_email("boss@example.com")
        assert passkeys.remove_all(user, "command line") == 1
    assert query_scalar(app, "SELECT count(*) FROM passkeys") == 0


def test_a_sign_in_with_a_passkey_of_a_disabled_account_is_refused(app, client, make_user):
    make_user("agent@example.com", "support")
    sign_in(client, "agent@example.com")
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    sign_out(client)
    with app.app_context():
        users.set_active(users.find_by_email("agent@example.com"), False, "test")
    assert sign_in_with_passkey(client, authenticator).status_code == 400


#: The sentences of passkeys' events (for tests/services/test_audit_words.py's EXAMPLES).
