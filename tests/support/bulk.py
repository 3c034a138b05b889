"""Many attempts at once, written by the database itself (a recursive CTE on SQLite,
generate_series on PostgreSQL): hundreds of thousands in seconds, where the ORM would take
minutes. Row ``i`` of a call gets the id ``first + i`` and a created_at ``step`` seconds after
the previous row's, with microseconds (to check that exports cut times to the second), and:

- every 20th is rejected (SMS_FAIL, 400) and the one after it unknown (no answer, no latency);
- every 10th has no finished_at;
- every 50th repeats the attempt just before it (``resend_of_id``);
- every 500th has a response message with a newline, quotes and a comma;
- every 1,000th has a reason that a spreadsheet would run (=HYPERLINK(…)).
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy import text

from dashboard.extensions import db

MULTILINE = 'Line one\nline "two", three'
FORMULA = '=HYPERLINK("http://x.example")'

_COMMON = """
  CASE WHEN i % 7 = 0 THEN 'production' ELSE 'sandbox' END,
  '60', {national}, '+60' || {national}, '', 'Your code is ******.', FALSE, 0,
  CASE WHEN i % 1000 = 0 THEN :formula ELSE 'Ticket ' || (:first + i) END,
  CASE i % 20 WHEN 0 THEN 'rejected' WHEN 1 THEN 'unknown' ELSE :status END,
  CASE i % 20 WHEN 0 THEN 'SMS_FAIL' WHEN 1 THEN NULL ELSE 'SUCCESS' END,
  CASE WHEN i % 500 = 0 THEN :multiline WHEN i % 20 = 1 THEN NULL ELSE 'Success' END,
  CASE i % 20 WHEN 0 THEN 400 WHEN 1 THEN NULL ELSE 200 END,
  CASE WHEN i % 20 = 1 THEN NULL ELSE i % 900 END,
  'seed-' || (:first + i),
  CASE WHEN i % 50 = 49 THEN :first + i - 1 END,
  TRUE, :user
"""
_COLUMNS = """(id, public_id, created_at, finished_at, environment, country_code,
  national_number, phone_e164, phone_reversed, message_masked, message_edited,
  code_failed_checks, reason, status, response_code, response_message, http_status,
  latency_ms, idempotency_key, resend_of_id, number_visible_to_sender, user_id)"""

SQLITE = (
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :count - 1) "
    f"INSERT INTO attempts {_COLUMNS} SELECT :first + i,"
    " printf('%08x-0000-4000-8000-%012x', :first + i, i),"
    " printf('%s.%06d', datetime(:start + i * :step, 'unixepoch'), (i * 7919) % 1000000),"
    " CASE WHEN i % 10 = 0 THEN NULL"
    " ELSE printf('%s.999999', datetime(:start + i * :step + 1, 'unixepoch')) END,"
    + _COMMON.format(national="printf('12%07d', i % 10000000)")
    + " FROM n"
)
POSTGRESQL = (
    f"INSERT INTO attempts {_COLUMNS} SELECT :first + i,"
    " lpad(to_hex(:first + i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'),"
    " to_timestamp(:start + i * :step) + make_interval(secs => ((i * 7919) % 1000000) / 1e6),"
    " CASE WHEN i % 10 = 0 THEN NULL"
    " ELSE to_timestamp(:start + i * :step + 1) + interval '0.999999 s' END,"
    + _COMMON.format(national="'12' || lpad((i % 10000000)::text, 7, '0')")
    + " FROM generate_series(0, :count - 1) AS i"
)


def seed_attempts(
    app: Flask,
    count: int,
    *,
    user_id: int,
    start: datetime,
    step: int = 1,
    status: str = "accepted",
) -> range:
    """Insert ``count`` attempts sent by ``user_id``, the first at ``start`` (to the second),
    with ``status`` but for the rejected and unknown ones; return their ids."""
    with app.app_context():
        first = int(db.session.scalar(text("SELECT coalesce(max(id), 0) + 1 FROM attempts")))
        dialect = db.engine.dialect.name
        db.session.execute(
            text(SQLITE if dialect == "sqlite" else POSTGRESQL),
            {
                "count": count,
                "first": first,
                "start": int(start.timestamp()),
                "step": step,
                "user": user_id,
                "status": status,
                "formula": FORMULA,
                "multiline": MULTILINE,
            },
        )
        if dialect == "postgresql":
            db.session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('attempts', 'id'), max(id)) FROM attempts"
                )
            )
        db.session.commit()
        db.engine.dispose()
    return range(first, first + count)
