"""Sessions (SECURITY.md A3): cookie attributes, a new session at sign-in, server-side ends,
idle and absolute limits, no remember-me cookie."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

from freezegun import freeze_time
from support import PASSWORD, base_config, csrf_token, sign_in

from dashboard import create_app
from dashboard.models import utcnow


def test_SE1_production_cookie_attributes(app, make_user, tmp_path):
    make_user("agent@example.com", "support")
    https = "https://127.0.0.1:9"  # production refuses plain-HTTP provider URLs; none is called
    config = base_config(app.config["SQLALCHEMY_DATABASE_URI"], https, tmp_path)
    production = create_app({**config, "ENV": "production", "TRUSTED_HOSTS": "localhost"})
    client = production.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    response = client.post(
        "/login",
        base_url="https://localhost",
        # Sent by the browser under Referrer-Policy: same-origin; Flask-WTF checks it over HTTPS.
        headers={"Referer": "https://localhost/login"},
        data={"email": "agent@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 302
    raw = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-session=")]
    assert len(raw) == 1
    attributes = {part.strip().split("=")[0].lower() for part in raw[0].split(";")[1:]}
    assert {"secure", "httponly", "path"} <= attributes and "domain" not in attributes
    assert "SameSite=Lax" in raw[0] and "Path=/" in raw[0]


def test_SE2_a_new_session_and_csrf_token_at_sign_in(app, client, make_user):
    make_user("agent@example.com", "support")
    before_page = client.get("/login").get_data(as_text=True)
    before_cookie = client.get_cookie("session").value
    sign_in(client, "agent@example.com")
    after_cookie = client.get_cookie("session").value
    assert after_cookie != before_cookie
    assert csrf_token(client.get("/account").text) != csrf_token(before_page)
    stranger = app.test_client()
    stranger.set_cookie("session", before_cookie)
    assert stranger.get("/send").headers["Location"].startswith("/login")


def test_SE3_old_cookie_refused_after_sign_out(app, client, make_user):
    make_user("agent@example.com", "support")
    sign_in(client, "agent@example.com")
    saved = client.get_cookie("session").value
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    client.set_cookie("session", saved)
    assert client.get("/send").headers["Location"].startswith("/login")


def test_SE4_idle_timeout_of_30_minutes(app, client, make_user):
    make_user("agent@example.com", "support")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "agent@example.com")
        clock.tick(timedelta(minutes=29))
        assert client.get("/send").status_code == 200
        clock.tick(timedelta(minutes=31))
        response = client.get("/send")
        assert response.headers["Location"].startswith("/login")
        assert "expired" in client.get("/login").get_data(as_text=True)


def test_SE4_absolute_limit_of_12_hours_even_when_active(app, client, make_user):
    make_user("agent@example.com", "support")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "agent@example.com")
        for _ in range(12 * 4):  # busy every 15 minutes for 12 hours
            clock.tick(timedelta(minutes=15))
            last = client.get("/history")
        assert last.status_code == 200
        clock.tick(timedelta(minutes=1))
        assert client.get("/history").headers["Location"].startswith("/login")


def test_SE5_disabling_a_user_ends_their_sessions(app, client, make_user):
    make_user("boss@example.com", "admin")
    agent = make_user("agent@example.com", "support")
    agent_client = app.test_client()
    sign_in(agent_client, "agent@example.com")
    assert agent_client.get("/send").status_code == 200
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/users/{agent}").get_data(as_text=True)
    client.post(f"/admin/users/{agent}/disable", data={"csrf_token": csrf_token(page)})
    assert agent_client.get("/send").headers["Location"].startswith("/login")


def test_SE5_sign_out_everywhere_by_an_admin_and_by_oneself(app, client, make_user):
    make_user("boss@example.com", "admin")
    agent = make_user("agent@example.com", "support")
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, "agent@example.com")
    sign_in(laptop, "agent@example.com")
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/users/{agent}").get_data(as_text=True)
    client.post(f"/admin/users/{agent}/sign-out", data={"csrf_token": csrf_token(page)})
    for device in (phone, laptop):
        assert device.get("/send").headers["Location"].startswith("/login")

    sign_in(phone, "agent@example.com")
    sign_in(laptop, "agent@example.com")
    token = csrf_token(laptop.get("/account").text)
    laptop.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert phone.get("/send").headers["Location"].startswith("/login")


def test_SE5_a_role_change_ends_the_old_sessions(app, client, make_user):
    make_user("boss@example.com", "admin")
    agent = make_user("agent@example.com", "support")
    agent_client = app.test_client()
    sign_in(agent_client, "agent@example.com")
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/users/{agent}").get_data(as_text=True)
    client.post(
        f"/admin/users/{agent}/role", data={"role": "auditor", "csrf_token": csrf_token(page)}
    )
    assert agent_client.get("/history").headers["Location"].startswith("/login")


def test_SE7_no_remember_me_cookie(app, client, make_user):
    make_user("agent@example.com", "support")
    response = sign_in(client, "agent@example.com")
    cookies = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookies.load(header)
    assert "remember_token" not in cookies
    assert "Expires" not in " ".join(response.headers.getlist("Set-Cookie"))  # a browser session
