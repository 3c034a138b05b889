"""Retention: attempts older than the retention period are purged, a few thousand at a time.

A purge is many short write transactions rather than one long one. Each batch holds the
database's write lock (SQLite's only one) for a fraction of a second, so sends, checks and
sign-ins go on meanwhile instead of waiting past SQLite's busy timeout; and none of them holds
the audit chain's lock, which every audited action needs: the purge is audited once, at the
end, with what it deleted, and then checkpoints the chain. The ids of each batch are found in
a read transaction of their own, outside the write lock. Figures in docs/performance.md.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..database import end_read_transaction, refresh_statistics, write_transaction
from ..domain import statuses
from ..extensions import db
from ..models import Attempt, CodeCheck, utcnow
from . import audit

log = logging.getLogger(__name__)

ACTION = "attempts.purge"
BATCH_SIZE = 2500  # attempts per write transaction
#: Unresolved attempts (``pending``, ``unknown``) this recent are kept whatever the purge says:
#: someone may still need to find out whether the SMS went.
KEEP_UNRESOLVED = timedelta(days=30)
#: A batch that a resend sent meanwhile made fail (PostgreSQL: a new row points at one of
#: its attempts) is tried again, its resends unlinked afresh, this many times in all.
TRIES = 3


def purge_older_than(days: int, actor: audit.Actor) -> int:
    """Delete attempts created more than ``days`` days ago (audited); return how many."""
    if days < 1:
        raise ValueError("Keep at least one day of history.")
    now = utcnow()
    cutoff = now - timedelta(days=days)
    unresolved = Attempt.status.in_(statuses.UNRESOLVED) & (
        Attempt.created_at >= now - KEEP_UNRESOLVED
    )
    old = (Attempt.created_at < cutoff) & ~unresolved
    deleted = batches = 0
    longest = 0.0
    after = 0  # keyset: ids are found in order, each batch after the last one
    while True:
        ids = list(
            db.session.scalars(
                select(Attempt.id)
                .where(old, Attempt.id > after)
                .order_by(Attempt.id)
                .limit(BATCH_SIZE)
            )
        )
        end_read_transaction()
        if not ids:
            break
        began = time.perf_counter()
        deleted += _delete_batch(ids, old)
        longest = max(longest, time.perf_counter() - began)
        batches += 1
        after = ids[-1]
        if len(ids) < BATCH_SIZE:
            break
    # Checks go with their attempts; those of numbers nothing was sent to (typed by mistake,
    # kept only as a keyed digest) have no attempt, and go by their own age. Few: one pass.
    with write_transaction():
        db.session.execute(
            delete(CodeCheck).where(CodeCheck.attempt_id.is_(None), CodeCheck.created_at < cutoff)
        )
    with write_transaction(audit.CHAIN_LOCK):
        audit.record(
            ACTION,
            actor,
            target=f"{deleted} attempts",
            older_than_days=days,
            before=cutoff.isoformat(),
        )
    # An anchor of the chain's head after each purge, in the log (outside the database).
    audit.checkpoint(source="purge")
    log.info(
        "attempts.purged",
        extra={"deleted": deleted, "batches": batches, "longest_batch_ms": round(longest * 1000)},
    )
    refresh_statistics(Attempt.__table__)
    return deleted


def _delete_batch(ids: list[int], old: Any) -> int:
    """Delete those of ``ids`` still old, in one write transaction: resends pointing at them
    are unlinked first (a resend outlives what it repeated)."""
    doomed = select(Attempt.id).where(Attempt.id.in_(ids), old)
    tries = TRIES
    while True:
        try:
            with write_transaction():
                db.session.execute(
                    update(Attempt)
                    .where(Attempt.resend_of_id.in_(doomed))
                    .values(resend_of_id=None)
                    .execution_options(synchronize_session=False)
                )
                result = db.session.execute(
                    delete(Attempt)
                    .where(Attempt.id.in_(ids), old)
                    .execution_options(synchronize_session=False)
                )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
        except IntegrityError:
            tries -= 1
            if not tries:
                raise
