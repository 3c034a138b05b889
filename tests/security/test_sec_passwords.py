"""Passwords (SECURITY.md A1): argon2id at the OWASP floor, salted, rehashed, long and not
guessable, no default account, and no difference between an unknown email and a wrong password."""

from __future__ import annotations

import re
import statistics
import time

import pytest
from argon2 import PasswordHasher
from support import PASSWORD, csrf_token, query_scalar, sign_in

from dashboard.domain import passwords
from dashboard.services import users


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
