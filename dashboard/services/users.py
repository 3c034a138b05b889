"""Accounts: creation, passwords, roles, disabling, two-step and sessions; every change audited."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from ..database import write_transaction
from ..domain import capabilities, emails
from ..domain.capabilities import ROLES, Capability
from ..domain.passwords import hash_password, verify_password
from ..extensions import db
from ..models import User, new_session_version, utcnow
from . import audit, runtime_settings, two_step

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
#: zxcvbn's score (0-4) a password needs: 3 is "safely unguessable: moderate protection from an
#: offline slow-hash scenario", i.e. not in its lists of common passwords, words and patterns.
MIN_PASSWORD_SCORE = 3
USERS_LOCK = "users"  # serialises changes that must keep at least one active admin


class UserError(ValueError):
    """A user change that cannot be made; the message says why, in words for a person."""


def normalise_email(email: str) -> str:
    """The lenient form used to look an account up (sign-in): what is typed there is never
    refused for its shape, only answered "wrong email or password". New addresses are held to
    the strict rules of ``domain.emails.normalise`` (create_user)."""
    return email.strip().lower()


def check_password_policy(password: str, *, email: str = "", name: str = "") -> None:
    """Raise :class:`UserError` unless the password is 12 to 128 characters long and not
    common or guessable (no composition rules: length and unpredictability are what count)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    from zxcvbn import zxcvbn  # here, not at import: its word lists are large (docs/performance.md)

    hints = [part for part in (email, email.split("@")[0], name) if part]
    # zxcvbn's matching grows quickly with length; 64 characters are plenty to judge by.
    strength = zxcvbn(password[:64], user_inputs=hints)
    if strength["score"] < MIN_PASSWORD_SCORE:
        advice = strength["feedback"].get("warning") or "It is too easy to guess."
        raise UserError(
            f"Choose a harder password: {advice.rstrip('.')}. A few unrelated words work well."
        )


def generate_one_time_password() -> str:
    return secrets.token_urlsafe(15)


def one_time_password_expiry() -> timedelta:
    """How long a one-time password signs in (``DASHBOARD_ONE_TIME_PASSWORD_HOURS``): it travels
    by whatever channel the admin chose, so an unused one must not stay valid for ever."""
    return timedelta(hours=int(current_app.config.get("ONE_TIME_PASSWORD_HOURS", 72)))


def password_expired(user: User) -> bool:
    """Whether the user's password is a one-time password past its time."""
    return user.password_expires_at is not None and user.password_expires_at <= utcnow()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def get(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))


def names() -> dict[int, str]:
    """Every user's id and display name, in e-mail order: what lists of senders show, without
    loading whole accounts."""
    return {row.id: row.name or row.email for row in db.session.execute(_NAMES)}


_NAMES = select(User.id, User.name, User.email).order_by(User.email)  # built once: every page


def two_step_required(user: User) -> bool:
    """Admins always sign in with two steps; everyone does when an admin turned that on."""
    return capabilities.always_two_step(user.role) or bool(
        runtime_settings.get(runtime_settings.TWO_STEP_FOR_EVERYONE, False)
    )


def create_user(
    email: str, role: str, actor: audit.Actor, *, name: str = "", password: str | None = None
) -> tuple[User, str | None]:
    """Create an account. Returns the user and, when no password was given, the generated
    one-time password (shown once, to be changed at first sign-in, and valid for
    :func:`one_time_password_expiry` only)."""
    try:
        email = emails.normalise(email)
    except emails.InvalidEmail as error:
        raise UserError(str(error)) from None
    _check_role(role)
    one_time = None
    if password is None:
        password = one_time = generate_one_time_password()
    else:
        check_password_policy(password, email=email, name=name)
    with write_transaction(audit.CHAIN_LOCK, USERS_LOCK):
        if find_by_email(email) is not None:
            raise UserError(f"A user with the email {email} already exists.")
        user = User(
            email=email,
            name=name.strip()[:120],
            role=role,
            password_hash=hash_password(password),
            must_change_password=one_time is not None,
            password_expires_at=utcnow() + one_time_password_expiry() if one_time else None,
        )
        db.session.add(user)
        db.session.flush()
        audit.record("user.create", actor, target=email, role=role)
    return user, one_time


def change_password(user: User, new_password: str) -> None:
    """Set a password the user chose (not the one they have: a one-time password must really
    be replaced); ends the user's other sessions."""
    check_password_policy(new_password, email=user.email, name=user.name)
    if verify_password(user.password_hash, new_password):
        raise UserError("The new password must differ from your current one.")
    with write_transaction(audit.CHAIN_LOCK):
        user = reload(user)
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        user.password_expires_at = None
        user.session_version = new_session_version()
        audit.record("user.password_change", user, target=user.email)


def reset_password(user: User, actor: audit.Actor) -> str:
    """Give the user a one-time password (returned, shown once; valid for
    :func:`one_time_password_expiry`) and end their sessions."""
    one_time = generate_one_time_password()
    with write_transaction(audit.CHAIN_LOCK):
        user = reload(user)
        user.password_hash = hash_password(one_time)
        user.must_change_password = True
        user.password_expires_at = utcnow() + one_time_password_expiry()
        user.session_version = new_session_version()
        audit.record("user.password_reset", actor, target=user.email)
    return one_time


def set_role(user: User, role: str, actor: audit.Actor) -> None:
    _check_role(role)
    with write_transaction(audit.CHAIN_LOCK, USERS_LOCK):
        user = reload(user)
        if user.role == role:
            return
        if _manages_users(user.role) and not _manages_users(role):
            _keep_an_admin(user)
        old, user.role = user.role, role
        user.session_version = new_session_version()
        audit.record("user.role_change", actor, target=user.email, old=old, new=role)


def set_active(user: User, active: bool, actor: audit.Actor) -> None:
    """Disable (ending every session) or enable an account."""
    with write_transaction(audit.CHAIN_LOCK, USERS_LOCK):
        user = reload(user)
        if user.active == active:
            return
        if not active and _manages_users(user.role):
            _keep_an_admin(user)
        user.active = active
        user.session_version = new_session_version()
        audit.record("user.enable" if active else "user.disable", actor, target=user.email)


def reset_two_step(user: User, actor: audit.Actor) -> None:
    """Turn the user's two-step off (lost phone); they enrol again where it is required."""
    with write_transaction(audit.CHAIN_LOCK):
        user = reload(user)
        two_step.reset(user)
        user.session_version = new_session_version()
        audit.record("user.two_step_reset", actor, target=user.email)


def begin_two_step(user: User) -> str:
    """Start (or restart) the user's own enrolment; return the new secret."""
    with write_transaction():
        user = reload(user)
        try:
            return two_step.begin_enrolment(user)
        except two_step.TwoStepError as error:
            raise UserError(str(error)) from None


def confirm_two_step(user: User, code: str, *, marker: str | None = None) -> list[str]:
    """Finish enrolment with a code from the app; return the recovery codes (shown once).

    Every other session of the user ends: they were opened with the password alone, and must
    now sign in with the second step too (the caller starts the confirming session again).
    ``marker`` is the mark the confirming session keeps of the set-up it started
    (two_step.enrolment_marker): the pages always pass it, so a session confirms only its own
    set-up. Callers without a browser session, which hold the secret itself (the tests'
    set-up), leave it out."""
    with write_transaction(audit.CHAIN_LOCK):
        user = reload(user)
        try:
            codes = two_step.confirm_enrolment(user, code, marker=marker)
        except two_step.TwoStepError as error:
            raise UserError(str(error)) from None
        user.session_version = new_session_version()
        return codes


def sign_out(user: User) -> None:
    """Rotate the session version, so a copy of the old cookie no longer signs in."""
    with write_transaction(audit.CHAIN_LOCK):
        user = reload(user)
        user.session_version = new_session_version()
        audit.record("auth.sign_out", user, target=user.email)


def sign_out_everywhere(user: User, actor: audit.Actor) -> None:
    """End every session of ``user``, on every device."""
    with write_transaction(audit.CHAIN_LOCK):
        user = reload(user)
        user.session_version = new_session_version()
        audit.record("user.sign_out_everywhere", actor, target=user.email)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"The role must be one of {', '.join(ROLES)}.")


def _manages_users(role: str) -> bool:
    return capabilities.may(role, Capability.MANAGE_USERS)


def _keep_an_admin(leaving: User) -> None:
    others = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.role.in_(capabilities.holders(Capability.MANAGE_USERS)),
            User.active.is_(True),
            User.id != leaving.id,
        )
    )
    if not others:
        raise UserError("This is the last active admin; make another admin first.")


def reload(user: User | None) -> User:
    """The same user read again (inside a write transaction: its current row)."""
    found = db.session.get(User, user.id, populate_existing=True) if user is not None else None
    if found is None:
        raise UserError("That user no longer exists.")
    return found
