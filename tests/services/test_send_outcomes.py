"""Outcomes are never lost (issue 16): a database that refuses to record the provider's answer
is tried again, and the page says what RevenueMonster answered; one that refuses the attempt
itself sends nothing and says to try again; a redirect of the SMS request is unknown. On both
databases, the refusals made by another connection holding a lock."""

from __future__ import annotations

import html
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import event
from sqlalchemy.engine import make_url
from support import query_scalar
from test_send import only_attempt, send, send_form

from dashboard.extensions import db
from dashboard.models import utcnow
from dashboard.services import sending

#: How long the app waits for a lock in these tests (SQLite's busy timeout, PostgreSQL's
#: lock_timeout), so that a refusal comes in a fraction of a second instead of 10 s or never.
QUICK_WAIT_MS = 300


class DatabaseLock:
    """Another connection locking the dashboard's database, as a long writer or a stuck
    transaction would: SQLite whole (BEGIN EXCLUSIVE); PostgreSQL one ``table``, or else the
    rows of the pending attempts (SELECT … FOR UPDATE)."""

    def __init__(self, app: Flask, *, table: str | None = None) -> None:
        self.url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        self.table = table
        self.refusals = 0
        self._connection: sqlite3.Connection | psycopg.Connection | None = None
        self._guard = threading.Lock()

    def take(self) -> None:
        with self._guard:
            if self._connection is not None:
                return
            if self.url.get_backend_name() == "sqlite":
                lite = sqlite3.connect(
                    self.url.database or "", isolation_level=None, check_same_thread=False
                )
                lite.execute("BEGIN EXCLUSIVE")
                self._connection = lite
                return
            pg = psycopg.connect(self.url.set(drivername="postgresql").render_as_string(False))
            if self.table:
                pg.execute(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE")
            else:
                pg.execute("SELECT id FROM attempts WHERE status = 'pending' FOR UPDATE")
            self._connection = pg

    def release(self) -> None:
        with self._guard:
            if self._connection is not None:
                self._connection.rollback()
                self._connection.close()
                self._connection = None

    def release_on_error(self, context: object) -> None:
        """A ``handle_error`` listener: the database refuses once, then is free again."""
        self.refusals += 1
        self.release()


@pytest.fixture
def quick_refusals(app: Flask) -> Iterator[None]:
    """Cut the app's waits for a lock short (on connections made from now on)."""

    def shorten(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor.execute(f"PRAGMA busy_timeout={QUICK_WAIT_MS}")
        else:
            cursor.execute(f"SET lock_timeout = {QUICK_WAIT_MS}")
            dbapi_connection.commit()  # a SET rolled back with its transaction is undone
        cursor.close()

    with app.app_context():
        engine = db.engine
        event.listen(engine, "connect", shorten)
        engine.dispose()
    yield
    event.remove(engine, "connect", shorten)


@pytest.fixture(autouse=True)
def _no_hook_left(simulator) -> Iterator[None]:
    yield
    simulator.simulator.on_request = None


def test_an_answer_the_database_refuses_to_record_is_shown_not_lost(
    app, support, sandbox, simulator, quick_refusals
):
    """The attempt is locked by another connection while RevenueMonster accepts the SMS: three
    tries, then the page says that RevenueMonster accepted it and what the record will say;
    reconciling later makes it unknown and sends nothing again."""
    lock = DatabaseLock(app)
    simulator.simulator.on_request = lambda path: lock.take() if path == "/v3/sms" else None
    before = simulator.simulator.sms_requests
    tries = []
    with app.app_context():
        engine = db.engine
    count_try = lambda context: tries.append(1)  # noqa: E731
    event.listen(engine, "handle_error", count_try)
    try:
        started = time.monotonic()
        response = send(support)
        took = time.monotonic() - started
        # While the lock holds, the record still reads pending.
        assert query_scalar(app, "SELECT status FROM attempts") == "pending"
    finally:
        event.remove(engine, "handle_error", count_try)
        lock.release()
    assert response.status_code == 200  # the answer itself, not a redirect to the record
    page = html.unescape(response.get_data(as_text=True))
    assert "RevenueMonster accepted the SMS for sending." in page
    assert "This answer is not in the history." in page
    assert "the history shows this send as Pending, then Unknown within a few minutes" in page
    assert "Nothing more was done" not in page and "SUCCESS" in page
    assert len(tries) == 3
    assert 1.0 + 3 * QUICK_WAIT_MS / 1000 <= took < 8  # the pauses and waits, briefly
    assert simulator.simulator.sms_requests - before == 1
    assert len([m for m in simulator.simulator.inbox if m["client_id"] == sandbox]) == 1

    with freeze_time(utcnow() + sending.STALE_AFTER), app.app_context():
        assert sending.reconcile_stale_attempts() == 1
    attempt = only_attempt(app)
    assert (attempt.status, attempt.response_code) == ("unknown", "NO_OUTCOME")
    assert simulator.simulator.sms_requests - before == 1  # never resent


def test_a_write_refused_once_is_recorded_on_the_next_try(
    app, support, sandbox, simulator, quick_refusals
):
    lock = DatabaseLock(app)
    simulator.simulator.on_request = lambda path: lock.take() if path == "/v3/sms" else None
    with app.app_context():
        engine = db.engine
    event.listen(engine, "handle_error", lock.release_on_error)
    try:
        response = send(support)
    finally:
        event.remove(engine, "handle_error", lock.release_on_error)
        lock.release()
    assert response.status_code == 302
    assert lock.refusals == 1
    attempt = only_attempt(app)
    assert (attempt.status, attempt.response_code, attempt.http_status) == (
        "accepted",
        "SUCCESS",
        200,
    )


def test_a_database_too_busy_to_record_the_attempt_sends_nothing(
    app, support, sandbox, simulator, quick_refusals
):
    """Locked before the send (SQLite whole, PostgreSQL's attempts table): a 503 with the form
    and a "try again", no attempt, no provider call; the same form then goes once."""
    data = send_form(support)
    before = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    lock = DatabaseLock(app, table="attempts")
    lock.take()
    try:
        response = support.post("/send", data=data)
    finally:
        lock.release()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    page = html.unescape(response.get_data(as_text=True))
    assert "nothing was recorded and nothing was sent: try again in a moment." in page
    assert data["idempotency_key"] in page  # the same form, ready to go again
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0
    assert (simulator.simulator.token_requests, simulator.simulator.sms_requests) == before

    assert support.post("/send", data=data).status_code == 302
    assert only_attempt(app).status == "accepted"
    assert simulator.simulator.sms_requests - before[1] == 1


class _Redirecting(BaseHTTPRequestHandler):
    """An SMS endpoint that answers every request with a redirect."""

    requests = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(302)
        self.send_header("Location", "https://elsewhere.test/v3/sms")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_a_redirect_of_the_sms_request_is_unknown(app, support, sandbox, simulator):
    """The request reached a server, which may have acted on it: unknown, never followed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Redirecting.requests = 0
    api = f"http://127.0.0.1:{server.server_address[1]}"
    app.config["RM_URLS"] = {
        **app.config["RM_URLS"],
        "sandbox": {"oauth": simulator.url, "api": api},
    }
    try:
        response = send(support)
    finally:
        server.shutdown()
        server.server_close()
    page = support.get(response.headers["Location"]).get_data(as_text=True)
    assert "Unknown" in page and "HTTP_302" in page and "may have been sent" in page
    attempt = only_attempt(app)
    assert (attempt.status, attempt.response_code, attempt.http_status) == (
        "unknown",
        "HTTP_302",
        302,
    )
    assert _Redirecting.requests == 1
