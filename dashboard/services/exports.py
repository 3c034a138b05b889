"""Exports of the history: CSV or JSON Lines, streamed in constant memory, with cells a
spreadsheet would run escaped, and each export audited twice: when it starts (committed before
the first byte, so no data leaves unaccounted for even if the worker is killed mid-stream) and
when it ends, with its manifest (rows, SHA-256 of the bytes, complete or not).

An export is read in keyset batches, each in a short read transaction of its own that is ended
before the batch is sent: no transaction stays open while a slow client downloads, and a purge
or a send never waits for one. A batch is plain columns, the sender's email and the repeated
attempt's public id joined in, times formatted by the database: an export of the cap
(``DASHBOARD_EXPORT_MAX_ROWS``) must stream within the worker timeout (figures in
docs/performance.md). Each batch reads what is committed when it runs; the attempts exported
are those that existed when the export started (ids up to the newest one then).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from flask import current_app
from sqlalchemy import Select, String, case, func, select, type_coerce
from sqlalchemy.orm import aliased

from ..database import end_read_transaction, write_transaction
from ..extensions import db
from ..models import Attempt, AuditEvent, User, utcnow
from . import audit
from .history import Filters, capped_count, query

FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
COLUMNS = (
    "id",
    "created_at",
    "finished_at",
    "environment",
    "phone_e164",
    "country_code",
    "national_number",
    "status",
    "response_code",
    "response_message",
    "http_status",
    "latency_ms",
    "reason",
    "sender",
    "resend_of",
    "code_checked_at",
    "code_check_result",
    "wrong_checks",
)
#: ``code_check_result``: the code was used ("right"), ended unused when another code of the
#: number was used or the number's wrong tries ran out ("ended"), or tried wrongly only
#: ("wrong"); empty when nobody checked it. ``wrong_checks`` counts the wrong tries for the
#: number made while this code was valid (services.code_checks).
CHECK_RESULTS = ("right", "ended", "wrong")
#: A cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
STARTED = "history.export_started"  # audited before the first byte
ACTION = "history.export"  # audited after the last one: the manifest
BATCH_SIZE = 2000  # attempts per read transaction, and per chunk sent

_ORIGINAL = aliased(Attempt)  # the attempt a resend repeats
_json_line = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(…, ensure_ascii=False)


class TooManyRows(Exception):
    """More attempts match than an export may hold (``DASHBOARD_EXPORT_MAX_ROWS``)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        super().__init__(
            f"More than {cap:,} attempts match these filters, and an export holds at most "
            f"{cap:,}. Narrow the filters (a shorter date range, a status or a sender) and "
            "export again."
        )


def start(filters: Filters, fmt: str, actor: audit.Actor) -> Iterator[bytes]:
    """Begin an export of the attempts matching ``filters``: refused with
    :class:`TooManyRows` above the cap (before anything is audited), else audited as started
    (committed) and returned as the chunks to send."""
    cap = int(current_app.config["EXPORT_MAX_ROWS"])
    newest = int(db.session.scalar(select(func.max(Attempt.id))) or 0)
    matching = int(db.session.scalar(capped_count(query(filters, before=newest + 1), cap + 1)))
    end_read_transaction()
    if matching > cap:
        raise TooManyRows(cap)
    with write_transaction(audit.CHAIN_LOCK):
        event = audit.record(
            STARTED, actor, target=f"{fmt} export", format=fmt, filters=filters.describe()
        )
        db.session.flush()
        started = event.id
    # The request's session is gone by the time the stream ends: the actor is found again.
    who: audit.Actor | int = actor.id if isinstance(actor, User) else actor
    return _stream(filters, fmt, who, started=started, newest=newest)


def _stream(
    filters: Filters, fmt: str, actor: audit.Actor | int, *, started: int, newest: int
) -> Iterator[bytes]:
    """The export, batch by batch; when it ends (or is cut off) its manifest goes into the
    audit log: who, the filters, the rows, the SHA-256 of the bytes, and the time range."""
    digest = hashlib.sha256()
    rows = 0
    first = last = None
    complete = False
    encode = _csv_chunk if fmt == "csv" else _jsonl_chunk
    try:
        if fmt == "csv":
            chunk = _csv_line(COLUMNS)
            digest.update(chunk)
            yield chunk
        before = newest + 1
        while True:
            batch = db.session.connection().execute(_batch(filters, before)).all()
            end_read_transaction()  # nothing stays open while the chunk is on its way
            if not batch:
                break
            chunk = encode(batch)
            digest.update(chunk)
            rows += len(batch)
            last = last or batch[0][2]  # created_at, newest first
            first = batch[-1][2]
            before = batch[-1][0]
            yield chunk
            if len(batch) < BATCH_SIZE:
                break
        complete = True
    finally:
        with write_transaction(audit.CHAIN_LOCK):
            audit.record(
                ACTION,
                _actor(actor),
                target=f"{rows} attempts",
                format=fmt,
                rows=rows,
                sha256=digest.hexdigest(),
                filters=filters.describe(),
                complete=complete,
                first=first,
                last=last,
                started=started,
            )


def _actor(who: audit.Actor | int) -> audit.Actor:
    """The actor again, from its id (users are deactivated, never deleted)."""
    return db.session.get_one(User, who) if isinstance(who, int) else who


def _batch(filters: Filters, before: int) -> Select[Any]:
    """The next ``BATCH_SIZE`` matches below id ``before``: the id (the keyset), then the
    values of COLUMNS. The code checks' columns are the attempt's own. The sender and the
    repeated attempt are looked up per row through their primary keys (subqueries, not
    joins), so that the plan of the matches stays the history query's own: a join let
    PostgreSQL, without statistics, hash the whole table per batch."""
    sender = select(User.email).where(User.id == Attempt.user_id).scalar_subquery()
    original = (
        select(_ORIGINAL.public_id).where(_ORIGINAL.id == Attempt.resend_of_id).scalar_subquery()
    )
    return (
        query(filters, before=before)
        .with_only_columns(
            Attempt.id,
            Attempt.public_id,
            _utc_text(Attempt.created_at),
            _utc_text(Attempt.finished_at),
            Attempt.environment,
            Attempt.phone_e164,
            Attempt.country_code,
            Attempt.national_number,
            Attempt.status,
            Attempt.response_code,
            Attempt.response_message,
            Attempt.http_status,
            Attempt.latency_ms,
            Attempt.reason,
            sender,
            original,
            _utc_text(Attempt.code_verified_at),
            _check_result(),
            Attempt.code_failed_checks,
        )
        .limit(BATCH_SIZE)
    )


def _check_result() -> Any:
    """``code_check_result`` from the attempt's own columns (no query per row)."""
    right, ended, wrong = CHECK_RESULTS
    return case(
        (Attempt.code_verified_at.is_not(None), right),
        (Attempt.code_ended_at.is_not(None), ended),
        (Attempt.code_failed_checks > 0, wrong),
        else_=None,
    )


def _utc_text(column: Any) -> Any:
    """The time as exported (UTC, ISO 8601 to the second, "Z"; None stays None), formatted by
    the database. SQLite holds UTC text as SQLAlchemy wrote it ("YYYY-MM-DD HH:MM:SS.ffffff"):
    cut, not parsed, since its strftime rounds to the millisecond (…:59.9996 would become the
    next second)."""
    if db.session.get_bind().dialect.name == "sqlite":
        raw = type_coerce(column, String)
        day, clock = func.substr(raw, 1, 10, type_=String), func.substr(raw, 12, 8, type_=String)
        return day + "T" + clock + "Z"
    return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"', type_=String)


def escape_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


_FIRST = frozenset(FORMULA_STARTS)  # each one character


def _csv_chunk(batch: Sequence[Sequence[Any]]) -> bytes:
    """The rows as CSV, each cell as ``escape_cell`` makes it, without a call per cell (a
    third of the time of an export): a text escaped by its first character, a number only
    when negative, None written empty by the csv module itself."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [
            ("'" + v if v[:1] in _FIRST else v)
            if v.__class__ is str
            else ("'" + str(v) if v is not None and v < 0 else v)
            for v in row[1:]
        ]
        for row in batch
    )
    return buffer.getvalue().encode()


def _jsonl_chunk(batch: Sequence[Sequence[Any]]) -> bytes:
    lines = [_json_line(dict(zip(COLUMNS, row[1:], strict=False))) for row in batch]
    lines.append("")
    return "\n".join(lines).encode()


def manifest(event_id: int) -> dict[str, Any] | None:
    """The manifest of an export, from its audit entries: ``event_id`` is the finished one, or
    the started one. An export that started and never finished (its worker was killed) is
    reported as such: ``complete`` false, ``finished`` false, no rows or digest."""
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.id == event_id, AuditEvent.action.in_((ACTION, STARTED))
        )
    )
    if event is None:
        return None
    if event.action == STARTED:
        return _manifest_of(event, _finished(event))
    started = event.details.get("started")
    opened = db.session.get(AuditEvent, started) if started else None
    return _manifest_of(opened, event) if opened is not None else _manifest_of(None, event)


def _finished(started: AuditEvent) -> AuditEvent | None:
    """The finished entry of an export started by ``started`` (after it, by the same actor)."""
    return db.session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.action == ACTION,
            AuditEvent.id > started.id,
            AuditEvent.actor_label == started.actor_label,
            AuditEvent.details["started"].as_integer() == started.id,
        )
        .order_by(AuditEvent.id)
        .limit(1)
    )


def _manifest_of(started: AuditEvent | None, finished: AuditEvent | None) -> dict[str, Any]:
    described = finished or started
    if described is None:
        raise ValueError("a manifest needs the export's started or finished event")
    details = finished.details if finished is not None else {}
    given = started.details if started is not None else details
    return {
        "export": described.id,
        "started": started.id if started is not None else None,
        "exported_by": described.actor_label,
        "exported_at": _utc((started or described).created_at),
        "finished_at": _utc(finished.created_at) if finished is not None else None,
        "finished": finished is not None,
        "format": given.get("format"),
        "rows": details.get("rows"),
        "sha256": details.get("sha256"),
        "complete": bool(details.get("complete")),
        "filters": given.get("filters"),
        "time_range": {"from": details.get("first"), "to": details.get("last")},
        "times": "UTC",
    }


def _csv_line(cells: Any) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode()


def _utc(moment: Any) -> str | None:
    return moment.astimezone(utcnow().tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
