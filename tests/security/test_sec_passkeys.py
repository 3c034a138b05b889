"""Passkeys (SECURITY.md A2: AU-10 phishing-resistant passkeys checked strictly, AU-11 the admin
passkey policy): the server's checks of the WebAuthn ceremonies, against ceremony data from a
software authenticator (support.passkey_authenticator) whose every field can be wrong on
purpose."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in, totp_code
from support.passkey_authenticator import (
    SoftAuthenticator,
    add_passkey,
    post_json,
    sign_in_with_passkey,
    use_passkey,
)

from dashboard.models import utcnow
from dashboard.services import runtime_settings


@pytest.fixture
def agent(client, make_user):
    make_user("agent@example.com", "support")
    assert sign_in(client, "agent@example.com").status_code == 302
    return client


def events(app, action: str) -> int:
    return query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = :a", a=action)


def with_passkey(client) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    assert add_passkey(client, authenticator).status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    return authenticator


def test_AU10_a_passkey_signs_in_fully_and_is_audited(app, agent):
    authenticator = with_passkey(agent)
    response = sign_in_with_passkey(agent, authenticator)
    assert response.status_code == 200 and response.json == {"redirect": "/"}
    assert agent.get("/history").status_code == 200
    assert events(app, "passkey.add") == 1
    assert (
        query_scalar(
            app,
            "SELECT count(*) FROM audit_events WHERE action = 'auth.success'"
            " AND CAST(details AS TEXT) LIKE '%passkey%'",
        )
        == 1
    )


@pytest.mark.parametrize(
    "wrong",
    [
        {"origin": "http://localhost.evil.example"},
        {"origin": "https://localhost"},
        {"rp_id": "evil.example"},
    ],
)
def test_AU10_an_answer_for_another_origin_or_rp_id_is_refused(app, agent, wrong):
    authenticator = with_passkey(agent)
    response = sign_in_with_passkey(agent, authenticator, **wrong)
    assert response.status_code == 400
    assert "could not be used" in response.json["message"]
    assert agent.get("/history").status_code == 302  # not signed in


def test_AU10_a_passkey_added_for_another_origin_is_refused(app, agent):
    response = add_passkey(agent, SoftAuthenticator(), origin="http://phish.example")
    assert response.status_code == 400
    assert query_scalar(app, "SELECT count(*) FROM passkeys") == 0


@pytest.mark.parametrize(
    ("url", "trusted", "expected"),
    [
        ("https://sms.example.com:8443/", ["sms.example.com"], "https://sms.example.com:8443"),
        ("http://localhost:5000/", None, "http://localhost:5000"),
        ("https://other.example.com/", ["sms.example.com"], None),
        ("http://127.0.0.1:5000/", None, None),
    ],
)
def test_AU10_the_relying_party_is_the_trusted_host_name(app, url, trusted, expected):
    """Flask itself refuses a Host outside TRUSTED_HOSTS (SecurityError, a 400); the service
    checks again, and refuses an IP address, which cannot be a WebAuthn rp id."""
    from werkzeug.exceptions import SecurityError

    from dashboard.services import passkeys

    app.config["TRUSTED_HOSTS"] = trusted
    with app.test_request_context(url):
        if expected is None:
            with pytest.raises((passkeys.PasskeyError, SecurityError)):
                passkeys.relying_party()
        else:
            party = passkeys.relying_party()
            assert party.origin == expected
            assert party.id == expected.split("//")[1].split(":")[0]


def test_AU10_a_challenge_answers_once(app, agent):
    """Even a refused answer uses the challenge up; and signing in starts a new session, so
    an answer that signed in cannot be replayed either."""
    authenticator = with_passkey(agent)
    options = post_json(agent, "/passkeys/options", {"purpose": "sign_in"}).json
    broken = post_json(
        agent, "/login/passkey", {"credential": authenticator.get(options, tamper=True)}
    )
    assert broken.status_code == 400
    retried = post_json(agent, "/login/passkey", {"credential": authenticator.get(options)})
    assert retried.status_code == 400
    assert "took too long, or the page was used twice" in retried.json["message"]
    response, _, answer = use_passkey(agent, authenticator, "sign_in", "/login/passkey")
    assert response.status_code == 200
    agent.post("/logout", data={"csrf_token": csrf_token(agent.get("/account").text)})
    replayed = post_json(agent, "/login/passkey", {"credential": answer})
    assert replayed.status_code == 400


def test_AU10_an_answer_with_a_copy_of_the_older_session_cookie_is_refused(app, agent):
    """The session is a signed cookie: taking the challenge out of it is no defence against a
    copy of the cookie from before. A passkey whose counter stays at zero (synced passkeys')
    must still not sign in twice with one answer."""
    authenticator = with_passkey(agent)
    options = post_json(agent, "/passkeys/options", {"purpose": "sign_in"}).json
    before = agent.get_cookie("session").value
    answer = authenticator.get(options, counter=0)
    assert post_json(agent, "/login/passkey", {"credential": answer}).status_code == 200
    agent.post("/logout", data={"csrf_token": csrf_token(agent.get("/account").text)})
    agent.set_cookie("session", before)
    replayed = post_json(agent, "/login/passkey", {"credential": answer})
    assert replayed.status_code == 400
    assert "took too long, or the page was used twice" in replayed.json["message"]
    assert agent.get("/history").status_code == 302  # not signed in


def test_AU10_a_challenge_expires(app, agent):
    authenticator = with_passkey(agent)
    with freeze_time(utcnow()) as clock:
        options = post_json(agent, "/passkeys/options", {"purpose": "sign_in"})
        clock.tick(timedelta(minutes=4))
        late = post_json(agent, "/login/passkey", {"credential": authenticator.get(options.json)})
    assert late.status_code == 400 and "took too long" in late.json["message"]


def test_AU10_a_challenge_is_bound_to_its_session(app, agent):
    authenticator = with_passkey(agent)
    options = post_json(agent, "/passkeys/options", {"purpose": "sign_in"})
    other = app.test_client()
    stolen = post_json(other, "/login/passkey", {"credential": authenticator.get(options.json)})
    assert stolen.status_code == 400
    assert other.get("/history").status_code == 302


def test_AU10_a_counter_that_does_not_grow_is_refused_and_audited(app, agent):
    authenticator = with_passkey(agent)
    assert sign_in_with_passkey(agent, authenticator, counter=5).status_code == 200
    agent.post("/logout", data={"csrf_token": csrf_token(agent.get("/account").text)})
    cloned = sign_in_with_passkey(agent, authenticator, counter=5)
    assert cloned.status_code == 400 and "counter" in cloned.json["message"]
    assert events(app, "passkey.cloned") == 1
    assert agent.get("/history").status_code == 302


def test_AU10_a_bad_signature_is_refused(app, agent):
    authenticator = with_passkey(agent)
    response = sign_in_with_passkey(agent, authenticator, tamper=True)
    assert response.status_code == 400
    assert events(app, "passkey.cloned") == 0
    assert query_scalar(app, "SELECT sign_count FROM passkeys") == 0


def test_AU10_passwordless_sign_in_needs_user_verification(app, agent):
    authenticator = with_passkey(agent)
    authenticator.user_verified = False
    assert sign_in_with_passkey(agent, authenticator).status_code == 400


def test_AU10_a_removed_passkey_no_longer_signs_in(app, agent):
    authenticator = with_passkey(agent)
    assert sign_in_with_passkey(agent, authenticator).status_code == 200
    passkey_id = query_scalar(app, "SELECT id FROM passkeys")
    token = csrf_token(agent.get("/account").text)
    for wrong in ("", "x", "99999999999999999999999", str(passkey_id + 1)):
        agent.post("/account/passkeys/remove", data={"passkey": wrong, "csrf_token": token})
    assert query_scalar(app, "SELECT count(*) FROM passkeys") == 1
    agent.post("/account/passkeys/remove", data={"passkey": passkey_id, "csrf_token": token})
    assert events(app, "passkey.remove") == 1
    agent.post("/logout", data={"csrf_token": csrf_token(agent.get("/account").text)})
    response = sign_in_with_passkey(agent, authenticator)
    assert response.status_code == 400 and "not registered here" in response.json["message"]


def test_AU10_anonymous_refusals_do_not_grow_the_audit_log(app, agent):
    authenticator = with_passkey(agent)
    stranger = SoftAuthenticator()
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})
    before = query_scalar(app, "SELECT count(*) FROM audit_events")
    for _ in range(5):
        assert sign_in_with_passkey(agent, stranger).status_code == 400
    assert query_scalar(app, "SELECT count(*) FROM audit_events") - before <= 1
    assert authenticator.credentials  # the real one is untouched


def test_AU10_adding_and_removing_need_a_fresh_sign_in(app, agent):
    with freeze_time(utcnow()) as clock:
        clock.tick(timedelta(minutes=11))
        response = post_json(agent, "/account/passkeys/options", {"name": "x"}, page="/account")
        assert response.status_code == 302 and "/account/confirm" in response.headers["Location"]
    assert query_scalar(app, "SELECT count(*) FROM passkeys") == 0


def test_AU10_a_passkey_name_is_required_short_and_unique(app, agent):
    authenticator = SoftAuthenticator()
    for name, message in [
        ("   ", "Give the passkey a name"),
        ("\u200b", "Give the passkey a name"),
        ("x" * 65, "at most 64"),
    ]:
        response = add_passkey(agent, authenticator, name=name)
        assert response.status_code == 400 and message in response.json["message"]
    assert add_passkey(agent, authenticator, name="Phone").status_code == 200
    again = add_passkey(agent, authenticator, name="phone")
    assert again.status_code == 400 and "already have" in again.json["message"]


def test_AU10_the_user_handle_is_random_not_the_id_or_email(app, agent):
    options = post_json(agent, "/account/passkeys/options", {"name": "Phone"}, page="/account")
    handle = options.json["user"]["id"]
    assert "agent" not in handle and len(handle) >= 40
    assert options.json["authenticatorSelection"]["residentKey"] == "preferred"


@pytest.mark.parametrize(
    "body", [None, [], {"credential": "x"}, {"credential": {"id": 1}}, {"purpose": "add"}]
)
def test_AU10_nonsense_is_a_clear_400_never_a_500(app, agent, body):
    for url in ("/passkeys/options", "/login/passkey", "/login/two-step/passkey"):
        response = post_json(agent, url, body, page="/account")  # type: ignore[arg-type]
        assert response.status_code == 400 and response.json["message"]


# -- AU-11: admins must use a passkey ----------------------------------------------------------


def turn_on_passkeys_for_admins(app) -> None:
    with app.app_context():
        runtime_settings.require_passkeys_for_admins(True, "test")


def test_AU11_an_admin_without_a_passkey_is_sent_to_add_one(app, client, make_user):
    make_user("boss@example.com", "admin")
    turn_on_passkeys_for_admins(app)
    assert sign_in(client, "boss@example.com").status_code == 302
    response = client.get("/admin/users")
    assert response.status_code == 302 and response.headers["Location"] == "/account/passkeys"
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    assert client.get("/admin/users").status_code == 200


def test_AU11_a_new_admin_may_enrol_with_a_passkey_instead_of_the_app(app, client, make_user):
    make_user("newboss@example.com", "admin", two_step=False)
    assert sign_in(client, "newboss@example.com").status_code == 302
    assert client.get("/admin/users").headers["Location"] == "/account/two-step"
    enrolment = client.get("/account/two-step").get_data(as_text=True)
    assert 'href="/account/passkeys">Add a passkey</a>' in enrolment
    assert "after your password" not in enrolment  # an account from single sign-on has none
    own_page = client.get("/account/passkeys").get_data(as_text=True)
    assert own_page.count(">Passkeys</h") == 1  # one heading, not the section's again
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    assert client.get("/admin/users").status_code == 200


def test_AU11_an_admins_totp_code_is_refused_once_they_have_a_passkey(app, client, make_user):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    authenticator = SoftAuthenticator()
    assert add_passkey(client, authenticator).status_code == 200
    turn_on_passkeys_for_admins(app)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    token = csrf_token(client.get("/login").text)
    client.post(
        "/login", data={"email": "boss@example.com", "password": PASSWORD, "csrf_token": token}
    )
    page = client.get("/login/two-step").text
    assert "Use a passkey" in page and "codes from the app are not accepted" in page
    with freeze_time(utcnow() + timedelta(seconds=90)):  # a step the code was not used in
        refused = client.post(
            "/login/two-step",
            data={
                "code": totp_code(app, "boss@example.com"),
                "csrf_token": csrf_token(client.get("/login").text),
            },
        )
    assert refused.status_code == 200
    assert events(app, "auth.refused_passkey_required") == 1
    assert client.get("/admin/users").status_code == 302  # not signed in
    response, _, _ = use_passkey(client, authenticator, "second_step", "/login/two-step/passkey")
    assert response.status_code == 200 and response.json == {"redirect": "/"}
    assert client.get("/admin/users").status_code == 200


def test_AU11_the_policy_is_only_for_admins(app, agent):
    turn_on_passkeys_for_admins(app)
    assert agent.get("/history").status_code == 200
