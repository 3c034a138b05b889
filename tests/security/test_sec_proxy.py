"""Behind a reverse proxy (README › Security notes, DP-1 to DP-3): the client's address comes
from the proxies the operator declared and from nothing else, the app answers only its own host
names, and "Confirm it is you" carries its own way back to the page of the change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from support import PASSWORD, base_config, csrf_token, query_scalar, sign_in, totp_code

from dashboard import create_app
from dashboard.models import utcnow

LAST_FAILURE_ADDRESS = "SELECT ip FROM audit_events WHERE action = 'auth.failure' ORDER BY id DESC"


def app_with(app, tmp_path, **settings):
    """Another app on the same database, with deployment settings of its own."""
    config = base_config(app.config["SQLALCHEMY_DATABASE_URI"], "http://127.0.0.1:9", tmp_path)
    return create_app({**config, **settings})


def fail_sign_in(client, **environ):
    page = client.get("/login", environ_overrides=environ).get_data(as_text=True)
    return client.post(
        "/login",
        data={"email": "nobody@example.com", "password": "wrong", "csrf_token": csrf_token(page)},
        headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"},
        environ_overrides=environ,
    )


def confirm_it_is_you(app, client, location, email):
    """Open the confirmation page at ``location`` and answer it; the page and the answer."""
    page = client.get(location).get_data(as_text=True)
    data = {"password": PASSWORD, "code": totp_code(app, email), "csrf_token": csrf_token(page)}
    return page, client.post(location, data=data)


def test_DP1_without_a_declared_proxy_forwarded_headers_are_ignored(app, tmp_path):
    direct = app_with(app, tmp_path / "direct")
    assert fail_sign_in(direct.test_client(), REMOTE_ADDR="192.0.2.1").status_code == 200
    assert query_scalar(app, LAST_FAILURE_ADDRESS) == "192.0.2.1"


def test_DP1_behind_one_proxy_the_address_it_forwarded_is_recorded(app, tmp_path):
    proxied = app_with(app, tmp_path / "proxied", PROXY_COUNT=1)
    assert fail_sign_in(proxied.test_client(), REMOTE_ADDR="127.0.0.1").status_code == 200
    # The proxy appended what it saw (198.51.100.7); the client's own claim before it is not used.
    assert query_scalar(app, LAST_FAILURE_ADDRESS) == "198.51.100.7"


def test_DP1_behind_one_proxy_the_forwarded_scheme_and_host_are_used(app, make_user, tmp_path):
    make_user("agent@example.com", "support")
    client = app_with(app, tmp_path / "proxied", PROXY_COUNT=1).test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"}
    page = client.get("/login", headers=forwarded).get_data(as_text=True)
    data = {"email": "agent@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)}
    # Over HTTPS Flask-WTF wants a Referer of this very origin: the forwarded scheme and host.
    elsewhere = {**forwarded, "Referer": "https://localhost/login"}
    refused = client.post("/login", data=data, headers=elsewhere)
    assert refused.status_code == 400 and "its Referer header" in refused.get_data(as_text=True)
    same_origin = {**forwarded, "Referer": "https://sms.example.com/login"}
    assert client.post("/login", data=data, headers=same_origin).status_code == 302


@pytest.mark.parametrize("host", ["evil.example.net", "sms.example.com.evil.example.net"])
def test_DP2_a_forged_host_is_refused_and_never_reflected(app, tmp_path, host):
    guarded = app_with(app, tmp_path / "guarded", TRUSTED_HOSTS="sms.example.com")
    client = guarded.test_client()
    answer = client.get("/send", headers={"Host": host})
    assert answer.status_code == 400
    assert host not in answer.get_data(as_text=True)
    assert host not in answer.headers.get("Location", "")
    assert client.get("/send", headers={"Host": "sms.example.com"}).status_code == 302


def test_DP2_a_forged_forwarded_host_is_refused_behind_a_proxy(app, tmp_path):
    guarded = app_with(app, tmp_path / "guarded", TRUSTED_HOSTS="sms.example.com", PROXY_COUNT=1)
    client = guarded.test_client()
    forged = client.get(
        "/send", headers={"Host": "sms.example.com", "X-Forwarded-Host": "evil.example.net"}
    )
    assert forged.status_code == 400
    assert "evil.example.net" not in forged.headers.get("Location", "")


def test_AU4_the_confirmation_names_the_change_and_returns_to_its_page(app, client, make_user):
    make_user("boss@example.com", "admin")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "boss@example.com")
        page = client.get("/admin/provider").get_data(as_text=True)
        clock.tick(timedelta(minutes=11))
        refused = client.post(
            "/admin/provider/switch",
            data={"environment": "production", "confirmation": "production", "reason": "go"},
            headers={"X-CSRFToken": csrf_token(page)},
        )
        location = refused.headers["Location"]
        assert location.startswith("/account/confirm?")
        page, answer = confirm_it_is_you(app, client, location, "boss@example.com")
        assert "To switch the environment, confirm it is you" in page
        assert answer.headers["Location"] == "/admin/provider"
    switches = "SELECT count(*) FROM audit_events WHERE action LIKE 'provider.%'"
    assert query_scalar(app, switches) == 0


@pytest.mark.parametrize(
    "next_url", ["https://evil.example.net/", "//evil.example.net/", "/\\evil.example.net"]
)
def test_AU4_the_confirmation_never_leaves_the_site(app, client, make_user, next_url):
    make_user("boss@example.com", "admin")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "boss@example.com")
        clock.tick(timedelta(seconds=30))  # the next two-step code
        location = f"/account/confirm?next={next_url}&change=admin.switch"
        page, answer = confirm_it_is_you(app, client, location, "boss@example.com")
    assert "evil.example.net" not in page
    assert answer.headers["Location"] == "/"


def test_AU4_the_confirmation_names_only_changes_it_knows(app, client, make_user):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/account/confirm?change=<b>wire+money</b>").get_data(as_text=True)
    assert "wire money" not in page and "wire+money" not in page
    assert "This change needs a recent sign-in" in page


def test_AU4_the_confirmation_names_no_change_the_user_may_not_make(app, client, make_user):
    make_user("agent@example.com", "support")
    sign_in(client, "agent@example.com")
    page = client.get("/account/confirm?change=admin.switch").get_data(as_text=True)
    assert "switch the environment" not in page
    assert "This change needs a recent sign-in" in page
