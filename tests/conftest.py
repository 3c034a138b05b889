"""Shared fixtures: a real database (SQLite file and PostgreSQL, each test on both), the
RevenueMonster simulator over real HTTP, and signed-in clients."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import (
    PASSWORD,
    PG_ADMIN_URL,
    REQUIRE_POSTGRES,
    base_config,
    enrol_two_step,
    migrate,
    postgres_available,
    sandbox_secret,
    sign_in,
)

from dashboard import create_app
from dashboard.extensions import db
from dashboard.revenuemonster import keys
from dashboard.revenuemonster.testing.serving import serve_in_thread
from dashboard.revenuemonster.testing.simulator import Simulator
from dashboard.services import provider_accounts, users


class SQLiteDatabase:
    """A migrated template file, copied afresh for every test."""

    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.template = workdir / "template.sqlite"
        migrate(f"sqlite:///{self.template}", workdir)

    def fresh(self, tmp_path: Path) -> str:
        target = tmp_path / "dashboard.sqlite"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def close(self) -> None:
        pass


class PostgresDatabase:
    """A database of this run's own, migrated once; every table emptied before each test."""

    name = "postgresql"

    def __init__(self, workdir: Path) -> None:
        self.dbname = f"dashboard_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.dbname
        migrate(self.url, workdir)

    def fresh(self, tmp_path: Path) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'"
                )
            ]
            # The audit log refuses TRUNCATE (a trigger, as in production); between tests a
            # superuser empties it anyway, with triggers off for this connection only.
            conn.execute("SET session_replication_role = replica")
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        return self.url

    def close(self) -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp(request.param)
    if request.param == "postgresql":
        problem = postgres_available()
        if problem:
            message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {problem}"
            if REQUIRE_POSTGRES:
                pytest.fail(message + " (DASHBOARD_TEST_REQUIRE_POSTGRES=1)")
            pytest.skip(message)
        backend: SQLiteDatabase | PostgresDatabase = PostgresDatabase(workdir)
    else:
        backend = SQLiteDatabase(workdir)
    yield backend
    backend.close()


@dataclass
class RunningSimulator:
    simulator: Simulator
    url: str


@pytest.fixture(scope="session")
def simulator() -> Iterator[RunningSimulator]:
    sim = Simulator(slow_seconds=3.0)
    server, url = serve_in_thread(sim)
    yield RunningSimulator(sim, url)
    server.shutdown()


@pytest.fixture(scope="session")
def private_key():
    return keys.generate_private_key()


@pytest.fixture
def app(database, simulator: RunningSimulator, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(base_config(database.fresh(tmp_path), simulator.url, tmp_path / "instance"))
    app.config["DATABASE_BACKEND"] = database.name
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_user(app: Flask):
    """Create a user; admins (who must sign in with two steps) are enrolled unless told not."""

    def make(email: str, role: str, password: str = PASSWORD, *, two_step: bool | None = None):
        with app.app_context():
            user, _ = users.create_user(email, role, "test", password=password)
            user_id = user.id
        if two_step or (two_step is None and role == "admin"):
            enrol_two_step(app, user_id)
        return user_id

    return make


@pytest.fixture
def sandbox(app: Flask, simulator: RunningSimulator, private_key) -> str:
    """Sandbox credentials registered with the simulator and stored in the dashboard."""
    client_id = f"client-{uuid.uuid4().hex[:8]}"
    secret = sandbox_secret(client_id)
    simulator.simulator.register_client(client_id, secret, keys.public_key_pem(private_key))
    with app.app_context():
        provider_accounts.configure(
            "sandbox",
            "test",
            client_id=client_id,
            client_secret=secret,
            private_key_pem=keys.private_key_pem(private_key),
        )
    return client_id


@pytest.fixture
def support(client: FlaskClient, make_user) -> FlaskClient:
    make_user("agent@example.com", "support")
    assert sign_in(client, "agent@example.com").status_code == 302
    return client


@pytest.fixture
def auditor(client: FlaskClient, make_user) -> FlaskClient:
    make_user("auditor@example.com", "auditor")
    assert sign_in(client, "auditor@example.com").status_code == 302
    return client
