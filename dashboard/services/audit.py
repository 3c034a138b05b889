"""The audit log: who did what, when, from where; hash-chained so tampering is detectable."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request
from sqlalchemy import select

from ..database import write_transaction
from ..domain import cursors, days
from ..extensions import db
from ..models import AuditEvent, User, utcnow

GENESIS_HASH = "0" * 64
#: Lock key that serialises appends, so the chain never forks.
CHAIN_LOCK = "audit_events"


Actor = User | str  # a signed-in user, or a label such as "command line"


def actor_label(actor: Actor) -> str:
    """How an actor is named in the log and in ``updated_by`` columns."""
    return actor.email if isinstance(actor, User) else actor


def record(action: str, actor: Actor, *, target: str = "", **details: Any) -> AuditEvent:
    """Append an event to the current transaction; the caller commits (inside a
    ``write_transaction`` that holds :data:`CHAIN_LOCK`)."""
    previous = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        created_at=utcnow(),
        actor_id=actor.id if isinstance(actor, User) else None,
        actor_label=actor_label(actor),
        action=action,
        target=target,
        details=details,
        ip=request.remote_addr if has_request_context() else None,
        prev_hash=previous or GENESIS_HASH,
    )
    event.hash = _event_hash(event)
    db.session.add(event)
    return event


def log(action: str, actor: Actor, *, target: str = "", **details: Any) -> None:
    """Record an event that is the whole change (a refusal, a reveal), in a transaction of its
    own."""
    with write_transaction(CHAIN_LOCK):
        record(action, actor, target=target, **details)


PAGE_SIZE = 50


@dataclass(frozen=True)
class EventFilters:
    """What the audit log page filters by; dates are days in ``zone``."""

    zone: ZoneInfo
    actor: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    next_cursor: str | None  # for the next, older page; None on the last


def search(filters: EventFilters, *, cursor: str | None = None) -> EventPage:
    """A page of events, newest first; raises cursors.BadCursor for a cursor it did not make."""
    statement = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(PAGE_SIZE + 1)
    if filters.actor:
        statement = statement.where(AuditEvent.actor_label == filters.actor.strip().lower())
    if filters.action:
        statement = statement.where(AuditEvent.action == filters.action.strip())
    if filters.date_from:
        statement = statement.where(
            AuditEvent.created_at >= days.start_of(filters.date_from, filters.zone)
        )
    if filters.date_to:
        statement = statement.where(
            AuditEvent.created_at < days.end_of(filters.date_to, filters.zone)
        )
    if cursor:
        (before,) = cursors.read(cursor, kind="audit", secret=current_app.config["SECRET_KEY"])
        statement = statement.where(AuditEvent.id < before)
    events = list(db.session.scalars(statement))
    if len(events) <= PAGE_SIZE:
        return EventPage(events, None)
    events = events[:PAGE_SIZE]
    return EventPage(
        events, cursors.make(events[-1].id, kind="audit", secret=current_app.config["SECRET_KEY"])
    )


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


def verify_chain() -> ChainReport:
    """Walk the chain in order; report the first row whose link or content does not match."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.id, "its link to the previous row is broken")
        if _event_hash(event) != event.hash:
            return ChainReport(checked, event.id, "its content was changed")
        expected_prev = event.hash
        checked += 1
    return ChainReport(checked, None)


def _event_hash(event: AuditEvent) -> str:
    content = json.dumps(
        {
            "created_at": event.created_at.isoformat(),
            "actor_id": event.actor_id,
            "actor_label": event.actor_label,
            "action": event.action,
            "target": event.target,
            "details": event.details,
            "ip": event.ip,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(f"{event.prev_hash}{content}".encode()).hexdigest()
