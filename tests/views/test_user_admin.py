"""User administration by admins, on the pages and on the command line."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from support import PASSWORD, csrf_token, query_scalar, sign_in

from dashboard.models import utcnow
from dashboard.services import users


def test_an_admin_creates_a_user_who_must_choose_a_password(app, client, make_user):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/users").get_data(as_text=True)
    answer = client.post(
        "/admin/users",
        data={
            "email": "New@Example.com",
            "name": "New Agent",
            "role": "support",
            "csrf_token": csrf_token(page),
        },
    ).get_data(as_text=True)
    one_time = re.search(r"data-one-time-password>([^<]+)<", answer).group(1)
    assert "shown only now" in answer
    assert one_time not in client.get("/admin/users").get_data(as_text=True)  # never again

    newcomer = app.test_client()
    assert sign_in(newcomer, "new@example.com", one_time).headers["Location"] == "/account/password"
    assert newcomer.get("/send").headers["Location"] == "/account/password"
    form = newcomer.get("/account/password").get_data(as_text=True)
    weak = newcomer.post(
        "/account/password",
        data={
            "current_password": one_time,
            "new_password": "password1234567",
            "confirm_password": "password1234567",
            "csrf_token": csrf_token(form),
        },
    )
    assert "Choose a harder password" in weak.get_data(as_text=True)
    newcomer.post(
        "/account/password",
        data={
            "current_password": one_time,
            "new_password": "violet tractor maple sunrise",
            "confirm_password": "violet tractor maple sunrise",
            "csrf_token": csrf_token(form),
        },
    )
    assert newcomer.get("/send").status_code == 200


def test_the_last_active_admin_cannot_be_removed(app, client, make_user):
    boss = make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/users/{boss}").get_data(as_text=True)
    for action, data in (("role", {"role": "support"}), ("disable", {})):
        client.post(f"/admin/users/{boss}/{action}", data={**data, "csrf_token": csrf_token(page)})
        assert "last active admin" in client.get(f"/admin/users/{boss}").get_data(as_text=True)
    assert query_scalar(app, "SELECT role FROM users") == "admin"
    assert query_scalar(app, "SELECT active FROM users") in (True, 1)


def test_reset_password_and_two_step(app, client, make_user):
    make_user("boss@example.com", "admin")
    other = make_user("other@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/users/{other}").get_data(as_text=True)
    answer = client.post(
        f"/admin/users/{other}/reset-password", data={"csrf_token": csrf_token(page)}
    ).get_data(as_text=True)
    one_time = re.search(r"data-one-time-password>([^<]+)<", answer).group(1)
    client.post(f"/admin/users/{other}/reset-two-step", data={"csrf_token": csrf_token(page)})
    assert (
        query_scalar(app, "SELECT two_step_enabled_at FROM users WHERE id = :id", id=other) is None
    )
    again = app.test_client()
    sign_in(again, "other@example.com", one_time)
    assert again.get("/admin/users").headers["Location"] == "/account/password"


def test_the_user_commands(app):
    runner = app.test_cli_runner()
    create = ["users", "create", "a@example.com", "--role", "support", "--password-stdin"]
    assert runner.invoke(args=create, input=PASSWORD + "\n").exit_code == 0
    assert runner.invoke(args=["users", "set-role", "a@example.com", "auditor"]).exit_code == 0
    assert query_scalar(app, "SELECT role FROM users") == "auditor"
    assert runner.invoke(args=["users", "disable", "a@example.com"]).exit_code == 0
    assert query_scalar(app, "SELECT active FROM users") in (False, 0)
    assert runner.invoke(args=["users", "enable", "a@example.com"]).exit_code == 0
    reset = runner.invoke(args=["users", "reset-password", "a@example.com"])
    assert reset.exit_code == 0 and "One-time password" in reset.output
    assert query_scalar(app, "SELECT must_change_password FROM users") in (True, 1)
    missing = runner.invoke(args=["users", "disable", "nobody@example.com"])
    assert missing.exit_code != 0 and "No user has the email" in missing.output
    logged = "SELECT count(*) FROM audit_events WHERE actor_label = 'command line'"
    assert query_scalar(app, logged) == 5


def test_the_last_admin_cannot_be_disabled_from_the_command_line(app):
    runner = app.test_cli_runner()
    create = ["users", "create", "boss@example.com", "--role", "admin", "--password-stdin"]
    runner.invoke(args=create, input=PASSWORD + "\n")
    result = runner.invoke(args=["users", "disable", "boss@example.com"])
    assert result.exit_code != 0 and "last active admin" in result.output


BAD_EMAILS = [
    ("@y@example.com", "That is not an email address"),
    ("a@b", "That is not an email address"),
    ("ａdmin@example.com", "full-width or other look-alike characters"),  # full-width a
    ("аdmin@example.com", "mixes letters of different alphabets"),  # a Cyrillic a
]


@pytest.mark.parametrize(("email", "words"), BAD_EMAILS)
def test_IV1_an_account_is_created_only_for_a_real_address(app, email, words):
    with app.app_context(), pytest.raises(users.UserError, match=words):
        users.create_user(email, "support", "test", password=PASSWORD)
    assert query_scalar(app, "SELECT count(*) FROM users") == 0


@pytest.mark.parametrize(("email", "words"), BAD_EMAILS[:3])
def test_IV1_the_create_user_page_says_why_next_to_the_email(app, client, make_user, email, words):
    make_user("boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    page = client.get("/admin/users").get_data(as_text=True)
    answer = client.post(
        "/admin/users", data={"email": email, "role": "support", "csrf_token": csrf_token(page)}
    ).get_data(as_text=True)
    error = re.search(r'id="email-error"[^>]*>([^<]+)<', answer)
    assert error and words in error.group(1)
    assert query_scalar(app, "SELECT count(*) FROM users") == 1


def test_PW9_the_one_time_password_page_says_until_when_it_signs_in(app, client, make_user):
    make_user("boss@example.com", "admin")
    other = make_user("other@example.com", "support")
    sign_in(client, "boss@example.com")
    page = client.get(f"/admin/users/{other}").get_data(as_text=True)
    answer = client.post(
        f"/admin/users/{other}/reset-password", data={"csrf_token": csrf_token(page)}
    ).get_data(as_text=True)
    with app.app_context():
        until = users.get(other).password_expires_at
    assert until - utcnow() > timedelta(hours=71, minutes=59)
    shown = until.strftime("%Y-%m-%d %H:%M:%S UTC")  # the viewer's zone: UTC until told
    assert re.search(rf"It works until <time [^>]*>{shown}</time>", answer), answer
