"""Exports of the history: CSV or JSON Lines, streamed in constant memory, with cells a
spreadsheet would run escaped, and each export audited with its manifest (rows, SHA-256)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from ..database import write_transaction
from ..extensions import db
from ..models import Attempt, AuditEvent, User, utcnow
from . import audit
from .history import Filters, query

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
)
#: A cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
ACTION = "history.export"


def record_of(attempt: Attempt) -> dict[str, Any]:
    """One attempt as exported: times in UTC (ISO 8601, "Z"), no code, no secret."""
    return {
        "id": attempt.public_id,
        "created_at": _utc(attempt.created_at),
        "finished_at": _utc(attempt.finished_at),
        "environment": attempt.environment,
        "phone_e164": attempt.phone_e164,
        "country_code": attempt.country_code,
        "national_number": attempt.national_number,
        "status": attempt.status,
        "response_code": attempt.response_code,
        "response_message": attempt.response_message,
        "http_status": attempt.http_status,
        "latency_ms": attempt.latency_ms,
        "reason": attempt.reason,
        "sender": attempt.user.email,
        "resend_of": attempt.resend_of.public_id if attempt.resend_of is not None else None,
    }


def escape_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def stream(filters: Filters, fmt: str, actor: User) -> Iterator[bytes]:
    """The export, chunk by chunk; when it ends (or is cut off) its manifest goes into the
    audit log: who, the filters, the rows, the SHA-256 of the bytes, and the time range."""
    digest = hashlib.sha256()
    rows = 0
    first = last = None
    complete = False
    try:
        if fmt == "csv":
            chunk = _csv_line(COLUMNS)
            digest.update(chunk)
            yield chunk
        statement = query(filters).execution_options(yield_per=500)
        for attempt in db.session.scalars(statement):
            record = record_of(attempt)
            chunk = (
                _csv_line([escape_cell(record[c]) for c in COLUMNS])
                if fmt == "csv"
                else (json.dumps(record, ensure_ascii=False) + "\n").encode()
            )
            digest.update(chunk)
            rows += 1
            last = last or record["created_at"]  # newest first
            first = record["created_at"]
            yield chunk
        complete = True
    finally:
        with write_transaction(audit.CHAIN_LOCK):
            audit.record(
                ACTION,
                actor,
                target=f"{rows} attempts",
                format=fmt,
                rows=rows,
                sha256=digest.hexdigest(),
                filters=filters.describe(),
                complete=complete,
                first=first,
                last=last,
            )


def manifest(event_id: int) -> dict[str, Any] | None:
    """The manifest of an export, from its audit entry."""
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.id == event_id, AuditEvent.action == ACTION)
    )
    if event is None:
        return None
    details = event.details
    return {
        "export": event.id,
        "exported_by": event.actor_label,
        "exported_at": _utc(event.created_at),
        "format": details.get("format"),
        "rows": details.get("rows"),
        "sha256": details.get("sha256"),
        "complete": details.get("complete"),
        "filters": details.get("filters"),
        "time_range": {"from": details.get("first"), "to": details.get("last")},
        "times": "UTC",
    }


def _csv_line(cells: Any) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode()


def _utc(moment: Any) -> str | None:
    return moment.astimezone(utcnow().tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
