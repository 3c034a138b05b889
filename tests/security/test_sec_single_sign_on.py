"""Single sign-on with OpenID Connect (issue 19; SECURITY.md A2: AU-5 to AU-9, A3: SE-8),
against real providers over HTTP: oidc-provider-mock for what a provider does, and a
forging provider of the tests' own for what a trustworthy one never sends."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import RSAKey
from support import base_config, csrf_token, query_scalar, totp_code
from support.single_sign_on import (
    CLIENT_ID,
    back_from,
    forged_sign_in,
    forging_provider,
    mock_provider,
    sso_config,
    sso_sign_in,
    start,
)

from dashboard import create_app
from dashboard.extensions import db
from dashboard.services import users
from dashboard.services.single_sign_on import MESSAGES


@pytest.fixture(scope="module")
def provider():
    with mock_provider() as running:
        yield running


@pytest.fixture(scope="module")
def forger():
    with forging_provider() as running:
        yield running


@pytest.fixture
def sso_settings() -> dict[str, object]:
    """Settings a test adds (``@pytest.mark.parametrize("sso_settings", [...])``)."""
    return {}


@pytest.fixture
def issuer(provider) -> str:
    """The provider the application signs in through: the mock, unless a test says."""
    return provider.url


@pytest.fixture
def app(database, simulator, tmp_path: Path, issuer, sso_settings, forger):
    """conftest's application, with single sign-on through ``issuer``."""
    forger.reset()
    config = base_config(database.fresh(tmp_path), simulator.url, tmp_path / "instance")
    app = create_app({**config, **sso_config(issuer, **sso_settings)})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def user_of(app, email: str):
    with app.app_context():
        return users.find_by_email(email)


def events(app, action: str) -> list[dict]:
    with app.app_context():
        from sqlalchemy import select

        from dashboard.models import AuditEvent

        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [{"actor": e.actor_label, "target": e.target, **(e.details or {})} for e in rows]


# -- AU-5: the protocol: code flow with PKCE, state, nonce; the ID token verified ---------------


def test_AU5_the_authorization_request_has_pkce_state_nonce_and_the_scopes(client, provider):
    url = start(client)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(provider.url + "/oauth2/authorize?")
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20
    assert set(query["scope"].split()) >= {"openid", "email", "profile"}
    assert query["redirect_uri"] == "http://localhost/login/sso/callback"


@pytest.fixture
def forged_app(database, simulator, tmp_path: Path, forger, sso_settings):
    """An application that signs in through the forging provider."""
    forger.reset()
    config = base_config(database.fresh(tmp_path), simulator.url, tmp_path / "instance")
    app = create_app({**config, **sso_config(forger.url, **sso_settings)})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_AU5_an_honest_forger_token_signs_in_with_pkce_checked(forged_app, forger):
    client = forged_app.test_client()
    answer = forged_sign_in(client)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert forger.pkce_checked[-1] is True  # S256 verifier matched the challenge
    assert user_of(forged_app, "forged@example.com").role == "admin"


def refused_page(answer, status: int, reason: str) -> None:
    page = answer.get_data(as_text=True)
    assert answer.status_code == status, page
    assert MESSAGES[reason].split("{")[0][:40] in page.replace("&#39;", "'")
    assert 'href="/login"' in page  # a way back to sign in


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sign_with": "other key"}, "token_invalid"),
        ({"extra": {"aud": "another-client", "azp": CLIENT_ID}}, "token_invalid"),
        ({"extra": {"aud": ["another-client"]}}, "token_invalid"),
        (
            {"extra": {"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}},
            "token_invalid",
        ),
        ({"extra": {"nonce": "not-the-one-sent"}}, "token_invalid"),
        ({"extra": {"iss": "https://evil.example.com"}}, "token_invalid"),
        ({"issuer_in_discovery": "https://evil.example.com"}, "unreachable"),
    ],
    ids=["signature", "audience", "audience-list", "expired", "nonce", "issuer", "discovery"],
)
def test_AU5_an_id_token_that_fails_verification_is_refused(forged_app, forger, change, reason):
    if "sign_with" in change:
        forger.sign_with = RSAKey.generate_key(2048, {"kid": "k1"})
    forger.extra = change.get("extra", {})
    forger.issuer_in_discovery = change.get("issuer_in_discovery")
    client = forged_app.test_client()
    if reason == "unreachable":  # refused before the browser goes anywhere
        token = csrf_token(client.get("/login").get_data(as_text=True))
        answer = client.post("/login/sso", data={"csrf_token": token})
        refused_page(answer, 502, reason)
    else:
        refused_page(forged_sign_in(client), 403, reason)
    assert user_of(forged_app, "forged@example.com") is None
    assert client.get("/").status_code == 302  # not signed in
    assert [e["reason"] for e in events(forged_app, "sso.refused")] == [reason]


def test_AU5_a_callback_without_the_state_it_started_is_refused(client, app, provider):
    provider.staff("mallory", "mallory@example.com", "sms-admins")
    callback = provider.authorize(start(client), "mallory")
    victim = app.test_client()  # another browser, which never started this sign-in
    refused_page(back_from(victim, callback), 400, "state")
    replayed = callback.replace("state=", "state=x")
    refused_page(back_from(client, replayed), 400, "state")
    assert user_of(app, "mallory@example.com") is None


def test_AU5_anonymous_refusals_are_counted_not_each_recorded(client, app):
    for _ in range(5):
        assert client.get("/login/sso/callback?code=x&state=y").status_code == 400
    assert len(events(app, "sso.refused")) == 1
    assert query_scalar(app, "SELECT count FROM audit_repeats") == 4


def test_AU5_abandoned_sign_ins_do_not_grow_the_session(client, provider):
    start(client)
    size = len(client.get_cookie("session").value)
    for _ in range(20):
        start(client)
    assert len(client.get_cookie("session").value) <= size + 20  # one sign-in in flight


def test_AU5_the_person_declining_at_the_provider_is_a_clear_page(client, app, provider):
    callback = provider.authorize(start(client), "someone", deny=True)
    answer = back_from(client, callback)
    refused_page(answer, 403, "declined")
    assert "access_denied" in answer.get_data(as_text=True)


def test_AU5_an_error_sent_in_a_link_shows_no_free_text(client):
    answer = client.get("/login/sso/callback?error=Call+%2B1-555-0100+now&state=x")
    assert answer.status_code == 502 and "555" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:9"])
def test_AU5_a_provider_that_cannot_be_reached_is_a_clear_page(client, app):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    answer = client.post("/login/sso", data={"csrf_token": token})
    refused_page(answer, 502, "unreachable")
    assert [e["reason"] for e in events(app, "sso.refused")] == ["unreachable"]


def test_AU5_the_page_asked_for_is_reached_after_the_round_trip(client, provider):
    provider.staff("siti", "siti@example.com", "sms-auditors")
    answer = sso_sign_in(client, provider, "siti", next_url="/history?q=1")
    assert answer.status_code == 302 and answer.headers["Location"] == "/history?q=1"
    elsewhere = sso_sign_in(client.application.test_client(), provider, "siti", "//evil.com")
    assert elsewhere.headers["Location"] == "/"  # never another site


# -- AU-6: who may enter --------------------------------------------------------------------


def test_AU6_a_first_sign_in_creates_the_account_with_its_role_and_no_usable_password(
    client, app, provider
):
    provider.staff("aisyah", "Aisyah@Example.com", "sms-support", name="Aisyah Rahman")
    answer = sso_sign_in(client, provider, "aisyah")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    user = user_of(app, "aisyah@example.com")
    assert (user.role, user.name, user.sso_subject, user.sso_issuer) == (
        "support",
        "Aisyah Rahman",
        "aisyah",
        provider.url,
    )
    assert not user.must_change_password and user.password_hash.startswith("$argon2id$")
    assert events(app, "sso.account_create") == [
        {
            "actor": "single sign-on",
            "target": "aisyah@example.com",
            "role": "support",
            "issuer": provider.url,
        }
    ]
    assert [e["step"] for e in events(app, "auth.success")] == ["single_sign_on"]


def test_AU6_the_highest_mapped_role_wins(client, app, provider):
    provider.staff("ravi", "ravi@example.com", "unrelated", "sms-auditors", "sms-support")
    assert sso_sign_in(client, provider, "ravi").status_code == 302
    assert user_of(app, "ravi@example.com").role == "auditor"


@pytest.mark.parametrize("verified", [False, "true", None])
def test_AU6_an_email_that_is_not_verified_is_refused(client, app, provider, verified):
    claims = {"email": "lee@example.com", "groups": ["sms-support"]}
    if verified is not None:
        claims["email_verified"] = verified
    provider.set_user("lee", **claims)
    refused_page(sso_sign_in(client, provider, "lee"), 403, "email_unverified")
    assert user_of(app, "lee@example.com") is None


@pytest.mark.parametrize("sso_settings", [{"OIDC_EMAIL_VERIFIED_CLAIM": "xms_edov"}])
def test_AU6_the_claim_that_verifies_the_email_is_a_setting(client, app, provider):
    """Entra ID sends no email_verified for work accounts; its xms_edov can stand in."""
    provider.set_user("entra", email="e@example.com", email_verified=True, groups=["sms-support"])
    refused_page(sso_sign_in(client, provider, "entra"), 403, "email_unverified")
    provider.set_user("entra", email="e@example.com", xms_edov=True, groups=["sms-support"])
    assert sso_sign_in(client, provider, "entra").status_code == 302


def test_AU6_an_identity_in_no_mapped_group_is_refused(client, app, provider):
    provider.staff("tan", "tan@example.com", "sales")
    refused_page(sso_sign_in(client, provider, "tan"), 403, "unmapped")
    assert user_of(app, "tan@example.com") is None
    assert client.get("/").status_code == 302
    assert [e["email"] for e in events(app, "sso.refused")] == ["tan@example.com"]


def test_AU6_an_existing_account_is_matched_by_email_and_tied_to_the_identity(
    client, app, provider, make_user
):
    make_user("wong@example.com", "auditor")
    provider.staff("wong-1", "wong@example.com", "sms-auditors")
    assert sso_sign_in(client, provider, "wong-1").status_code == 302
    user = user_of(app, "wong@example.com")
    assert (user.sso_issuer, user.sso_subject) == (provider.url, "wong-1")
    assert [e["target"] for e in events(app, "sso.link")] == ["wong@example.com"]
    assert events(app, "sso.account_create") == []


def test_AU6_the_same_email_from_another_identity_is_refused(client, app, provider, make_user):
    provider.staff("first", "kumar@example.com", "sms-support")
    assert sso_sign_in(client, provider, "first").status_code == 302
    provider.staff("second", "kumar@example.com", "sms-admins")
    other = app.test_client()
    refused_page(sso_sign_in(other, provider, "second"), 403, "other_identity")
    user = user_of(app, "kumar@example.com")
    assert (user.sso_subject, user.role) == ("first", "support")
    assert other.get("/").status_code == 302


def test_AU6_a_disabled_account_is_refused(client, app, provider, make_user):
    make_user("gone@example.com", "support")
    with app.app_context():
        users.set_active(users.find_by_email("gone@example.com"), False, "test")
    provider.staff("gone", "gone@example.com", "sms-support")
    refused_page(sso_sign_in(client, provider, "gone"), 403, "disabled")
    assert client.get("/").status_code == 302


# -- AU-7: the role follows the provider -----------------------------------------------------


def test_AU7_a_role_change_at_the_provider_applies_at_the_next_sign_in(client, app, provider):
    provider.staff("mei", "mei@example.com", "sms-support")
    assert sso_sign_in(client, provider, "mei").status_code == 302
    provider.staff("mei", "mei@example.com", "sms-auditors")
    assert client.get("/audit").status_code == 403  # the old session keeps the old role...
    later = app.test_client()
    assert sso_sign_in(later, provider, "mei").status_code == 302
    assert user_of(app, "mei@example.com").role == "auditor"
    assert later.get("/audit").status_code == 200
    assert client.get("/").status_code == 302  # ...until the change ends it
    assert events(app, "sso.role_change") == [
        {"actor": "single sign-on", "target": "mei@example.com", "old": "support", "new": "auditor"}
    ]


def test_AU7_an_identity_that_no_longer_maps_is_refused_and_its_sessions_end(client, app, provider):
    provider.staff("leaver", "leaver@example.com", "sms-support")
    assert sso_sign_in(client, provider, "leaver").status_code == 302
    assert client.get("/").status_code == 200
    provider.staff("leaver", "leaver@example.com")  # removed from every group
    refused_page(sso_sign_in(app.test_client(), provider, "leaver"), 403, "unmapped")
    assert client.get("/").status_code == 302  # the earlier session ended
    refusal = events(app, "sso.refused")[-1]
    assert (refusal["target"], refusal["reason"], refusal["sessions_ended"]) == (
        "leaver@example.com",
        "unmapped",
        True,
    )


# -- AU-8: the second step after single sign-on ----------------------------------------------


def second_step(client, answer, email):
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login/two-step")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    code = totp_code(client.application, email)
    return client.post(
        answer.headers["Location"], data={"code": code, "csrf_token": csrf_token(page)}
    )


def test_AU8_an_admin_passes_the_second_step_after_single_sign_on(client, app, provider, make_user):
    make_user("boss@example.com", "admin")  # enrolled in two-step
    provider.staff("boss", "boss@example.com", "sms-admins", amr=["pwd", "mfa"])
    answer = sso_sign_in(client, provider, "boss", next_url="/admin/users")
    assert client.get("/admin/users").status_code == 302  # not signed in yet
    done = second_step(client, answer, "boss@example.com")
    assert done.status_code == 302 and done.headers["Location"] == "/admin/users"
    assert client.get("/admin/users").status_code == 200


def test_AU8_a_new_admin_is_sent_to_enrol_in_two_step(client, app, provider):
    provider.staff("newboss", "newboss@example.com", "sms-admins")
    assert sso_sign_in(client, provider, "newboss").status_code == 302
    assert client.get("/admin/users").headers["Location"] == "/account/two-step"


@pytest.mark.parametrize("sso_settings", [{"OIDC_TRUST_MFA": "on"}])
def test_AU8_trusted_mfa_asserted_by_the_provider_replaces_the_second_step(
    client, app, provider, make_user
):
    make_user("chief@example.com", "admin")
    provider.staff("chief", "chief@example.com", "sms-admins", amr=["pwd", "mfa"])
    answer = sso_sign_in(client, provider, "chief")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert client.get("/admin/users").status_code == 200
    provider.staff("chief", "chief@example.com", "sms-admins", amr=["pwd"])
    assert (
        "/login/two-step" in sso_sign_in(app.test_client(), provider, "chief").headers["Location"]
    )


@pytest.mark.parametrize("sso_settings", [{"OIDC_TRUST_MFA": "on", "OIDC_MFA_ACR": "gold"}])
def test_AU8_a_configured_acr_counts_as_mfa(client, app, provider, make_user):
    make_user("acr@example.com", "admin")
    provider.staff("acr", "acr@example.com", "sms-admins", acr="gold")
    assert sso_sign_in(client, provider, "acr").headers["Location"] == "/"
    provider.staff("acr", "acr@example.com", "sms-admins", acr="silver")
    assert "/login/two-step" in sso_sign_in(app.test_client(), provider, "acr").headers["Location"]


# -- SE-8: sessions ------------------------------------------------------------------------


def test_SE8_a_sign_in_starts_a_new_session_and_sign_out_ends_it_at_the_provider(
    client, app, provider
):
    provider.staff("nur", "nur@example.com", "sms-support")
    before = csrf_token(client.get("/login").get_data(as_text=True))
    assert sso_sign_in(client, provider, "nur").status_code == 302
    page = client.get("/").get_data(as_text=True)
    token = csrf_token(page)
    assert token != before  # a new session: nothing from before (SE-2)
    cookie = client.get_cookie("session").value
    answer = client.post("/logout", data={"csrf_token": token})
    assert answer.status_code == 302
    out = urlsplit(answer.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(out.query).items()}
    assert f"{out.scheme}://{out.netloc}{out.path}" == provider.url + "/oauth2/end_session"
    assert query["post_logout_redirect_uri"] == "http://localhost/login"
    assert query["id_token_hint"].count(".") == 2 and query["client_id"] == CLIENT_ID
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/").status_code == 302  # the old cookie no longer signs in (SE-3)
    # The provider itself accepts the hint and sends the browser back to the sign-in page.
    confirm = requests.get(answer.headers["Location"], timeout=5)
    assert confirm.status_code == 200 and "http://localhost/login" in confirm.text


def enrol_after_single_sign_on(client) -> None:
    """A new admin's first sign-in: two-step enrolment, which restarts the session."""
    import pyotp

    page = client.get("/account/two-step").get_data(as_text=True)
    client.post("/account/two-step/start", data={"csrf_token": csrf_token(page)})
    page = client.get("/account/two-step").get_data(as_text=True)
    secret = re.search(r"data-two-step-secret>([A-Z2-7]+)<", page).group(1)
    code = pyotp.TOTP(secret).now()
    answer = client.post("/account/two-step", data={"code": code, "csrf_token": csrf_token(page)})
    assert "shown only now" in answer.get_data(as_text=True)


@pytest.mark.parametrize("way", ["code", "passkey", "enrolment"])
def test_SE8_sign_out_after_single_sign_on_and_a_second_step_ends_it_at_the_provider(
    client, app, provider, make_user, way
):
    """However the sign-in ends (a code, a passkey, or enrolling in two-step, which starts the
    session again), signing out still ends it at the provider."""
    from support import sign_in
    from support.passkey_authenticator import SoftAuthenticator, add_passkey, use_passkey

    if way == "enrolment":
        provider.staff("newchief", "newchief@example.com", "sms-admins")
        assert sso_sign_in(client, provider, "newchief").headers["Location"] == "/"
        enrol_after_single_sign_on(client)
        token = csrf_token(client.get("/").get_data(as_text=True))
        out = client.post("/logout", data={"csrf_token": token}).headers["Location"]
        assert out.startswith(provider.url + "/oauth2/end_session?")
        return
    make_user("chief@example.com", "admin")  # enrolled in two-step
    authenticator = SoftAuthenticator()
    if way == "passkey":
        assert sign_in(client, "chief@example.com").status_code == 302
        assert add_passkey(client, authenticator).status_code == 200
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    provider.staff("chief", "chief@example.com", "sms-admins")
    answer = sso_sign_in(client, provider, "chief")
    if way == "code":
        assert second_step(client, answer, "chief@example.com").status_code == 302
    else:
        page = answer.headers["Location"]
        url = "/login/two-step/passkey"
        done, _, _ = use_passkey(client, authenticator, "second_step", url, page=page)
        assert done.status_code == 200, done.get_data(as_text=True)
    how = query_scalar(
        app, "SELECT details FROM audit_events WHERE action = 'auth.success' ORDER BY id DESC"
    )
    how = json.loads(how) if isinstance(how, str) else how
    assert how == {
        "step": "two_step" if way == "code" else "passkey",
        "first_step": "single_sign_on",
    }
    token = csrf_token(client.get("/").get_data(as_text=True))
    out = client.post("/logout", data={"csrf_token": token}).headers["Location"]
    assert out.startswith(provider.url + "/oauth2/end_session?")
    assert "id_token_hint=" in out


def test_SE8_sign_out_after_a_password_sign_in_stays_here(client, app, make_user):
    from support import sign_in

    make_user("pw@example.com", "support")
    assert sign_in(client, "pw@example.com").status_code == 302
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).headers["Location"] == "/login"


# -- AU-9: passwords off -------------------------------------------------------------------


@pytest.mark.parametrize("sso_settings", [{"PASSWORD_SIGN_IN": "off"}])
def test_AU9_with_passwords_off_only_single_sign_on_signs_in(client, app, provider, make_user):
    make_user("old@example.com", "support")
    page = client.get("/login").get_data(as_text=True)
    assert 'name="password"' not in page and "Sign in with single sign-on" in page
    from support import PASSWORD

    answer = client.post(
        "/login",
        data={"email": "old@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert answer.status_code == 403 and "turned off" in answer.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert events(app, "auth.failure") == [] and events(app, "auth.success") == []
    provider.staff("old", "old@example.com", "sms-support")
    assert sso_sign_in(client, provider, "old").status_code == 302
    assert client.get("/").status_code == 200
    assert "Change password" not in client.get("/account").get_data(as_text=True)  # no use


def test_AU9_without_single_sign_on_the_button_is_absent(database, simulator, tmp_path):
    app = create_app(base_config(database.fresh(tmp_path), simulator.url, tmp_path / "i"))
    client = app.test_client()
    assert "single sign-on" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/sso/callback").status_code == 404
    with app.app_context():
        db.engine.dispose()


def test_AU5_the_sign_in_form_may_reach_the_provider_under_the_csp(client, provider):
    policy = client.get("/login").headers["Content-Security-Policy"]
    assert f"form-action 'self' {provider.url}" in policy


def test_AU5_the_button_is_rate_limited_like_the_other_sign_in_forms(
    database, simulator, tmp_path, provider
):
    config = base_config(database.fresh(tmp_path), simulator.url, tmp_path / "i")
    app = create_app({**config, **sso_config(provider.url), "RATELIMIT_ENABLED": True})
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    codes = [client.post("/login/sso", data={"csrf_token": token}).status_code for _ in range(31)]
    assert codes[:30] == [302] * 30 and codes[30] == 429
    with app.app_context():
        db.engine.dispose()


def test_AU5_no_token_or_secret_reaches_the_log_or_the_audit(client, app, provider, caplog):
    provider.staff("safe", "safe@example.com", "sms-support")
    caplog.set_level("DEBUG")
    assert sso_sign_in(client, provider, "safe").status_code == 302
    everything = caplog.text + json.dumps(
        events(app, "auth.success") + events(app, "sso.account_create")
    )
    assert "eyJ" not in everything  # no JWT
    assert "client-secret-of-the-dashboard" not in everything


CALLBACK_PARAMETERS = st.dictionaries(
    st.sampled_from(["code", "state", "error", "error_description", "iss", "session_state"]),
    st.one_of(st.text(max_size=300), st.sampled_from(["\x00", "access_denied", "%", "a" * 5000])),
    max_size=4,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parameters=CALLBACK_PARAMETERS)
def test_IV2_no_callback_query_gives_a_server_error(client, parameters):
    answer = client.get("/login/sso/callback", query_string=parameters)
    assert answer.status_code in (400, 403, 502), answer.status_code
