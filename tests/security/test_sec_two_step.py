"""Two-step sign-in and fresh sign-in for sensitive actions (SECURITY.md A2: AU-3, AU-4)."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in, totp_code

from dashboard.models import utcnow


def enrol_through_the_pages(client) -> tuple[str, list[str]]:
    page = client.get("/account/two-step").get_data(as_text=True)
    assert "Start the set-up" in page
    client.post("/account/two-step/start", data={"csrf_token": csrf_token(page)})
    page = client.get("/account/two-step").get_data(as_text=True)
    secret = re.search(r"data-two-step-secret>([A-Z2-7]+)<", page).group(1)
    qr = client.get("/account/two-step/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    answer = client.post(
        "/account/two-step",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)},
    ).get_data(as_text=True)
    assert "shown only now" in answer
    codes = re.findall(r'<li class="col">([a-z0-9]{5}-[a-z0-9]{5})</li>', answer)
    assert len(codes) == 10
    return secret, codes


def test_AU3_admins_must_enrol_before_reaching_anything(app, client, make_user):
    make_user("boss@example.com", "admin", two_step=False)
    response = sign_in(client, "boss@example.com")
    assert response.headers["Location"] == "/"
    for path in ("/", "/admin/users", "/send", "/history"):
        assert client.get(path).headers["Location"] == "/account/two-step", path
    secret, _ = enrol_through_the_pages(client)
    assert client.get("/admin/users").status_code == 200
    stored = query_scalar(app, "SELECT totp_secret_encrypted FROM users")
    assert secret not in stored  # encrypted at rest


def test_AU3_sign_in_then_asks_for_the_code(app, client, make_user):
    make_user("boss@example.com", "admin")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": "boss@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/login/two-step"
    assert client.get("/admin/users").headers["Location"].startswith("/login")  # not yet in
    page = client.get("/login/two-step").get_data(as_text=True)
    wrong = client.post("/login/two-step", data={"code": "000000", "csrf_token": csrf_token(page)})
    assert "That code is not right" in wrong.get_data(as_text=True)
    code = totp_code(app, "boss@example.com")
    ok = client.post("/login/two-step", data={"code": code, "csrf_token": csrf_token(page)})
    assert ok.status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_AU3_a_code_cannot_be_replayed(app, client, make_user):
    make_user("boss@example.com", "admin")
    code = totp_code(app, "boss@example.com")
    for attempt in range(2):
        token = csrf_token(client.get("/login").get_data(as_text=True))
        client.post(
            "/login", data={"email": "boss@example.com", "password": PASSWORD, "csrf_token": token}
        )
        page = client.get("/login/two-step").get_data(as_text=True)
        response = client.post(
            "/login/two-step", data={"code": code, "csrf_token": csrf_token(page)}
        )
        if attempt == 0:
            assert response.status_code == 302
            client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
        else:
            assert "already used" in response.get_data(as_text=True)


def test_AU3_a_recovery_code_works_once(app, client, make_user):
    make_user("boss@example.com", "admin", two_step=False)
    sign_in(client, "boss@example.com")
    _, codes = enrol_through_the_pages(client)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    for attempt in range(2):
        token = csrf_token(client.get("/login").get_data(as_text=True))
        client.post(
            "/login", data={"email": "boss@example.com", "password": PASSWORD, "csrf_token": token}
        )
        page = client.get("/login/two-step").get_data(as_text=True)
        response = client.post(
            "/login/two-step", data={"code": codes[0].upper(), "csrf_token": csrf_token(page)}
        )
        if attempt == 0:
            assert response.status_code == 302
            client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
        else:
            assert response.status_code == 200
    used = "SELECT count(*) FROM audit_events WHERE action = 'two_step.recovery_code_used'"
    assert query_scalar(app, used) == 1


def test_AU3_an_admin_can_require_two_step_for_everyone(app, client, make_user):
    make_user("boss@example.com", "admin")
    make_user("agent@example.com", "support")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/settings").get_data(as_text=True)
    client.post(
        "/admin/settings", data={"two_step_for_everyone": "y", "csrf_token": csrf_token(page)}
    )
    changes = "SELECT count(*) FROM audit_events WHERE action = 'setting.change'"
    assert query_scalar(app, changes) == 1
    other = app.test_client()
    sign_in(other, "agent@example.com")
    assert other.get("/send").headers["Location"] == "/account/two-step"


def test_AU4_a_stale_sign_in_must_confirm_before_a_role_change(app, client, make_user):
    make_user("boss@example.com", "admin")
    target = make_user("agent@example.com", "support")
    start = utcnow()
    with freeze_time(start) as clock:
        sign_in(client, "boss@example.com")
        page = client.get(f"/admin/users/{target}").get_data(as_text=True)
        clock.tick(timedelta(minutes=11))
        response = client.post(
            f"/admin/users/{target}/role",
            data={"role": "admin", "csrf_token": csrf_token(page)},
        )  # no Referer: the confirmation carries its way back itself
        assert response.headers["Location"].startswith("/account/confirm")
        assert query_scalar(app, "SELECT role FROM users WHERE id = :id", id=target) == "support"

        confirm = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "To change a role, confirm it is you" in confirm
        answer = client.post(
            response.headers["Location"],
            data={
                "password": PASSWORD,
                "code": totp_code(app, "boss@example.com"),
                "csrf_token": csrf_token(confirm),
            },
        )
        assert answer.headers["Location"] == f"/admin/users/{target}"
        client.post(
            f"/admin/users/{target}/role", data={"role": "admin", "csrf_token": csrf_token(page)}
        )
        assert query_scalar(app, "SELECT role FROM users WHERE id = :id", id=target) == "admin"


def test_AU4_confirming_needs_the_right_password(app, client, make_user):
    make_user("boss@example.com", "admin")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "boss@example.com")
        clock.tick(timedelta(minutes=11))
        page = client.get("/account/confirm").get_data(as_text=True)
        response = client.post(
            "/account/confirm",
            data={
                "password": "not my password",
                "code": totp_code(app, "boss@example.com"),
                "csrf_token": csrf_token(page),
            },
        )
        assert "The password or the code is wrong." in response.get_data(as_text=True)


def test_AU3_SE5_turning_two_step_on_ends_the_users_other_sessions(app, client, make_user):
    """A session opened with the password alone must not outlive the second step's arrival."""
    make_user("agent@example.com", "support")
    laptop, phone = client, app.test_client()
    sign_in(laptop, "agent@example.com")
    sign_in(phone, "agent@example.com")
    assert phone.get("/send").status_code == 200
    enrol_through_the_pages(laptop)
    assert laptop.get("/send").status_code == 200  # the confirming session goes on
    assert phone.get("/send").headers["Location"].startswith("/login")
    token = csrf_token(phone.get("/login").get_data(as_text=True))
    answer = phone.post(
        "/login", data={"email": "agent@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.headers["Location"] == "/login/two-step"  # the password alone is not enough


def test_AU3_a_set_up_is_shown_and_confirmed_only_in_the_session_that_started_it(
    app, client, make_user
):
    make_user("agent@example.com", "support")
    mine, other = client, app.test_client()
    sign_in(mine, "agent@example.com")
    sign_in(other, "agent@example.com")
    page = mine.get("/account/two-step").get_data(as_text=True)
    mine.post("/account/two-step/start", data={"csrf_token": csrf_token(page)})
    page = mine.get("/account/two-step").get_data(as_text=True)
    secret = re.search(r"data-two-step-secret>([A-Z2-7]+)<", page).group(1)

    elsewhere = other.get("/account/two-step").get_data(as_text=True)
    assert secret not in elsewhere and "data-two-step-secret" not in elsewhere
    assert "started in another browser or session" in elsewhere
    assert other.get("/account/two-step/qr.svg").status_code == 404
    refused = other.post(
        "/account/two-step",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(elsewhere)},
    ).get_data(as_text=True)
    assert "shown only now" not in refused and "started in another browser" in refused
    assert query_scalar(app, "SELECT two_step_enabled_at FROM users") is None

    # The other session may start again; then the first one is the one told so.
    other.post("/account/two-step/start", data={"csrf_token": csrf_token(elsewhere)})
    restarted = other.get("/account/two-step").get_data(as_text=True)
    new_secret = re.search(r"data-two-step-secret>([A-Z2-7]+)<", restarted).group(1)
    assert new_secret != secret
    assert "started in another browser" in mine.get("/account/two-step").get_data(as_text=True)
    assert mine.get("/account/two-step/qr.svg").status_code == 404
    assert other.get("/account/two-step/qr.svg").status_code == 200
