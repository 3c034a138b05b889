"""The audit log as its reader sees it: each event of a page in words (domain.audit_words),
its people named, the numbers it touches masked by the rule of services.history for the
viewer. What a page's sentences need is found in at most two queries, whatever its length."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, select

from ..domain import audit_words
from ..domain.capabilities import Capability
from ..extensions import db
from ..models import Attempt, AuditEvent, User
from . import history

#: The columns the masking rule reads (history.number_for), for the attempts a page names.
_NUMBER_COLUMNS = (
    Attempt.public_id,
    Attempt.user_id,
    Attempt.country_code,
    Attempt.national_number,
    Attempt.phone_e164,
    Attempt.number_visible_to_sender,
)


@dataclass(frozen=True)
class ReadEvent:
    """An event and its sentence; ``user_ids`` finds the page of each user it names (by
    email), for the links."""

    event: AuditEvent
    words: audit_words.Sentence
    user_ids: dict[str, int] = field(default_factory=dict)


def read(
    events: list[AuditEvent], viewer: User, time: Callable[[datetime], str]
) -> list[ReadEvent]:
    """``events`` in words for ``viewer``; ``time`` writes a time in the viewer's zone."""
    attempt_ids = {e.target for e in events if audit_words.is_attempt_id(e.target)}
    numbers = _numbers(attempt_ids, viewer)
    people = _people(events)
    by_id = {user_id: (email, name) for email, (user_id, name) in people.items()}
    user_ids = {email: user_id for email, (user_id, _) in people.items()}
    full_numbers = viewer.may(Capability.SEE_FULL_NUMBERS)
    found = []
    for event in events:
        actor_email, actor_name = by_id.get(event.actor_id or 0, ("", event.actor_label))
        facts = audit_words.Event(
            action=event.action,
            actor=actor_name,
            actor_key=actor_email,
            target=event.target,
            details=event.details or {},
            event_id=event.id,
            number=numbers.get(event.target, ""),
            target_name=people.get(event.target, (0, ""))[1],
            full_numbers=full_numbers,
            time=time,
        )
        found.append(ReadEvent(event, audit_words.sentence(facts), user_ids))
    return found


def _numbers(public_ids: set[str], viewer: User) -> dict[str, str]:
    """The number of each attempt, as ``viewer`` may see it."""
    if not public_ids:
        return {}
    statement = select(*_NUMBER_COLUMNS).where(Attempt.public_id.in_(public_ids))
    rows: list[Row[Any]] = list(db.session.execute(statement))
    return {row.public_id: history.number_for(row, viewer) for row in rows}


def _people(events: list[AuditEvent]) -> dict[str, tuple[int, str]]:
    """Email → (id, display name) of the actors and of the users named as targets."""
    actor_ids = {e.actor_id for e in events if e.actor_id}
    emails = {e.target for e in events if "@" in e.target}
    if not actor_ids and not emails:
        return {}
    conditions: list[Any] = []
    if actor_ids:
        conditions.append(User.id.in_(actor_ids))
    if emails:
        conditions.append(User.email.in_(emails))
    rows = db.session.execute(select(User.id, User.name, User.email).where(or_(*conditions)))
    return {row.email: (row.id, row.name or row.email) for row in rows}
