"""Settings that admins change at run time, kept in the ``settings`` table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from ..database import write_transaction
from ..extensions import db
from ..models import Setting
from . import audit

TWO_STEP_FOR_EVERYONE = "two_step_for_everyone"
#: The policy "admins must use a passkey" (services.two_step.passkey_required).
PASSKEYS_FOR_ADMINS = "passkeys_for_admins"
#: Whether senders may edit a template's text before sending (off: the template is sent as it is).
MESSAGE_EDITING = "message_editing"
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


TWO_STEP_LOCKS = (audit.CHAIN_LOCK, TWO_STEP_FOR_EVERYONE)


def require_two_step_for_everyone(required: bool, actor: audit.Actor) -> None:
    """The two-step policy: whether support staff and auditors must use it too (audited)."""
    with write_transaction(*TWO_STEP_LOCKS):
        old = put(TWO_STEP_FOR_EVERYONE, required, actor)
        audit.record("setting.change", actor, target=TWO_STEP_FOR_EVERYONE, old=old, new=required)


def require_passkeys_for_admins(required: bool, actor: audit.Actor) -> None:
    """The two-step policy: whether an admin's second step must be a passkey, which phishing
    cannot relay as it can a TOTP code (audited)."""
    with write_transaction(audit.CHAIN_LOCK, PASSKEYS_FOR_ADMINS):
        old = put(PASSKEYS_FOR_ADMINS, required, actor)
        audit.record("setting.change", actor, target=PASSKEYS_FOR_ADMINS, old=old, new=required)


def passkeys_for_admins() -> bool:
    return bool(get(PASSKEYS_FOR_ADMINS, False))


def put(key: str, value: Any, actor: audit.Actor) -> Any:
    """Store ``value``; return the previous value (or None). A step of a service's own write
    transaction, which also writes the audit event: never called from a view."""
    if not db.session().info.get("writing"):
        raise RuntimeError("runtime_settings.put() belongs in a service's write_transaction()")
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


def allow_message_editing(allowed: bool, actor: audit.Actor) -> None:
    """Whether senders may edit an approved template's text before it goes (audited)."""
    with write_transaction(audit.CHAIN_LOCK, MESSAGE_EDITING):
        old = put(MESSAGE_EDITING, allowed, actor)
        audit.record("setting.change", actor, target=MESSAGE_EDITING, old=old, new=allowed)


def message_editing_allowed() -> bool:
    return bool(get(MESSAGE_EDITING, False))
