"""docs/deploy/postgresql-roles.sql (LG-4, LG-7 in production): the app's role may read and
append to the audit log but not change, delete or truncate it, and the app works as that role."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from support import PASSWORD, PG_ADMIN_URL, base_config, csrf_token, migrate, postgres_available

from dashboard import create_app
from dashboard.extensions import db
from dashboard.services import users

ROLES_SQL = Path(__file__).parents[2] / "docs" / "deploy" / "postgresql-roles.sql"

pytestmark = pytest.mark.postgres


@pytest.fixture
def deployment(tmp_path):
    """A database of its own, with the file's roles (renamed with the same random suffix, so
    that runs in parallel do not share them); dropped afterwards, roles and all."""
    problem = postgres_available()
    if problem:
        pytest.skip(f"PostgreSQL is unreachable: {problem}")
    suffix = uuid.uuid4().hex[:10]
    name, owner, app_role = (
        f"roles_{suffix}",
        f"dashboard_owner_{suffix}",
        f"dashboard_app_{suffix}",
    )
    script = (
        ROLES_SQL.read_text().replace("dashboard_owner", owner).replace("dashboard_app", app_role)
    )
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:

        def apply() -> None:
            with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
                conn.execute(script)

        apply()
        migrate(f"{base.replace('postgres@', owner + '@')}/{name}", tmp_path)
        apply()
        yield f"{base.replace('postgres@', app_role + '@')}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in (app_role, owner):
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_LG4_the_apps_role_can_append_to_the_audit_log_but_never_change_it(deployment, tmp_path):
    app = create_app(base_config(deployment, "http://127.0.0.1:9", tmp_path / "instance"))
    with app.app_context():
        users.create_user("agent@example.com", "support", "test", password=PASSWORD)
        db.engine.dispose()
    client = app.test_client()
    for _ in range(2):  # a refusal, then one counted on it (an UPDATE of audit_repeats)
        token = csrf_token(client.get("/login").text)
        client.post(
            "/login", data={"email": "nobody@example.com", "password": "x", "csrf_token": token}
        )
    token = csrf_token(client.get("/login").text)
    signed_in = client.post(
        "/login", data={"email": "agent@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert signed_in.status_code == 302  # throttles, sessions, users: the app works
    runner = app.test_cli_runner()
    checkpoint = runner.invoke(args=["audit", "checkpoint"])
    assert checkpoint.exit_code == 0, checkpoint.output
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "3 events checked" in verified.output, verified.output

    with psycopg.connect(deployment, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM audit_repeats WHERE count = 1").fetchone() == (1,)
        for table in ("audit_events", "audit_checkpoints"):
            for statement in (
                f"UPDATE {table} SET created_at = now()",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
                f"ALTER TABLE {table} DISABLE TRIGGER USER",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == (3,)
