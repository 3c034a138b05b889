"""SQLite held locked by another process for longer than the busy timeout (10 s): a send says
to try again (a 503 with the form, never a 500), records nothing and calls nobody; pages that
only read keep working; once the lock is gone the same form goes once."""

from __future__ import annotations

import html
import subprocess
import sys
import time

import pytest
from faulting import form_data
from sqlalchemy.engine import make_url
from support import query_scalar

#: Another process: takes SQLite's write lock, says so, and keeps it until it is killed.
HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(600)
"""


@pytest.fixture
def locker(app):
    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, path], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    yield process
    process.kill()
    process.wait(10)


# SQLite's own lock (PostgreSQL locks rows and tables: tests/services/test_send_outcomes.py).
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_send_while_another_process_holds_the_lock_says_try_again(
    app, support, sandbox, simulator, locker
):
    data = form_data(support.get("/send").get_data(as_text=True))
    before = (simulator.simulator.token_requests, simulator.simulator.sms_requests)
    events = query_scalar(app, "SELECT count(*) FROM audit_events")

    started = time.monotonic()
    response = support.post("/send", data=data)
    waited = time.monotonic() - started
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    page = html.unescape(response.get_data(as_text=True))
    assert "busy or unreachable, so nothing was recorded and nothing was sent" in page
    assert "try again in a moment." in page
    assert 10 <= waited < 15  # SQLite's busy timeout, then the answer
    assert support.get("/history").status_code == 200  # reading is not locked out

    locker.kill()
    locker.wait(10)
    assert query_scalar(app, "SELECT count(*) FROM attempts") == 0
    assert query_scalar(app, "SELECT count(*) FROM audit_events") == events
    assert (simulator.simulator.token_requests, simulator.simulator.sms_requests) == before

    assert support.post("/send", data=data).status_code == 302
    assert query_scalar(app, "SELECT status FROM attempts") == "accepted"
    assert simulator.simulator.sms_requests - before[1] == 1
