"""Signing in: the password, then the second step where it is on; throttled and audited. The
current password asked for by the password change goes through the same checks.

Both steps answer the same for an unknown email, a wrong password and a locked account that
does not exist, so the answers reveal nothing about which accounts exist. That a one-time
password expired is said only once it was typed right.

Anyone can send sign-ins, so their refusals must not grow the audit log at will: refusals of
emails no account has, from one address, and refusals while an account is locked, are
counted on one event per window (audit.record_refusal); the throttle bounds the failures on a
real account.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import metrics
from ..database import write_transaction
from ..domain.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from ..extensions import db
from ..models import User, utcnow
from . import audit, passkeys, throttling, two_step
from .users import find_by_email, normalise_email, password_expired

log = logging.getLogger(__name__)

UNKNOWN_ACCOUNT = "unknown account"
#: Said when an admin's second step must be a passkey (two_step.passkey_required).
PASSKEY_REQUIRED = (
    "Admins must use a passkey as the second step: codes from the app are not accepted. "
    "Choose “Use a passkey”."
)
#: The steps rm_sms_sign_ins_total counts (a password change's check is not a sign-in).
SIGN_IN_STEPS = ("password", "two_step", "passkey")


@dataclass(frozen=True)
class Outcome:
    user: User | None = None  # set when this step succeeded
    locked_until: datetime | None = None  # set when sign-in is refused for a while
    expired: bool = False  # the right one-time password, but past its time
    passkey_required: bool = False  # a code was given where only a passkey will do
    message: str | None = None  # what to tell the person, when a passkey was refused


def check_password(email: str, password: str, address: str | None) -> Outcome:
    """First step: the password of an active account, unless the account is locked (for
    everyone, or for this address)."""
    email = normalise_email(email)
    lock = throttling.locked_until(email, address)
    if lock is not None:
        _refused_locked(email, known=find_by_email(email) is not None, step="password")
        metrics.sign_in("locked")
        return Outcome(locked_until=lock)
    user = find_by_email(email)
    if user is None:
        verify_password(dummy_hash(), password)  # spend the same time as for a real account
        matched = False
    else:
        matched = verify_password(user.password_hash, password) and user.active
    with write_transaction(audit.CHAIN_LOCK, _lock_key(email)):
        if not matched or user is None:
            return _failed(email, address, step="password", known=user is not None)
        user = db.session.get(User, user.id, populate_existing=True)
        if user is None:
            return Outcome()
        if password_expired(user):
            audit.record("auth.refused_expired", user, target=user.email)
            log.warning("auth.refused_expired", extra={"user_id": user.id, "ip": address})
            metrics.sign_in("expired")
            return Outcome(expired=True)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        if not user.two_step_enabled:
            _succeeded(user, address, step="password")
    return Outcome(user=user)


def check_second_step(
    user_id: int, code: str, address: str | None, *, first_step: str = "password"
) -> Outcome:
    """Second step: a TOTP code or an unused recovery code, throttled like the password;
    ``first_step`` ("password", "single_sign_on") is audited with the success."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return Outcome()
    lock = throttling.locked_until(user.email, address)
    if lock is not None:
        metrics.sign_in("locked")
        return Outcome(locked_until=lock)
    with write_transaction(audit.CHAIN_LOCK, _lock_key(user.email)):
        user = db.session.get(User, user_id, populate_existing=True)
        if user is None:
            raise LookupError(f"user {user_id} is gone")
        if two_step.passkey_required(user) and user.passkeys:
            audit.record("auth.refused_passkey_required", user, target=user.email)
            return Outcome(passkey_required=True)
        if two_step.verify(user, code) is None:
            return _failed(user.email, address, step="two_step", known=True)
        _succeeded(user, address, step="two_step", first_step=first_step)
    return Outcome(user=user)


def check_passkey(
    purpose: str,
    credential: object,
    address: str | None,
    *,
    user_id: int | None = None,
    first_step: str = "password",
) -> Outcome:
    """A passkey as the second step (``purpose`` "second_step", for ``user_id`` whose password
    was right), as the proof of a fresh sign-in ("confirm", for ``user_id``), or as the whole
    sign-in ("sign_in": a discoverable passkey with user verification, both factors at once).
    Throttled, audited and counted like the other steps; a refusal's ``message`` says why."""
    expected = db.session.get(User, user_id) if user_id is not None else None
    try:
        challenge = passkeys.take_challenge(purpose, user_id)
        passkey = passkeys.identify(credential)
        if expected is not None and passkey.user_id != expected.id:
            raise passkeys.PasskeyError(passkeys.UNKNOWN_PASSKEY, "another account's")
    except passkeys.PasskeyError as error:
        return _passkey_refused(error, expected, address)
    user = passkey.user
    lock = throttling.locked_until(user.email, address)
    if lock is not None:
        _refused_locked(user.email, known=True, step="passkey")
        metrics.sign_in("locked")
        return Outcome(locked_until=lock)
    with write_transaction(audit.CHAIN_LOCK, _lock_key(user.email)):
        current = db.session.get(User, user.id, populate_existing=True)
        if current is None or not current.active:
            return Outcome(message=passkeys.REFUSED)
        user = current
        try:
            passkeys.authenticate(challenge, credential, passkey)
        except passkeys.PasskeyError as error:
            if error.reason == "cloned":
                audit.record("passkey.cloned", user, target=user.email, name=passkey.name)
                log.warning("passkey.cloned", extra={"user_id": user.id, "ip": address})
            failed = _failed(user.email, address, step="passkey", known=True)
            return Outcome(locked_until=failed.locked_until, message=str(error))
        if purpose != "confirm":
            first = first_step if purpose == "second_step" else None
            _succeeded(user, address, step="passkey", first_step=first)
    return Outcome(user=user)


def _passkey_refused(
    error: passkeys.PasskeyError, expected: User | None, address: str | None
) -> Outcome:
    """An answer refused before any key was checked (no challenge, or a passkey we do not
    have): a failure of the account signing in, when one is; else a refusal of an anonymous
    request, counted on one event per window so that it cannot grow the log at will."""
    if expected is not None:
        with write_transaction(audit.CHAIN_LOCK, _lock_key(expected.email)):
            failed = _failed(expected.email, address, step="passkey", known=True)
        return Outcome(locked_until=failed.locked_until, message=str(error))
    with write_transaction(audit.CHAIN_LOCK):
        audit.record_refusal(
            "auth.failure",
            UNKNOWN_ACCOUNT,
            target=UNKNOWN_ACCOUNT,
            same_as=UNKNOWN_ACCOUNT,
            step="passkey",
            why=error.reason,
        )
    log.warning("auth.failure", extra={"ip": address, "step": "passkey", "why": error.reason})
    metrics.sign_in("failure")
    return Outcome(message=str(error))


def check_current_password(user: User, password: str, address: str | None) -> Outcome:
    """The current password a signed-in user gives to change it, checked like a sign-in:
    refused while the account is locked, each failure counted and audited (step
    "password_change"), so that a session left open is no way to guess the password."""
    lock = throttling.locked_until(user.email, address)
    if lock is not None:
        _refused_locked(user.email, known=True, step="password_change")
        return Outcome(locked_until=lock)
    if verify_password(user.password_hash, password):
        return Outcome(user=user)
    with write_transaction(audit.CHAIN_LOCK, _lock_key(user.email)):
        return _failed(user.email, address, step="password_change", known=True)


def _refused_locked(email: str, *, known: bool, step: str) -> None:
    with write_transaction(audit.CHAIN_LOCK):
        who = _who(email, known=known)
        audit.record_refusal(
            "auth.refused_locked", who, target=who, same_as=_same_as(known), step=step
        )


def _failed(email: str, address: str | None, *, step: str, known: bool) -> Outcome:
    lock = throttling.record_failure(email, address)
    who = _who(email, known=known)
    if known:
        audit.record("auth.failure", who, target=who, step=step)
    else:
        audit.record_refusal("auth.failure", who, target=who, same_as=_same_as(known), step=step)
    log.warning("auth.failure", extra={"email": who, "ip": address, "step": step})
    if step in SIGN_IN_STEPS:
        metrics.sign_in("failure")
    if lock is not None:
        if known:
            audit.record("auth.lock", who, target=who, until=lock.isoformat())
        else:
            audit.record_refusal("auth.lock", who, target=who, same_as=_same_as(known))
        log.warning("auth.lock", extra={"email": who, "ip": address, "until": lock})
    return Outcome(locked_until=lock)


def _same_as(known: bool) -> str | None:
    """What makes refusals identical: the account, or for emails no account has, any of them
    (an address trying a new email each time would otherwise add an event each time)."""
    return None if known else UNKNOWN_ACCOUNT


def _who(email: str, *, known: bool) -> str:
    """How a sign-in is named in the (permanent) audit log and in the logs: the account's
    email, or the keyed digest of what was typed when no account has it (it may be a password
    typed into the wrong field)."""
    if known:
        return email
    return f"{UNKNOWN_ACCOUNT} {throttling.digest(email)[:16]}"


def _lock_key(email: str) -> str:
    """Serialises the sign-ins of one account (named by its digest: lock keys may be logged)."""
    return f"sign-in:{throttling.digest(email)}"


def _succeeded(
    user: User, address: str | None, *, step: str, first_step: str | None = None
) -> None:
    throttling.clear(user.email, address)
    user.last_login_at = utcnow()
    # Which first step a second one followed, when it was not the password.
    after: dict[str, Any] = (
        {"first_step": first_step} if first_step not in (None, "password") else {}
    )
    audit.record("auth.success", user, target=user.email, step=step, **after)
    log.info("auth.success", extra={"user_id": user.id, "step": step})
    metrics.sign_in("success")
