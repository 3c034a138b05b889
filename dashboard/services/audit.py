"""The audit log: who did what, when, from where; chained with MACs so that it proves itself
(:mod:`.audit_chain`).

Identical refusals of anonymous requests within :data:`REPEAT_WINDOW` are counted on one event
(:func:`record_refusal`), so those requests cannot grow the log at will.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request
from sqlalchemy import select

from ..database import write_transaction
from ..domain import cursors, days
from ..extensions import db
from ..models import AuditEvent, AuditRepeat, User, utcnow
from . import audit_chain
from .audit_chain import (  # the chain's public names, used through this module
    GENESIS_HASH,
    PAGE_VERIFY_LIMIT,
    ChainReport,
    chain_status,
    checkpoint,
    seal,
    verify_chain,
    verify_from,
)

#: Lock key that serialises appends, so the chain never forks.
CHAIN_LOCK = "audit_events"
#: Identical refusals within this time of the first one are counted on its event.
REPEAT_WINDOW = timedelta(minutes=15)


Actor = User | str  # a signed-in user, or a label such as "command line"


def actor_label(actor: Actor) -> str:
    """How an actor is named in the log and in ``updated_by`` columns."""
    return actor.email if isinstance(actor, User) else actor


def record(
    action: str,
    actor: Actor,
    *,
    target: str = "",
    repeats_before: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Append an event to the current transaction; the caller commits (inside a
    ``write_transaction`` that holds :data:`CHAIN_LOCK`).

    The id is the head's plus one, given rather than left to the database: the MAC covers it,
    and an UPDATE to add the MAC later would be refused. Under the lock nobody else appends."""
    head = db.session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    event = AuditEvent(
        id=head.id + 1 if head else 1,
        created_at=utcnow(),
        actor_id=actor.id if isinstance(actor, User) else None,
        actor_label=actor_label(actor),
        action=action,
        target=target,
        details=details,
        ip=_address(),
        repeats_before=repeats_before,
        prev_hash=head.hash if head else GENESIS_HASH,
    )
    if event.id % audit_chain.CHECKPOINT_EVERY == 0:
        audit_chain.advance()  # before the event joins the session: it verifies what is committed
    seal(event)
    db.session.add(event)
    return event


def log(action: str, actor: Actor, *, target: str = "", **details: Any) -> None:
    """Record an event that is the whole change (a refusal, a reveal), in a transaction of its
    own."""
    with write_transaction(CHAIN_LOCK):
        record(action, actor, target=target, **details)


def record_refusal(
    action: str, actor: Actor, *, target: str = "", same_as: str | None = None, **details: Any
) -> AuditEvent | None:
    """Record a refusal of an anonymous request (as :func:`record`, in the caller's
    transaction holding :data:`CHAIN_LOCK`), unless an identical one (same action, target or
    ``same_as``, address and details) opened a window less than :data:`REPEAT_WINDOW` ago:
    then it is only counted on that event, and None is returned. The next event of the kind
    after the window carries the count into the chain (``repeats_before``).

    ``same_as`` names refusals that count as identical whatever their target: an address
    trying emails no account has would otherwise write one event for each email."""
    now = utcnow()
    identity = [action, target if same_as is None else same_as, _address(), details]
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    window = db.session.scalars(
        select(AuditRepeat)
        .where(AuditRepeat.key == key)
        .order_by(AuditRepeat.event_id.desc())
        .limit(1)
    ).first()
    if window is not None and now < window.window_ends_at:
        window.count += 1
        window.last_at = now
        return None
    carried = window.count if window is not None and window.count else None
    event = record(action, actor, target=target, repeats_before=carried, **details)
    db.session.add(
        AuditRepeat(
            event_id=event.id, key=key, window_ends_at=now + REPEAT_WINDOW, count=0, last_at=now
        )
    )
    return event


def _address() -> str | None:
    return request.remote_addr if has_request_context() else None


# -- The audit page --------------------------------------------------------------------------

__all__ = [
    "CHAIN_LOCK",
    "GENESIS_HASH",
    "PAGE_VERIFY_LIMIT",
    "ChainReport",
    "chain_status",
    "checkpoint",
    "log",
    "record",
    "record_refusal",
    "search",
    "seal",
    "verify_chain",
    "verify_from",
]

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
class Repeats:
    """Identical refusals counted on an event rather than recorded each."""

    count: int
    until: datetime


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    next_cursor: str | None  # for the next, older page; None on the last
    repeats: dict[int, Repeats] = field(default_factory=dict)  # by event id


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
    next_cursor = None
    if len(events) > PAGE_SIZE:
        events = events[:PAGE_SIZE]
        next_cursor = cursors.make(
            events[-1].id, kind="audit", secret=current_app.config["SECRET_KEY"]
        )
    return EventPage(events, next_cursor, _repeats([event.id for event in events]))


def _repeats(event_ids: list[int]) -> dict[int, Repeats]:
    if not event_ids:
        return {}
    rows = db.session.scalars(
        select(AuditRepeat).where(AuditRepeat.event_id.in_(event_ids), AuditRepeat.count > 0)
    )
    return {row.event_id: Repeats(row.count, row.last_at) for row in rows}
