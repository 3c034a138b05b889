"""Helpers the tests share: the test password, CSRF tokens, signing in, a quick query."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from dashboard import create_app
from dashboard.extensions import db

PASSWORD = "correct horse battery staple"
ENCRYPTION_KEYS = "k1:" + base64.b64encode(b"k" * 32).decode()
SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def query_scalar(app: Flask, sql: str, **params):
    with app.app_context():
        return db.session.execute(text(sql), params).scalar()


def base_config(database_url: str, simulator_url: str, instance_path: Path) -> dict[str, object]:
    return {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "INSTANCE_PATH": str(instance_path),
        "RM_SANDBOX_OAUTH_URL": simulator_url,
        "RM_SANDBOX_API_URL": simulator_url,
        "RM_PRODUCTION_OAUTH_URL": simulator_url,
        "RM_PRODUCTION_API_URL": simulator_url,
        "RM_TIMEOUT_SECONDS": 1.0,
    }


def migrate(url: str, instance_path: Path) -> None:
    import flask_migrate

    app = create_app(base_config(url, "http://127.0.0.1:9", instance_path))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
