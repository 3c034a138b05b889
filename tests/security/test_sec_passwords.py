"""Passwords (SECURITY.md A1): argon2id at the OWASP floor, salted, rehashed, long and not
guessable, no default account, and no difference between an unknown email and a wrong password."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from freezegun import freeze_time
from support import PASSWORD, csrf_token, query_scalar, sign_in

from dashboard.domain import passwords
from dashboard.models import utcnow
from dashboard.services import users

NEW_PASSWORD = "violet tractor maple sunrise"


def argon2_parameters(stored: str) -> dict[str, int]:
    match = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert match, f"not an argon2id hash: {stored[:20]}"
    memory, time_cost, parallelism = map(int, match.groups())
    return {"m": memory, "t": time_cost, "p": parallelism}


def meets_owasp_floor(stored: str) -> bool:
    if not stored.startswith("$argon2id$"):
        return False  # werkzeug's scrypt:32768:8:1 and the like are below the floor
    p = argon2_parameters(stored)
    return p["p"] >= 1 and (
        (p["m"] >= 19 * 1024 and p["t"] >= 2)
        or (p["m"] >= 46 * 1024 and p["t"] >= 1)
        or (p["m"] >= 12 * 1024 and p["t"] >= 3)
    )


def test_PW1_argon2id_at_or_above_the_owasp_floor(app, make_user):
    make_user("a@example.com", "support")
    stored = query_scalar(app, "SELECT password_hash FROM users")
    assert meets_owasp_floor(stored)
    assert not meets_owasp_floor("scrypt:32768:8:1$salt$hash")


def test_PW2_each_hash_has_its_own_salt():
    assert passwords.hash_password(PASSWORD) != passwords.hash_password(PASSWORD)


def test_PW3_old_parameters_are_rehashed_at_sign_in(app, client, make_user):
    from dashboard.extensions import db
    from dashboard.models import User

    make_user("a@example.com", "support")
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with app.app_context():
        db.session.query(User).update({"password_hash": weak})
        db.session.commit()
    assert sign_in(client, "a@example.com").status_code == 302
    stored = query_scalar(app, "SELECT password_hash FROM users")
    assert stored != weak and meets_owasp_floor(stored)


@pytest.mark.parametrize(
    "password",
    [
        "tiny ✨ mountain goat 🐐 sings " * 2 + "ok",  # 64+ characters, spaces and emoji
        "correct horse battery staple",  # no digits, capitals or symbols: no composition rules
        "x9!" + "ünïcødé pässwørd" + " é" * 50,  # 121 characters, kept whole
    ],
)
def test_PW4_long_passwords_work_untruncated(app, client, password):
    with app.app_context():
        users.create_user("a@example.com", "support", "test", password=password)
    assert sign_in(client, "a@example.com", password).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    assert sign_in(client, "a@example.com", password[:-1]).status_code == 200  # no truncation


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("short pass", "at least 12 characters"),
        ("x" * 129, "at most 128 characters"),
    ],
)
def test_PW4_length_limits(app, password, words):
    with app.app_context(), pytest.raises(users.UserError, match=words):
        users.create_user("a@example.com", "support", "test", password=password)


@pytest.mark.parametrize(
    "password", ["password1234567", "qwertyuiop123456", "aaaaaaaaaaaaaaaa", "a@example.com2024"]
)
def test_PW5_common_and_guessable_passwords_are_refused(app, password):
    with app.app_context(), pytest.raises(users.UserError, match="Choose a harder password"):
        users.create_user("a@example.com", "support", "test", password=password)
    assert query_scalar(app, "SELECT count(*) FROM users") == 0


def test_PW6_no_default_account(app):
    assert query_scalar(app, "SELECT count(*) FROM users") == 0
    result = app.test_cli_runner().invoke(
        args=["users", "create", "boss@example.com", "--role", "admin", "--password-stdin"],
        input="\n",
    )
    assert result.exit_code != 0 and "at least 12 characters" in result.output
    assert query_scalar(app, "SELECT count(*) FROM users") == 0


def test_PW7_unknown_email_and_wrong_password_look_the_same(app, client, make_user):
    make_user("agent@example.com", "support")

    def attempt(email: str, password: str) -> tuple[float, int, str]:
        token = csrf_token(client.get("/login").get_data(as_text=True))
        started = time.perf_counter()
        response = client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )
        elapsed = time.perf_counter() - started
        return elapsed, response.status_code, response.get_data(as_text=True)

    attempt("warm-up@example.com", PASSWORD)  # the first unknown email computes the dummy hash
    wrong, unknown = [], []
    for n in range(4):  # interleaved, so that load on the machine hits both alike
        wrong.append(attempt("agent@example.com", f"wrong password {n}"))
        unknown.append(attempt(f"nobody{n}@example.com", PASSWORD))
    assert {r[1] for r in wrong} == {r[1] for r in unknown} == {200}
    # The same page, but for the email typed back into its field (and the form's own token).
    without_values = [re.sub(r'value="[^"]*"', "", r[2]) for r in (wrong[0], unknown[0])]
    assert without_values[0] == without_values[1]
    assert "The email or the password is wrong." in wrong[0][2]
    median_wrong = statistics.median(r[0] for r in wrong)
    median_unknown = statistics.median(r[0] for r in unknown)
    assert abs(median_wrong - median_unknown) <= 0.25 * max(median_wrong, median_unknown)


def change_password(client, current: str, new: str, address: str = "10.0.0.1"):
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    return client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": new,
        },
        environ_base={"REMOTE_ADDR": address},
    )


def test_AU1_AU2_wrong_current_passwords_at_a_password_change_are_throttled_and_audited(
    app, client, make_user
):
    """A session left open is no way to guess the password: the current password the change
    asks for is checked like a sign-in."""
    make_user("agent@example.com", "support")
    stored = query_scalar(app, "SELECT password_hash FROM users")
    with freeze_time(utcnow()) as clock:
        sign_in(client, "agent@example.com")
        answers = [
            change_password(client, f"guess {n}", NEW_PASSWORD).get_data(as_text=True)
            for n in range(30)
        ]
        assert all("That is not your current password." in page for page in answers[:5])
        assert all("Too many failed sign-ins." in page for page in answers[5:])
        locked = change_password(client, PASSWORD, NEW_PASSWORD)  # even the right one, for now
        assert locked.status_code == 200 and "Too many failed sign-ins." in locked.text
        assert query_scalar(app, "SELECT password_hash FROM users") == stored
        elsewhere = app.test_client()  # the account is locked for signing in too
        assert "Too many failed sign-ins." in sign_in(elsewhere, "agent@example.com").text

        failures = query_scalar(
            app,
            "SELECT count(*) FROM audit_events WHERE action = 'auth.failure'"
            " AND CAST(details AS TEXT) LIKE '%password_change%' AND ip = '10.0.0.1'",
        )
        assert failures == 6  # while locked, guesses are not even checked
        assert query_scalar(app, "SELECT count(*) FROM audit_events WHERE action = 'auth.lock'")

        clock.tick(timedelta(minutes=16))  # longer than the longest lock
        assert change_password(client, PASSWORD, NEW_PASSWORD).status_code == 302
    assert query_scalar(app, "SELECT password_hash FROM users") != stored


def test_PW8_the_new_password_must_differ_from_the_current_one(app, client, make_user):
    make_user("agent@example.com", "support")
    stored = query_scalar(app, "SELECT password_hash FROM users")
    sign_in(client, "agent@example.com")
    answer = change_password(client, PASSWORD, PASSWORD)
    assert answer.status_code == 200
    error = re.search(r'id="new_password-error"[^>]*>([^<]+)<', answer.text)
    assert error and "must differ from your current one" in error.group(1)
    assert query_scalar(app, "SELECT password_hash FROM users") == stored


def test_PW9_a_one_time_password_signs_in_for_72_hours_only(app, client):
    start = utcnow()
    with freeze_time(start) as clock:
        with app.app_context():
            user, one_time = users.create_user("new@example.com", "support", "test")
            user_id = user.id
        clock.tick(timedelta(hours=72) - timedelta(seconds=1))
        assert sign_in(client, "new@example.com", one_time).headers["Location"] == (
            "/account/password"
        )
        token = csrf_token(client.get("/account/password").text)
        client.post("/logout", data={"csrf_token": token})
        clock.tick(timedelta(seconds=2))
        expired = sign_in(client, "new@example.com", one_time)
        assert expired.status_code == 200
        assert "This one-time password has expired. Ask an admin for a new one" in expired.text
        # Said only to whoever typed it right: a wrong password gets the usual answer.
        wrong = sign_in(client, "new@example.com", one_time + "x")
        assert "The email or the password is wrong." in wrong.text and "expired" not in wrong.text
        refused = "SELECT count(*) FROM audit_events WHERE action = 'auth.refused_expired'"
        assert query_scalar(app, refused) == 1

        with app.app_context():
            fresh = users.reset_password(users.get(user_id), "test")
        assert sign_in(client, "new@example.com", fresh).headers["Location"] == "/account/password"
        assert change_password(client, fresh, NEW_PASSWORD).status_code == 302
        assert query_scalar(app, "SELECT password_expires_at FROM users") is None
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
        clock.tick(timedelta(days=30))  # a password the user chose does not expire
        assert sign_in(client, "new@example.com", NEW_PASSWORD).headers["Location"] == "/"


def test_PW9_how_long_a_one_time_password_lasts_is_a_setting(app, client):
    app.config["ONE_TIME_PASSWORD_HOURS"] = 1
    with freeze_time(utcnow()) as clock:
        with app.app_context():
            _, one_time = users.create_user("new@example.com", "support", "test")
        clock.tick(timedelta(minutes=61))
        assert "has expired" in sign_in(client, "new@example.com", one_time).text
