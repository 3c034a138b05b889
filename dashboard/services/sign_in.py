"""Signing in: the password, then the second step where it is on; throttled and audited.

Both steps answer the same for an unknown email, a wrong password and a locked account that
does not exist, so the answers reveal nothing about which accounts exist.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from ..database import write_transaction
from ..domain.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from ..extensions import db
from ..models import User, utcnow
from . import audit, throttling, two_step
from .users import find_by_email, normalise_email

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    user: User | None = None  # set when this step succeeded
    locked_until: datetime | None = None  # set when sign-in is refused for a while


def check_password(email: str, password: str, address: str | None) -> Outcome:
    """First step: the password of an active account, unless the account or address is locked."""
    email = normalise_email(email)
    lock = throttling.locked_until(email, address)
    if lock is not None:
        with write_transaction(audit.CHAIN_LOCK):
            who = _who(email, known=find_by_email(email) is not None)
            audit.record("auth.refused_locked", who, target=who)
        return Outcome(locked_until=lock)
    user = find_by_email(email)
    if user is None:
        verify_password(dummy_hash(), password)  # spend the same time as for a real account
        matched = False
    else:
        matched = verify_password(user.password_hash, password) and user.active
    with write_transaction(audit.CHAIN_LOCK, f"sign-in:{email}"):
        if not matched or user is None:
            return _failed(email, address, step="password", known=user is not None)
        user = db.session.get(User, user.id, populate_existing=True)
        if user is None:
            return Outcome()
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        if not user.two_step_enabled:
            _succeeded(user, step="password")
    return Outcome(user=user)


def check_second_step(user_id: int, code: str, address: str | None) -> Outcome:
    """Second step: a TOTP code or an unused recovery code, throttled like the password."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return Outcome()
    lock = throttling.locked_until(user.email, address)
    if lock is not None:
        return Outcome(locked_until=lock)
    with write_transaction(audit.CHAIN_LOCK, f"sign-in:{user.email}"):
        user = db.session.get(User, user_id, populate_existing=True)
        assert user is not None
        if two_step.verify(user, code) is None:
            return _failed(user.email, address, step="two_step", known=True)
        _succeeded(user, step="two_step")
    return Outcome(user=user)


def _failed(email: str, address: str | None, *, step: str, known: bool) -> Outcome:
    lock = throttling.record_failure(email, address)
    who = _who(email, known=known)
    audit.record("auth.failure", who, target=who, step=step)
    log.warning("auth.failure", extra={"email": who, "ip": address, "step": step})
    if lock is not None:
        audit.record("auth.lock", who, target=who, until=lock.isoformat())
        log.warning("auth.lock", extra={"email": who, "ip": address, "until": lock})
    return Outcome(locked_until=lock)


def _who(email: str, *, known: bool) -> str:
    """How a sign-in is named in the (permanent) audit log: the account's email, or a digest of
    what was typed when no account has it (it may be a password typed into the wrong field)."""
    if known:
        return email
    return f"unknown account {hashlib.sha256(email.encode()).hexdigest()[:16]}"


def _succeeded(user: User, *, step: str) -> None:
    throttling.clear_account(user.email)
    user.last_login_at = utcnow()
    audit.record("auth.success", user, target=user.email, step=step)
    log.info("auth.success", extra={"user_id": user.id, "step": step})
