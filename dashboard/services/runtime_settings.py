"""Settings that admins change at run time, kept in the ``settings`` table."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from sqlalchemy import select

from ..extensions import db
from ..models import Setting
from . import audit

TWO_STEP_FOR_EVERYONE = "two_step_for_everyone"


def get(key: str, default: Any) -> Any:
    """A setting's value. A request reads all settings at once, at its first look, and keeps
    them to its end: every page needs two or three, and one query is cheaper than three."""
    if not has_request_context():
        row = db.session.get(Setting, key)
        return row.value if row is not None else default
    if "runtime_settings" not in g:
        g.runtime_settings = dict(db.session.execute(select(Setting.key, Setting.value)).all())
    return g.runtime_settings.get(key, default)


def put(key: str, value: Any, actor: audit.Actor) -> Any:
    """Store ``value`` in the caller's write transaction; return the previous value (or None)."""
    g.pop("runtime_settings", None)  # read again after this change, committed or rolled back
    row = db.session.get(Setting, key)
    label = audit.actor_label(actor)
    previous = row.value if row is not None else None
    if row is None:
        db.session.add(Setting(key=key, value=value, updated_by=label))
    else:
        row.value = value
        row.updated_by = label
    return previous
