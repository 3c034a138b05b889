"""The endpoints for machines: /healthz (alive, no database), /readyz (database and migrations
at head), /metrics (Prometheus text behind a bearer token), with the counters moved by real
sends against the simulator on both databases.

The tests count in this process's default registry, which lives as long as the process: each
test compares what a scrape shows before and after what it does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import flask_migrate
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from support import PG_ADMIN_URL, base_config, csrf_token, postgres_available, query_scalar, sign_in

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import utcnow
from dashboard.services import readiness

TOKEN = "metrics-token-" + "x" * 32
BEARER = {"Authorization": f"Bearer {TOKEN}"}
KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')


def send(client, phone_number: str = "016-387 7652"):
    """Send a code through the send page, as support staff do."""
    page = client.get("/send").get_data(as_text=True)
    return client.post(
        "/send",
        data={
            "csrf_token": csrf_token(page),
            "idempotency_key": KEY_RE.search(page).group(1),
            "country_code": "60",
            "phone_number": phone_number,
            "reason": "Ticket 4711",
            "template": "default",
        },
    )


@pytest.fixture
def metered(app):
    """The app with DASHBOARD_METRICS_TOKEN set."""
    app.config["METRICS_TOKEN"] = TOKEN
    return app


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before, after, name: str, **labels: str) -> float:
    """How much the sample ``name{labels}`` grew between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)


# -- /metrics: who may read it ---------------------------------------------------------------


def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=BEARER).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN],
)
def test_metrics_refuse_a_missing_or_wrong_token(metered, client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "rm_sms" not in response.get_data(as_text=True)


def test_metrics_are_prometheus_text_for_the_token_holder_never_cached(metered, client):
    response = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers  # no session for a machine
    names = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {
        "rm_sms_sends",
        "rm_sms_provider_latency_seconds",
        "rm_sms_token_requests",
        "rm_sms_sign_ins",
        "rm_sms_pending_attempts",
        "rm_sms_oldest_pending_attempt_age_seconds",
    } <= names


def test_a_missing_count_directory_stops_start_up(tmp_path):
    missing = tmp_path / "not-made"
    started = subprocess.run(
        [sys.executable, "-c", "import dashboard.metrics"],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(missing)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert f"PROMETHEUS_MULTIPROC_DIR={missing} is not a directory" in started.stderr
    assert not missing.exists()


# -- what the counters count -----------------------------------------------------------------


def test_sends_count_by_environment_status_and_response_code(metered, support, sandbox, simulator):
    before = scrape(support)
    tokens_before = simulator.simulator.token_requests
    assert send(support, phone_number="016-387 7652").status_code == 302  # accepted
    assert send(support, phone_number="120000101").status_code == 302  # rejected: SMS_FAIL
    assert send(support, phone_number="016-387 7652").status_code == 302  # blocked: cooldown
    after = scrape(support)

    sent = {"name": "rm_sms_sends_total", "environment": "sandbox"}
    assert delta(before, after, **sent, status="accepted", response_code="SUCCESS") == 1
    assert delta(before, after, **sent, status="rejected", response_code="SMS_FAIL") == 1
    assert delta(before, after, **sent, status="blocked", response_code="LIMIT_COOLDOWN") == 1
    # RevenueMonster was called twice: the blocked send never reached it.
    assert delta(before, after, "rm_sms_provider_latency_seconds_count") == 2
    assert delta(before, after, "rm_sms_provider_latency_seconds_bucket", le="+Inf") == 2
    assert delta(before, after, "rm_sms_provider_latency_seconds_sum") > 0
    # One token for both sends, and the simulator saw exactly that one.
    assert simulator.simulator.token_requests - tokens_before == 1
    tokens = {"name": "rm_sms_token_requests_total", "environment": "sandbox"}
    assert delta(before, after, **tokens, outcome="success") == 1


def test_a_failed_token_request_is_counted_as_failed(metered, support, sandbox):
    metered.config["RM_URLS"] = {
        env: {"oauth": "http://127.0.0.1:9", "api": "http://127.0.0.1:9"}
        for env in ("sandbox", "production")
    }
    before = scrape(support)
    send(support)
    after = scrape(support)
    labels = {"environment": "sandbox"}
    assert delta(before, after, "rm_sms_token_requests_total", **labels, outcome="failed") == 1
    assert delta(before, after, "rm_sms_token_requests_total", **labels, outcome="success") == 0
    code = query_scalar(metered, "SELECT response_code FROM attempts")
    failed = delta(
        before, after, "rm_sms_sends_total", **labels, status="failed", response_code=code
    )
    assert failed == 1


def test_sign_ins_count_by_outcome(metered, client, make_user):
    make_user("agent@example.com", "support")
    before = scrape_anonymously(metered)
    assert sign_in(client, "agent@example.com", "not the password").status_code == 200
    assert sign_in(client, "nobody@example.com").status_code == 200
    assert sign_in(client, "agent@example.com").status_code == 302
    after = scrape_anonymously(metered)
    assert delta(before, after, "rm_sms_sign_ins_total", outcome="failure") == 2
    assert delta(before, after, "rm_sms_sign_ins_total", outcome="success") == 1


def scrape_anonymously(app):
    return scrape(app.test_client())


def test_pending_attempts_are_read_from_the_database(metered, support, sandbox):
    assert send(support).status_code == 302
    assert send(support, phone_number="012-345 6789").status_code == 302
    before = scrape(support)
    assert value(before, "rm_sms_pending_attempts") == 0
    assert value(before, "rm_sms_oldest_pending_attempt_age_seconds") == 0
    # As workers that died mid-send leave them: pending, the older one for 11 minutes.
    with metered.app_context():
        db.session.execute(
            text("UPDATE attempts SET status = 'pending', finished_at = NULL, created_at = :t"),
            {"t": utcnow() - timedelta(minutes=1)},
        )
        db.session.execute(
            text("UPDATE attempts SET created_at = :t WHERE id = (SELECT min(id) FROM attempts)"),
            {"t": utcnow() - timedelta(minutes=11)},
        )
        db.session.commit()
    after = scrape(support)
    assert value(after, "rm_sms_pending_attempts") == 2
    assert 11 * 60 <= value(after, "rm_sms_oldest_pending_attempt_age_seconds") < 12 * 60


# -- /healthz and /readyz --------------------------------------------------------------------


def test_healthz_and_readyz_answer_without_signing_in(client):
    assert client.get("/healthz").json == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "migrations": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_needs_no_database_readyz_says_it_is_unreachable(tmp_path):
    # Nothing listens on port 9: the database is down.
    url = "postgresql+psycopg://postgres@127.0.0.1:9/dashboard"
    app = create_app(base_config(url, "http://127.0.0.1:9", tmp_path / "instance"))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {
        "status": "error",
        "database": "unreachable",
        "migrations": "not checked",
    }


@pytest.fixture
def behind(database, tmp_path):
    """A database of its own, migrated to 0004 only (on the backend of ``database``)."""
    if database.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'behind.sqlite'}"
        dropped = None
    else:
        if problem := postgres_available():
            pytest.skip(problem)
        name = f"dashboard_test_behind_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        dropped = name
    app = create_app(base_config(url, "http://127.0.0.1:9", tmp_path / "instance"))
    with app.app_context():
        flask_migrate.upgrade(revision="0004")
        db.engine.dispose()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if dropped:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')


def test_readyz_is_503_when_the_migrations_are_behind(behind):
    client = behind.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "error", "database": "ok", "migrations": "behind"}
    assert client.get("/healthz").status_code == 200
    with behind.app_context():
        flask_migrate.upgrade()
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_is_empty_or_ahead(app, client):
    (head,) = app.extensions[readiness.EXTENSION].heads
    try:
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            db.session.commit()
        response = client.get("/readyz")
        assert (response.status_code, response.json["migrations"]) == (503, "ahead")
        with app.app_context():
            db.session.execute(text("DELETE FROM alembic_version"))
            db.session.commit()
        response = client.get("/readyz")
        assert (response.status_code, response.json["migrations"]) == (503, "not applied")
    finally:  # the PostgreSQL database is shared by the tests that follow
        with app.app_context():
            db.session.execute(text("DELETE FROM alembic_version"))
            db.session.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
            db.session.commit()
    assert client.get("/readyz").status_code == 200


def test_the_expected_revisions_are_alembics(app):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    folder = Path(__file__).resolve().parents[1] / "migrations"
    config.set_main_option("script_location", str(folder))
    script = ScriptDirectory.from_config(config)
    read = app.extensions[readiness.EXTENSION]
    assert read.heads == frozenset(script.get_heads()) and len(read.heads) == 1
    assert read.known == {rev.revision for rev in script.walk_revisions()}
