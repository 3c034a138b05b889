"""Signing in: the password, then the second step where it is on; throttled and audited.

Both steps answer the same for an unknown email, a wrong password and a locked account that
does not exist, so the answers reveal nothing about which accounts exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from ..database import write_transaction
from ..extensions import db
from ..models import User, utcnow
from . import audit, throttling, two_step
from .passwords import dummy_hash, hash_password, needs_rehash, verify_password
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
            audit.record("auth.refused_locked", email[:254], target=email[:254])
        return Outcome(locked_until=lock)
    user = find_by_email(email)
    if user is None:
        verify_password(dummy_hash(), password)  # spend the same time as for a real account
        matched = False
    else:
        matched = verify_password(user.password_hash, password) and user.active
    with write_transaction(audit.CHAIN_LOCK, f"sign-in:{email}"):
        if not matched or user is None:
            return _failed(email, address, step="password")
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
            return _failed(user.email, address, step="two_step")
        _succeeded(user, step="two_step")
    return Outcome(user=user)


def _failed(email: str, address: str | None, *, step: str) -> Outcome:
    lock = throttling.record_failure(email, address)
    audit.record("auth.failure", email[:254], target=email[:254], step=step)
    log.warning("auth.failure", extra={"email": email[:254], "ip": address, "step": step})
    if lock is not None:
        audit.record("auth.lock", email[:254], target=email[:254], until=lock.isoformat())
        log.warning("auth.lock", extra={"email": email[:254], "ip": address, "until": lock})
    return Outcome(locked_until=lock)


def _succeeded(user: User, *, step: str) -> None:
    throttling.clear_account(user.email)
    user.last_login_at = utcnow()
    audit.record("auth.success", user, target=user.email, step=step)
    log.info("auth.success", extra={"user_id": user.id, "step": step})
