"""The audit chain's proof: the MACs that seal each event, verification, and checkpoints.

- Each event is chained with an HMAC-SHA256 of its id, its content and the previous event's
  MAC, under a key derived from ``DASHBOARD_AUDIT_KEY``, which never enters the database: write
  access to the table is not enough to edit, insert or delete a row unnoticed. The event names
  its key (``key_id``), so a new key can go first in the setting while older ones stay listed
  to verify the events they MACed. Events from before the keyed chain keep their plain SHA-256;
  that form is accepted only before the first keyed event, whose MAC covers the legacy head.
- Checkpoints (``audit_checkpoints``, MACed themselves) record how far the chain was verified.
  Verification starts from the newest one, so the audit page costs the same at any size, and a
  checkpoint past the last event shows a deleted tail, which no chain can show by itself.
  They are written as the log grows (every :data:`CHECKPOINT_EVERY` events, in the appending
  transaction), by the purge and by ``audit checkpoint``, never by a page view (a GET changes
  nothing). :func:`checkpoint` also logs the head outside the database, where a deleted table
  and its checkpoints together are found by ``audit verify --from-checkpoint``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import func, select

from ..database import write_transaction
from ..extensions import db
from ..models import AuditCheckpoint, AuditEvent, utcnow

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
#: HKDF's info for the MAC key: the audit key is used for nothing else, but a derived key keeps
#: the chain's MACs apart from any other use a future change might give it.
MAC_KEY_INFO = b"rm-sms-dashboard audit chain"
#: Most events one view of the audit page verifies: the page's cost stays bounded whatever
#: the size of the log; `audit checkpoint` (daily) verifies the rest.
PAGE_VERIFY_LIMIT = 2_000
#: Newer events not yet verified are counted up to this many, so that counting is bounded too.
PENDING_COUNT_LIMIT = 10_000
#: Every this many appended events, the appending transaction verifies what is new (at most
#: twice as many, so a backlog is caught up step by step) and records a checkpoint.
CHECKPOINT_EVERY = 1_000


# -- MACs ------------------------------------------------------------------------------------


def seal(event: AuditEvent) -> None:
    """Give ``event`` (its id and ``prev_hash`` set) the newest key's id and its MAC. Public
    so that a bulk load (a benchmark, a test) chains its rows exactly as :func:`record`."""
    key_id, key = _signing_key()
    event.key_id = key_id
    event.hash = _event_mac(key, event)


def _mac_keys() -> dict[str, bytes]:
    """The MAC keys by id, from ``AUDIT_KEYS`` (newest first, as config parsed them)."""
    return {key_id: _derive(key) for key_id, key in current_app.config["AUDIT_KEYS"]}


def _signing_key() -> tuple[str, bytes]:
    key_id, key = current_app.config["AUDIT_KEYS"][0]
    return key_id, _derive(key)


@functools.lru_cache(maxsize=16)
def _derive(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=MAC_KEY_INFO).derive(key)


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def _content(event: AuditEvent) -> dict[str, Any]:
    return {
        "created_at": event.created_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target": event.target,
        "details": event.details,
        "ip": event.ip,
    }


def _event_mac(key: bytes, event: AuditEvent) -> str:
    message = {
        "id": event.id,
        "prev": event.prev_hash,
        "key_id": event.key_id,
        "repeats_before": event.repeats_before,
        "event": _content(event),
    }
    return hmac.new(key, _canonical(message), hashlib.sha256).hexdigest()


def _legacy_hash(event: AuditEvent) -> str:
    """The unkeyed SHA-256 of the events recorded before the keyed chain."""
    content = json.dumps(_content(event), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{event.prev_hash}{content}".encode()).hexdigest()


def _checkpoint_mac(key: bytes, row: AuditCheckpoint) -> str:
    message = {
        "checkpoint": row.event_id,
        "event_hash": row.event_hash,
        "created_at": row.created_at.isoformat(),
        "source": row.source,
        "key_id": row.key_id,
    }
    return hmac.new(key, _canonical(message), hashlib.sha256).hexdigest()


# -- Verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """What a verification found. ``verified_to`` (0: nothing) is the last event known good,
    ``verified_hash`` its MAC and ``verified_at`` when verification reached it (now, or the
    time of the checkpoint it started from); ``pending`` the newer events left for later, at
    most :data:`PENDING_COUNT_LIMIT` (``pending_more``: more than that)."""

    checked: int
    first_broken_id: int | None
    problem: str = ""
    verified_to: int = 0
    verified_hash: str = GENESIS_HASH
    verified_at: datetime | None = None
    pending: int = 0
    pending_more: bool = False

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


class _Broken(Exception):
    def __init__(self, event_id: int, problem: str) -> None:
        super().__init__(problem)
        self.event_id = event_id
        self.problem = problem


@dataclass
class _Walk:
    """Where a walk along the chain stands: the last good event and what the next must be."""

    last_id: int = 0
    last_hash: str = GENESIS_HASH
    keyed: bool = False  # a keyed event was met: no unkeyed one may follow
    checked: int = 0
    keys: dict[str, bytes] = field(default_factory=dict)

    def step(self, event: AuditEvent) -> None:
        if event.key_id is not None and self.last_id and event.id != self.last_id + 1:
            raise _Broken(event.id, f"events before it are missing (after {self.last_id})")
        if event.prev_hash != self.last_hash:
            raise _Broken(event.id, "its link to the previous row is broken")
        if event.key_id is None:
            if self.keyed:
                raise _Broken(event.id, "it has no MAC key, yet it follows keyed events")
            if event.hash != _legacy_hash(event):
                raise _Broken(event.id, "its content was changed")
        else:
            key = self.keys.get(event.key_id)
            if key is None:
                raise _Broken(
                    event.id, f"its key {event.key_id!r} is not listed in DASHBOARD_AUDIT_KEY"
                )
            if not hmac.compare_digest(event.hash, _event_mac(key, event)):
                raise _Broken(event.id, "its content was changed")
            self.keyed = True
        self.last_id, self.last_hash = event.id, event.hash
        self.checked += 1

    def run(self, limit: int | None = None) -> None:
        statement = select(AuditEvent).where(AuditEvent.id > self.last_id).order_by(AuditEvent.id)
        if limit is None:  # the whole rest, streamed
            events: Iterable[AuditEvent] = db.session.scalars(statement).yield_per(1000)
        else:  # a bounded number, in one fetch
            events = db.session.scalars(statement.limit(limit))
        for event in events:
            self.step(event)


def verify_chain() -> ChainReport:
    """The whole chain from the first event, and every checkpoint against it (`audit verify`)."""
    walk = _Walk(keys=_mac_keys())
    try:
        walk.run()
        _check_every_checkpoint(walk.keys)
    except _Broken as broken:
        return ChainReport(walk.checked, broken.event_id, broken.problem, walk.last_id)
    return ChainReport(walk.checked, None, verified_to=walk.last_id, verified_hash=walk.last_hash)


def verify_from(sequence: int, mac: str) -> ChainReport:
    """From a checkpoint kept outside the database (``SEQ:MAC``, as :func:`checkpoint` logs it):
    event ``sequence`` must still exist with that MAC, and the chain from it to the head, and
    the newest checkpoint in the database, must hold."""
    walk = _Walk(keys=_mac_keys())
    try:
        event = _anchor(sequence, mac)
        walk.last_id, walk.last_hash = sequence - 1, event.prev_hash
        walk.keyed = event.key_id is not None  # an unkeyed anchor: a legacy part may follow
        walk.step(event)
        walk.run()
        newest = _newest_checkpoint()
        if newest is not None:
            _check_checkpoint(newest, walk.keys)
    except _Broken as broken:
        return ChainReport(walk.checked, broken.event_id, broken.problem, walk.last_id)
    return ChainReport(walk.checked, None, verified_to=walk.last_id, verified_hash=walk.last_hash)


def chain_status(limit: int | None = None) -> ChainReport:
    """The audit page's verification: from the newest checkpoint, at most ``limit``
    (:data:`PAGE_VERIFY_LIMIT`) newer events; the rest is counted (boundedly). It writes
    nothing: checkpoints come from appends (:func:`advance`), the purge and the command."""
    report = _verify_incrementally(limit or PAGE_VERIFY_LIMIT)
    if not report.intact:
        return report
    pending = db.session.scalar(
        select(func.count()).select_from(
            select(AuditEvent.id)
            .where(AuditEvent.id > report.verified_to)
            .limit(PENDING_COUNT_LIMIT + 1)
            .subquery()
        )
    )
    return replace(
        report,
        pending=min(pending or 0, PENDING_COUNT_LIMIT),
        pending_more=(pending or 0) > PENDING_COUNT_LIMIT,
    )


def checkpoint(source: str = "command") -> ChainReport:
    """Verify the chain from the newest checkpoint to the head and record the head as a
    checkpoint, also as a log record (``audit.checkpoint``: its sequence and MAC), which
    outlives the database; nothing is recorded when the chain is broken (``audit.broken`` is
    logged instead) or empty. For the daily job, the purge, and whoever wants an anchor."""
    report = _verify_incrementally(None)
    if not report.intact:
        log.error(
            "audit.broken",
            extra={"event_id": report.first_broken_id, "problem": report.problem},
        )
        return report
    if report.verified_to:
        report = replace(report, verified_at=_write_checkpoint(report, source))
        log.info(
            "audit.checkpoint",
            extra={"sequence": report.verified_to, "mac": report.verified_hash, "source": source},
        )
    return report


def _verify_incrementally(limit: int | None) -> ChainReport:
    walk = _Walk(keys=_mac_keys())
    at = None
    try:
        start = _newest_checkpoint()
        if start is not None:
            _check_checkpoint(start, walk.keys)
            event = _anchor(start.event_id, start.event_hash)
            walk.last_id, walk.last_hash = event.id, event.hash
            walk.keyed = event.key_id is not None
            at = start.created_at
        walk.run(limit)
    except _Broken as broken:
        return ChainReport(walk.checked, broken.event_id, broken.problem, walk.last_id)
    return ChainReport(
        walk.checked,
        None,
        verified_to=walk.last_id,
        verified_hash=walk.last_hash,
        verified_at=utcnow() if walk.checked or at is None else at,
    )


def _newest_checkpoint() -> AuditCheckpoint | None:
    return db.session.scalars(
        select(AuditCheckpoint)
        .order_by(AuditCheckpoint.event_id.desc(), AuditCheckpoint.id.desc())
        .limit(1)
    ).first()


def _check_checkpoint(row: AuditCheckpoint, keys: dict[str, bytes]) -> None:
    key = keys.get(row.key_id)
    if key is None or not hmac.compare_digest(row.hash, _checkpoint_mac(key, row)):
        raise _Broken(row.event_id, f"checkpoint {row.id} is not genuine (forged or altered)")


def _anchor(sequence: int, mac: str) -> AuditEvent:
    """Event ``sequence``, which a checkpoint says has the MAC ``mac``."""
    event = db.session.get(AuditEvent, sequence)
    if event is None:
        head = db.session.scalar(select(func.max(AuditEvent.id)))
        if head is None or head < sequence:
            raise _Broken(sequence, "the log ends before the checkpoint: rows were deleted")
        raise _Broken(sequence, "the event of the checkpoint is missing: it was deleted")
    if not hmac.compare_digest(event.hash, mac):
        raise _Broken(sequence, f"event {sequence}'s MAC differs from the checkpoint")
    return event


def _check_every_checkpoint(keys: dict[str, bytes]) -> None:
    rows = db.session.execute(
        select(AuditCheckpoint, AuditEvent.hash)
        .outerjoin(AuditEvent, AuditEvent.id == AuditCheckpoint.event_id)
        .order_by(AuditCheckpoint.event_id, AuditCheckpoint.id)
    ).yield_per(1000)
    for row, event_hash in rows:
        _check_checkpoint(row, keys)
        if event_hash is None or event_hash != row.event_hash:
            _anchor(row.event_id, row.event_hash)  # raises, naming what is wrong


def advance() -> None:
    """Verify what is new since the newest checkpoint (at most 2 x :data:`CHECKPOINT_EVERY`
    events) and add a checkpoint of how far it got to the current transaction: called by
    :func:`audit.record` under the chain lock, every :data:`CHECKPOINT_EVERY` events."""
    report = _verify_incrementally(2 * CHECKPOINT_EVERY)
    if not report.intact:
        log.error(
            "audit.broken", extra={"event_id": report.first_broken_id, "problem": report.problem}
        )
    elif report.checked:
        db.session.add(_checkpoint_row(report, "append"))


def _write_checkpoint(report: ChainReport, source: str) -> datetime:
    """Record ``report``'s verified head; return when."""
    row = _checkpoint_row(report, source)
    with write_transaction():  # checkpoints only add; they need no lock of their own
        db.session.add(row)
        created_at = row.created_at  # read before the commit expires it
    return created_at


def _checkpoint_row(report: ChainReport, source: str) -> AuditCheckpoint:
    key_id, key = _signing_key()
    row = AuditCheckpoint(
        event_id=report.verified_to,
        event_hash=report.verified_hash,
        created_at=utcnow(),
        source=source,
        key_id=key_id,
    )
    row.hash = _checkpoint_mac(key, row)
    return row
