"""Sign-in, sign-out, roles and the headers every response carries."""

from __future__ import annotations

from support import PASSWORD, csrf_token, query_scalar, sign_in


def test_health_check_is_public_and_readiness_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ok", "database": "ok", "migrations": "ok"}


def test_sign_in_and_out(app, client, make_user):
    make_user("agent@example.com", "support")
    response = sign_in(client, "AGENT@example.com ")
    assert response.status_code == 302
    assert client.get("/send").status_code == 200
    saved_cookie = client.get_cookie("session").value

    token = csrf_token(client.get("/send").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/send").status_code == 302

    # A copy of the cookie taken before signing out no longer works.
    client.set_cookie("session", saved_cookie)
    assert client.get("/send").headers["Location"].startswith("/login")
    actions = query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'auth.sign_out'")
    assert actions == 1


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client, make_user):
    make_user("agent@example.com", "support")
    wrong = sign_in(client, "agent@example.com", "not the password at all")
    unknown = sign_in(client, "nobody@example.com", PASSWORD)
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert "The email or the password is wrong." in response.get_data(as_text=True)
    failures = query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'auth.failure'")
    assert failures == 2
    details = query_scalar(app, "SELECT details FROM audit_events WHERE action = 'auth.failure'")
    assert PASSWORD not in str(details)


def test_disabled_user_cannot_sign_in(app, client, make_user):
    user_id = make_user("agent@example.com", "support")
    from dashboard.extensions import db
    from dashboard.models import User

    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert sign_in(client, "agent@example.com").status_code == 200


def test_one_time_password_must_be_changed_first(app, client):
    from dashboard.services import users

    with app.app_context():
        _, one_time = users.create_user("new@example.com", "support", "test")
    response = sign_in(client, "new@example.com", one_time)
    assert response.headers["Location"] == "/account/password"
    assert client.get("/send").headers["Location"] == "/account/password"
    page = client.get("/account/password").get_data(as_text=True)
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page),
            "current_password": one_time,
            "new_password": "a brand new long passphrase",
            "confirm_password": "a brand new long passphrase",
        },
    )
    assert response.status_code == 302
    assert client.get("/send").status_code == 200


import pytest  # noqa: E402


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "javascript:alert(1)",
        "http:evil.example",
    ],
)
def test_next_only_goes_to_this_site(app, client, make_user, target):
    make_user("agent@example.com", "support")
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "agent@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil.example" not in location or location == "/evil.example/"  # a page of ours


def test_next_may_go_to_a_page_of_this_site(app, client, make_user):
    make_user("agent@example.com", "support")
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        query_string={"next": "/history?q=7652"},
        data={"email": "agent@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.headers["Location"] == "/history?q=7652"


def test_a_nul_byte_in_the_email_is_a_clear_400(app, client):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"email": "a\x00@example.com", "password": "x", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 400
    assert "NUL byte" in response.get_data(as_text=True)


def test_sign_in_needs_a_csrf_token(app, client, make_user):
    make_user("agent@example.com", "support")
    response = client.post("/login", data={"email": "agent@example.com", "password": PASSWORD})
    assert response.status_code == 400


def test_fields_are_marked_invalid_only_when_they_are(app, client):
    page = client.get("/login").get_data(as_text=True)
    assert "aria-invalid" not in page and '"None"' not in page
    token = csrf_token(page)
    answer = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    html = answer.get_data(as_text=True)
    assert html.count('aria-invalid="true"') == 2
    assert 'aria-describedby="email-error"' in html and 'id="email-error"' in html
