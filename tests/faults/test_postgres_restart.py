"""PostgreSQL stopped, started and restarted under a running app, on a cluster of the suite's
own (port 5439) so the rest of the suite is not disturbed: while it is down a send fails
clearly and calls nobody; once it is back the next requests work; a send whose database goes
away while RevenueMonster answers still shows the answer; nothing recorded is lost."""

from __future__ import annotations

import dataclasses
import html
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from faulting import Browser, Cluster, Gunicorn, settings_environment
from flask import Flask
from support import PASSWORD, base_config, migrate, sandbox_secret

from dashboard import create_app
from dashboard.extensions import db
from dashboard.revenuemonster import keys
from dashboard.services import limits, provider_accounts, users

PORT = 5439


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    own = Cluster("faults", PORT)
    own.create()
    yield own
    own.drop()


@pytest.fixture
def running(cluster, simulator, private_key, tmp_path) -> Iterator[Flask]:
    """A migrated database on the cluster, an app on it with sandbox credentials registered
    with the simulator, and a support agent."""
    if not _up(cluster):
        cluster.ctl("start")
    name = f"faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:{PORT}/{name}"
    migrate(url, tmp_path)
    # A read timeout long enough for the database to be stopped while the SMS is answered.
    app = create_app({**base_config(url, simulator.url, tmp_path / "i"), "RM_TIMEOUT_SECONDS": 8})
    client_id = f"client-{uuid.uuid4().hex[:8]}"
    simulator.simulator.register_client(
        client_id, sandbox_secret(client_id), keys.public_key_pem(private_key)
    )
    with app.app_context():
        users.create_user("agent@example.com", "support", "test", password=PASSWORD)
        limits.save(dataclasses.replace(limits.current(), cooldown_seconds=0), "test")
        provider_accounts.configure(
            "sandbox",
            "test",
            client_id=client_id,
            client_secret=sandbox_secret(client_id),
            private_key_pem=keys.private_key_pem(private_key),
        )
    app.config["FAULTS_CLIENT_ID"] = client_id
    yield app
    simulator.simulator.on_request = None
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if not _up(cluster):
        cluster.ctl("start")


def _up(cluster: Cluster) -> bool:
    try:
        psycopg.connect(cluster.admin_url, connect_timeout=2).close()
        return True
    except psycopg.OperationalError:
        return False


@pytest.fixture
def served(running, simulator, tmp_path) -> Iterator[Gunicorn]:
    env = settings_environment(
        running.config["SQLALCHEMY_DATABASE_URI"],
        simulator.url,
        tmp_path / "gunicorn-instance",
        RM_TIMEOUT_SECONDS=8,
    )
    server = Gunicorn.start(env, tmp_path)
    yield server
    server.stop()


def statuses(app: Flask) -> list[str]:
    """Read on a connection of its own: the test app's pooled ones died with the server."""
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection:
        return [row[0] for row in connection.execute("SELECT status FROM attempts ORDER BY id")]


def pre_pinged(app: Flask) -> bool:
    return bool(app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"))


def test_after_a_restart_the_next_requests_work(running, served, cluster, simulator):
    browser = Browser(served.url, "agent@example.com")
    assert browser.post_send(browser.send_form()).status_code == 302  # a pooled connection
    cluster.ctl("restart")
    answers = [browser.get(path).status_code for path in ("/history", "/send", "/history")]
    answers.append(browser.post_send(browser.send_form()).status_code)
    assert pre_pinged(running)  # config._engine_options
    assert answers == [200, 200, 200, 302], answers
    assert statuses(running) == ["accepted", "accepted"]


def test_while_down_a_send_calls_nobody_and_nothing_is_lost(running, served, cluster, simulator):
    browser = Browser(served.url, "agent@example.com")
    assert browser.post_send(browser.send_form()).status_code == 302
    data = browser.send_form()
    before = (simulator.simulator.token_requests, simulator.simulator.sms_requests)

    cluster.ctl("stop")
    down = browser.post_send(data)
    assert down.status_code == 503 and "Traceback" not in down.text
    assert (simulator.simulator.token_requests, simulator.simulator.sms_requests) == before

    cluster.ctl("start")
    assert browser.get("/history").status_code == 200  # the next request after it is back
    assert browser.post_send(data).status_code == 302  # the same form goes, once
    assert statuses(running) == ["accepted", "accepted"]
    assert simulator.simulator.sms_requests - before[1] == 1


def test_while_down_the_error_page_says_so(running, served, cluster):
    browser = Browser(served.url, "agent@example.com")
    data = browser.send_form()
    cluster.ctl("stop")
    down = browser.post_send(data)
    assert down.status_code == 503
    assert "database" in down.text and "Try again" in down.text


def test_a_database_gone_while_the_sms_is_accepted_still_shows_the_answer(
    running, served, cluster, simulator
):
    browser = Browser(served.url, "agent@example.com")
    data = browser.send_form()
    simulator.simulator.on_request = lambda path: cluster.ctl("stop") if path == "/v3/sms" else None
    before = simulator.simulator.sms_requests
    response = browser.post_send(data)
    simulator.simulator.on_request = None
    page = html.unescape(response.text)
    assert response.status_code == 200
    assert "RevenueMonster accepted the SMS for sending." in page
    assert "This answer is not in the history." in page
    assert simulator.simulator.sms_requests - before == 1

    cluster.ctl("start")
    assert statuses(running) == ["pending"]  # until reconciled into unknown
    client_id = running.config["FAULTS_CLIENT_ID"]
    assert len([m for m in simulator.simulator.inbox if m["client_id"] == client_id]) == 1
