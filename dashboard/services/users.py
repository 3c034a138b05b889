"""Accounts: creation, sign-in checks and role changes, each written to the audit log."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from ..database import write_transaction
from ..extensions import db
from ..models import ROLES, User, new_session_version, utcnow
from . import audit
from .passwords import dummy_hash, hash_password, needs_rehash, verify_password

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128


class UserError(ValueError):
    """A user change that cannot be made; the message says why, in words for a person."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_policy(password: str) -> None:
    """Raise :class:`UserError` unless the password is 12 to 128 characters long."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")


def generate_one_time_password() -> str:
    return secrets.token_urlsafe(15)


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    email: str, role: str, actor: audit.Actor, *, name: str = "", password: str | None = None
) -> tuple[User, str | None]:
    """Create an account. Returns the user and, when no password was given, the generated
    one-time password (shown once, to be changed at first sign-in)."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise UserError(f"{email!r} is not an email address.")
    if role not in ROLES:
        raise UserError(f"The role must be one of {', '.join(ROLES)}.")
    one_time = None
    if password is None:
        password = one_time = generate_one_time_password()
    check_password_policy(password)
    with write_transaction(audit.CHAIN_LOCK, f"user:{email}"):
        if find_by_email(email) is not None:
            raise UserError(f"A user with the email {email} already exists.")
        user = User(
            email=email,
            name=name.strip(),
            role=role,
            password_hash=hash_password(password),
            must_change_password=one_time is not None,
        )
        db.session.add(user)
        db.session.flush()
        audit.record("user.create", actor, target=email, role=role)
    return user, one_time


def authenticate(email: str, password: str) -> User | None:
    """Return the active user whose password matches, or None; audit either way.

    An unknown email costs the same hashing time as a wrong password."""
    user = find_by_email(email)
    if user is None:
        verify_password(dummy_hash(), password)
        matched = False
    else:
        matched = verify_password(user.password_hash, password) and user.active
    with write_transaction(audit.CHAIN_LOCK):
        if not matched:
            audit.record("auth.failure", normalise_email(email)[:254], target=email[:254])
            return None
        user = _reloaded(user)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        audit.record("auth.success", user, target=user.email)
    return user


def change_password(user: User, new_password: str) -> None:
    """Set a new password chosen by the user; ends the user's other sessions."""
    check_password_policy(new_password)
    with write_transaction(audit.CHAIN_LOCK):
        user = _reloaded(user)
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        user.session_version = new_session_version()
        audit.record("user.password_change", user, target=user.email)


def sign_out(user: User) -> None:
    """Rotate the session version, so a copy of the old cookie no longer signs in."""
    with write_transaction(audit.CHAIN_LOCK):
        user = _reloaded(user)
        user.session_version = new_session_version()
        audit.record("auth.sign_out", user, target=user.email)


def _reloaded(user: User | None) -> User:
    """The same user, read again inside the current write transaction."""
    found = db.session.get(User, user.id, populate_existing=True) if user is not None else None
    if found is None:
        raise UserError("That user no longer exists.")
    return found
