"""Helpers the tests share: the test password, CSRF tokens, signing in, a quick query."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from dashboard import create_app
from dashboard.extensions import db

PASSWORD = "correct horse battery staple"
PG_ADMIN_URL = os.environ.get(
    "DASHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("DASHBOARD_TEST_REQUIRE_POSTGRES") == "1"
ENCRYPTION_KEYS = "k1:" + base64.b64encode(b"k" * 32).decode()
AUDIT_KEY = "a1:" + base64.b64encode(b"a" * 32).decode()
SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

#: Debian's Chromium, and the flags it needs on a closed network as root.
CHROMIUM = os.environ.get("DASHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sandbox_secret(client_id: str) -> str:
    """The client secret the ``sandbox`` fixture registers for ``client_id``."""
    return f"secret-of-{client_id}"


def csrf_token(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


#: TOTP secrets of the users the tests enrolled, by email.
TOTP_SECRETS: dict[str, str] = {}


def enrol_two_step(app: Flask, user_id: int) -> str:
    """Turn two-step on for a user, as the enrolment page would; return the secret."""
    import pyotp

    from dashboard.services import users

    with app.app_context():
        user = users.get(user_id)
        secret = users.begin_two_step(user)
        users.confirm_two_step(user, pyotp.TOTP(secret).now())
        TOTP_SECRETS[users.get(user_id).email] = secret
    return secret


def totp_code(app: Flask, email: str) -> str:
    """A code the server will accept now: the earliest step in its window not yet used."""
    import pyotp

    from dashboard.models import utcnow
    from dashboard.services import users

    totp = pyotp.TOTP(TOTP_SECRETS[email])
    with app.app_context():
        last = users.find_by_email(email).totp_last_step
    current = totp.timecode(utcnow())
    step = max(current - 1, (last if last is not None else current - 2) + 1)
    assert step <= current + 1, "signed in too often within one 30-second step"
    return totp.generate_otp(step)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD):
    """Sign in through the pages; answer the second step when the account has one."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    if response.status_code == 302 and response.headers["Location"].startswith("/login/two-step"):
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        code = totp_code(client.application, email)
        response = client.post(
            response.headers["Location"], data={"code": code, "csrf_token": csrf_token(page)}
        )
    return response


def query_scalar(app: Flask, sql: str, **params):
    with app.app_context():
        return db.session.execute(text(sql), params).scalar()


def db_kind(app: Flask) -> str:
    """``"sqlite"`` or ``"postgresql"``: where a test must look at each database its own way."""
    with app.app_context():
        return db.engine.dialect.name


def base_config(database_url: str, simulator_url: str, instance_path: Path) -> dict[str, object]:
    return {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "AUDIT_KEY": AUDIT_KEY,
        "INSTANCE_PATH": str(instance_path),
        "RM_SANDBOX_OAUTH_URL": simulator_url,
        "RM_SANDBOX_API_URL": simulator_url,
        "RM_PRODUCTION_OAUTH_URL": simulator_url,
        "RM_PRODUCTION_API_URL": simulator_url,
        "RM_TIMEOUT_SECONDS": 1.0,
        # The tests sign in from one address all the time; tests/security/test_sec_throttling.py
        # turns the request-rate limit back on (rate_limited_app) to prove it.
        "RATELIMIT_ENABLED": False,
    }


def migrate(url: str, instance_path: Path) -> None:
    import flask_migrate

    app = create_app(base_config(url, "http://127.0.0.1:9", instance_path))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


def example_url(rule) -> str:
    """A URL for ``rule`` with a placeholder for each argument (1 for numbers)."""
    from werkzeug.routing import IntegerConverter

    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif name == "filename":
            values[name] = (
                "css/bootstrap.min.css" if rule.endpoint.startswith("bootstrap") else "css/app.css"
            )
        else:
            values[name] = "x"
    return rule.build(values)[1]


def routes(app, method: str):
    """``(endpoint, url)`` of every rule that accepts ``method``."""
    for rule in app.url_map.iter_rules():
        if method in rule.methods:
            yield rule.endpoint, example_url(rule)


def postgres_available() -> str | None:
    """None when the test PostgreSQL server answers, else why it does not."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return str(error).strip().splitlines()[0]
