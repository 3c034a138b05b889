"""Exports at scale, on both databases: audited before the first byte and after the last,
read in batches with no transaction left open while the download goes on, refused above
DASHBOARD_EXPORT_MAX_ROWS, and in the same format as ever."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, update
from support import csrf_token, db_kind, query_scalar
from support.bulk import FORMULA, MULTILINE, seed_attempts

from dashboard.database import write_transaction
from dashboard.extensions import db
from dashboard.models import Attempt, User, utcnow
from dashboard.services import exports
from dashboard.services.history import Filters
from dashboard.services.users import find_by_email

#: 200,000 rows on each database (seeded in about 5 s); benchmarks/export.py measures 1,000,000.
LARGE = 200_000


@pytest.fixture
def auditor_id(app, auditor) -> int:
    with app.app_context():
        return find_by_email("auditor@example.com").id


def post_export(client, fmt: str, **filters: str):
    page = client.get("/history").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "format": fmt, **filters}
    return client.post("/history/export", data=data, buffered=False)


@contextlib.contextmanager
def outside(app) -> Iterator[Any]:
    """A connection of the test's own, beside the app's: what it sees is committed."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "sqlite":
        con = sqlite3.connect(url.database, isolation_level=None)
        try:
            yield con
        finally:
            con.close()
    else:
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as con:
            con.autocommit = True
            yield con


def events(con, action: str) -> list[int]:
    found = con.execute(f"SELECT id FROM audit_events WHERE action = '{action}' ORDER BY id")
    return [row[0] for row in found.fetchall()]


def no_transaction_is_open(app, con) -> bool:
    """SQLite: the WAL can be truncated, which a reader's open snapshot forbids. PostgreSQL:
    no connection of the test database is idle in a transaction."""
    if db_kind(app) == "sqlite":
        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0
    idle = con.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state LIKE 'idle in transaction%%'"
    ).fetchone()[0]
    return idle == 0


def test_a_large_export_is_audited_before_its_first_byte_and_matches_its_manifest(
    app, auditor, auditor_id
):
    seed_attempts(app, LARGE, user_id=auditor_id, start=utcnow() - timedelta(days=3))
    started_at = time.perf_counter()
    response = post_export(auditor, "csv")
    assert response.status_code == 200
    chunks = iter(response.response)
    body = [next(chunks), next(chunks)]  # the header, then the first batch
    with outside(app) as con:
        started = events(con, exports.STARTED)
        assert len(started) == 1, "the start is committed before the first byte"
        assert events(con, exports.ACTION) == [], "and the end is not there yet"
        assert no_transaction_is_open(app, con), "no read transaction waits for the client"
    body.extend(chunks)
    seconds = time.perf_counter() - started_at
    data = b"".join(body)
    lines = data.decode().splitlines()  # a quoted newline in a cell splits a line: parse it
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert rows[0] == list(exports.COLUMNS) and len(rows) == LARGE + 1 and len(lines) > LARGE
    first_id = query_scalar(app, "SELECT public_id FROM attempts ORDER BY id DESC LIMIT 1")
    assert rows[1][0] == first_id and rows[-1][0] == "00000001-0000-4000-8000-000000000000"
    finished = query_scalar(app, "SELECT max(id) FROM audit_events WHERE action = 'history.export'")
    manifest = auditor.get(f"/history/exports/{finished}/manifest.json").json
    assert manifest["rows"] == LARGE and manifest["complete"] is True
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["started"] == started[0] and manifest["finished"] is True
    assert (
        manifest["time_range"]["to"] == rows[1][1] and manifest["time_range"]["from"] == rows[-1][1]
    )
    assert auditor.get(f"/history/exports/{started[0]}/manifest.json").json == manifest
    print(f"{db_kind(app)}: {LARGE:,} rows exported in {seconds:.1f} s")


def reference_records(app) -> list[dict[str, Any]]:
    """The attempts as the export before issue 16 wrote them (with issue 17's code-check
    columns): from ORM objects, row by row."""
    with app.app_context():
        found = []
        for a in db.session.scalars(select(Attempt).order_by(Attempt.id.desc())):
            found.append(
                {
                    "id": a.public_id,
                    "created_at": a.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "finished_at": a.finished_at and a.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "environment": a.environment,
                    "phone_e164": a.phone_e164,
                    "country_code": a.country_code,
                    "national_number": a.national_number,
                    "status": a.status,
                    "response_code": a.response_code,
                    "response_message": a.response_message,
                    "http_status": a.http_status,
                    "latency_ms": a.latency_ms,
                    "reason": a.reason,
                    "sender": a.user.email,
                    "resend_of": a.resend_of.public_id if a.resend_of is not None else None,
                    "code_checked_at": a.code_verified_at
                    and a.code_verified_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "code_check_result": "right"
                    if a.code_verified_at
                    else "ended"
                    if a.code_ended_at
                    else "wrong"
                    if a.code_failed_checks
                    else None,
                    "wrong_checks": a.code_failed_checks,
                }
            )
        return found


def checked(app) -> None:
    """Code checks on some of the seeded attempts: wrong tries on every 3rd, the code used on
    every 7th (a minute after the send), ended unused on every 11th."""
    with app.app_context(), write_transaction():
        db.session.execute(
            update(Attempt).where(Attempt.id % 3 == 0).values(code_failed_checks=Attempt.id % 6)
        )
        for every, column in ((7, "code_verified_at"), (11, "code_ended_at")):
            for attempt in db.session.scalars(select(Attempt).where(Attempt.id % every == 0)):
                setattr(attempt, column, attempt.created_at + timedelta(seconds=61.5))


def test_csv_and_json_lines_are_byte_for_byte_the_format_they_were(app, auditor, auditor_id):
    """Across batches, with resends, empty cells, quotes, newlines, formulas and times with
    microseconds (cut to the second, never rounded up)."""
    seed_attempts(
        app, 2 * exports.BATCH_SIZE + 7, user_id=auditor_id, start=utcnow() - timedelta(days=1)
    )
    checked(app)
    expected = reference_records(app)
    assert {r["code_check_result"] for r in expected} == {"right", "ended", "wrong", None}
    assert any(r["resend_of"] for r in expected) and any(r["reason"] == FORMULA for r in expected)
    assert any(r["response_message"] == MULTILINE for r in expected)
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in expected]
    assert post_export(auditor, "jsonl").get_data() == "".join(lines).encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(exports.COLUMNS)
    for r in expected:
        writer.writerow([exports.escape_cell(r[c]) for c in exports.COLUMNS])
    assert post_export(auditor, "csv").get_data() == buffer.getvalue().encode()


def test_above_the_cap_the_export_is_refused_on_the_page_and_not_started(app, auditor, auditor_id):
    seed_attempts(app, 12, user_id=auditor_id, start=utcnow() - timedelta(hours=1))
    app.config["EXPORT_MAX_ROWS"] = 10
    assert post_export(auditor, "csv", environment="sandbox").status_code == 200  # 10 match
    assert post_export(auditor, "jsonl", status="accepted").status_code == 200  # 10 too
    refused = post_export(auditor, "csv", match="ends", q="")  # all 12
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert "More than 10 attempts match these filters" in page and "Narrow the filters" in page
    started = "SELECT count(*) FROM audit_events WHERE action = 'history.export_started'"
    assert query_scalar(app, started) == 2


def test_the_refusal_keeps_the_filters_on_the_export_form(app, auditor, auditor_id):
    seed_attempts(app, 30, user_id=auditor_id, start=utcnow() - timedelta(hours=1))
    app.config["EXPORT_MAX_ROWS"] = 5
    refused = post_export(auditor, "csv", environment="sandbox")
    page = refused.get_data(as_text=True)
    export_form = page.split('action="/history/export"')[1].split("</form>")[0]
    assert refused.status_code == 400 and "data-export-refused" in export_form
    assert '<input type="hidden" name="environment" value="sandbox">' in export_form
    assert export_form.count('name="csrf_token"') == 1 and export_form.count('name="format"') == 2
    started = "SELECT count(*) FROM audit_events WHERE action = 'history.export_started'"
    assert query_scalar(app, started) == 0


def test_an_export_cut_off_is_accounted_for(app, auditor, auditor_id):
    seed_attempts(
        app, exports.BATCH_SIZE + 10, user_id=auditor_id, start=utcnow() - timedelta(days=1)
    )
    response = post_export(auditor, "jsonl")
    chunks = iter(response.response)
    first = next(chunks)
    response.close()  # the client went away after the first batch
    finished = query_scalar(app, "SELECT max(id) FROM audit_events WHERE action = 'history.export'")
    manifest = auditor.get(f"/history/exports/{finished}/manifest.json").json
    assert manifest["complete"] is False and manifest["finished"] is True
    assert manifest["rows"] == exports.BATCH_SIZE == first.count(b"\n")
    assert manifest["sha256"] == hashlib.sha256(first).hexdigest()


def test_an_export_whose_worker_died_says_so_in_its_manifest(app, auditor, auditor_id):
    """A worker killed on its timeout runs no ``finally``: only the start is in the log."""
    seed_attempts(app, 3, user_id=auditor_id, start=utcnow() - timedelta(days=1))
    with app.test_request_context():
        user = db.session.get(User, auditor_id)
        exports.start(Filters(status="accepted"), "csv", user)  # never read: never ends
    started = query_scalar(
        app, "SELECT max(id) FROM audit_events WHERE action = 'history.export_started'"
    )
    manifest = auditor.get(f"/history/exports/{started}/manifest.json").json
    assert manifest["finished"] is False and manifest["complete"] is False
    assert manifest["rows"] is None and manifest["sha256"] is None
    assert manifest["format"] == "csv" and manifest["filters"] == {"status": "accepted"}
    assert manifest["exported_by"] == "auditor@example.com"
