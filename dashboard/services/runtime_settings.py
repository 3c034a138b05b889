"""Settings that admins change at run time, kept in the ``settings`` table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from ..extensions import db
from ..models import Setting
from . import audit

TWO_STEP_FOR_EVERYONE = "two_step_for_everyone"
_CACHE = "runtime_settings"  # in the session's info, for the current transaction only
_EVERY_SETTING = select(Setting.key, Setting.value)  # built once: read on every page


@event.listens_for(Session, "after_transaction_end")
def _forget_at_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: the values may have changed since
        session.info.pop(_CACHE, None)


def get(key: str, default: Any) -> Any:
    """A setting's value, as this transaction sees it. A transaction reads all settings at its
    first look and keeps them to its end: a page needs two or three (one query is cheaper than
    three), and a write transaction sees them as they are under its lock."""
    cached = db.session().info.get(_CACHE)
    if cached is None:
        cached = db.session().info[_CACHE] = dict(db.session.execute(_EVERY_SETTING).all())
    return cached.get(key, default)


def put(key: str, value: Any, actor: audit.Actor) -> Any:
    """Store ``value`` in the caller's write transaction; return the previous value (or None)."""
    db.session().info.pop(_CACHE, None)
    row = db.session.get(Setting, key)
    label = audit.actor_label(actor)
    previous = row.value if row is not None else None
    if row is None:
        db.session.add(Setting(key=key, value=value, updated_by=label))
    else:
        row.value = value
        row.updated_by = label
    return previous
