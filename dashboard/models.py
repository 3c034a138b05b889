"""The tables. Models hold data and small derived properties; services commit, models never do."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .domain import capabilities, statuses
from .domain.capabilities import ROLES, Capability
from .domain.statuses import Status
from .extensions import db

ENVIRONMENTS = ("sandbox", "production")

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_in(column: str, values: tuple[str, ...]) -> CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=f"{column}_valid")


def new_session_version() -> str:
    return secrets.token_urlsafe(16)


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"
    __table_args__ = (
        _check_in("role", ROLES),
        Index("ix_users_sso_identity", "sso_issuer", "sso_subject", unique=True),
        Index("ix_users_webauthn_user_handle", "webauthn_user_handle", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_version: Mapped[str] = mapped_column(String(64), default=new_session_version)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # A one-time password (set by an admin) stops working at this time if not changed before.
    password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Two-step sign-in: the TOTP secret (encrypted) is kept from the start of enrolment; it is in
    # force from ``two_step_enabled_at``. The last accepted time step stops a code being replayed.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    two_step_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    recovery_code_hashes: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Single sign-on: the identity provider's issuer and subject (``sub``) this account was
    # first matched to; a later sign-in must come from the same identity.
    sso_issuer: Mapped[str | None] = mapped_column(String(255))
    sso_subject: Mapped[str | None] = mapped_column(String(255))
    # Passkeys: the random WebAuthn user handle the authenticator stores (never the id or the
    # email), set when the first passkey is added.
    webauthn_user_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64))

    passkeys: Mapped[list[Passkey]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Passkey.id"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """The session carries the version too, so rotating it ends every existing session."""
        return f"{self.id}:{self.session_version}"

    def may(self, capability: Capability) -> bool:
        return capabilities.may(self.role, capability)

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def totp_enabled(self) -> bool:
        """Whether a confirmed authenticator app (TOTP) is a second step of this account."""
        return self.two_step_enabled_at is not None

    @property
    def two_step_enabled(self) -> bool:
        """Whether signing in takes a second step: a TOTP code, or a passkey (a passkey alone
        counts as enrolment: it is the stronger second factor)."""
        return self.totp_enabled or bool(self.passkeys)


class Passkey(db.Model):  # type: ignore[name-defined]
    """A WebAuthn credential of a user (services.passkeys): its public key, never a secret."""

    __tablename__ = "passkeys"
    __table_args__ = (Index("ix_passkeys_credential_id", "credential_id", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str] | None] = mapped_column(JSON)
    # Whether the authenticator verified its user (PIN, fingerprint) when it was registered.
    user_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="passkeys")


class Attempt(db.Model):  # type: ignore[name-defined]
    """One try at sending one SMS. Inserted before the provider is called; never deleted by
    the send path."""

    __tablename__ = "attempts"
    __table_args__ = (
        _check_in("status", statuses.ALL),
        _check_in("environment", ENVIRONMENTS),
        # History filters: one composite index per frequent filter, sort key (id) last.
        Index("ix_attempts_status_id", "status", "id"),
        Index("ix_attempts_environment_id", "environment", "id"),
        Index("ix_attempts_user_id_id", "user_id", "id"),
        Index("ix_attempts_response_code_id", "response_code", "id"),
        Index("ix_attempts_phone_e164_id", "phone_e164", "id"),
        Index("ix_attempts_phone_reversed_id", "phone_reversed", "id"),
        Index("ix_attempts_created_at", "created_at"),
        # Limits: sends to one number, and by one user, in a window. The status is in the index
        # so the count of counted sends is read from the index alone (no table lookups).
        Index("ix_attempts_phone_e164_created_at_status", "phone_e164", "created_at", "status"),
        Index("ix_attempts_user_id_created_at_status", "user_id", "created_at", "status"),
        # Resends of an attempt (its page), and the foreign key check of every purged row.
        Index("ix_attempts_resend_of_id", "resend_of_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    provider_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    environment: Mapped[str] = mapped_column(String(16))
    provider_version: Mapped[int | None] = mapped_column(Integer)
    country_code: Mapped[str] = mapped_column(String(4))
    national_number: Mapped[str] = mapped_column(String(17))
    phone_e164: Mapped[str] = mapped_column(String(16))
    # The E.164 digits reversed: "ends with 7652" becomes an indexed prefix range.
    phone_reversed: Mapped[str] = mapped_column(String(16))
    message_masked: Mapped[str] = mapped_column(Text)  # the text that went, code masked
    # The approved template it came from, and whether the sender edited its text (an admin
    # setting allows that); None for attempts recorded before templates were enforced.
    template_id: Mapped[str | None] = mapped_column(String(36))
    message_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_failed_checks: Mapped[int] = mapped_column(Integer, default=0)
    code_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the code stopped working unused: another code of the number was used, or the
    # number's wrong tries ran out (services.code_checks).
    code_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING)
    response_code: Mapped[str | None] = mapped_column(String(64))
    response_message: Mapped[str | None] = mapped_column(Text)
    response_debug: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    http_status: Mapped[int | None] = mapped_column(Integer)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when a blocked send may go
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    resend_of_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    # False when the sender may not see the number in full: a resend of an attempt whose number
    # was masked for them keeps it masked (services.history.may_see_full_number).
    number_visible_to_sender: Mapped[bool] = mapped_column(Boolean, default=True)

    user: Mapped[User] = relationship(lazy="joined")
    resend_of: Mapped[Attempt | None] = relationship(remote_side=[id])

    @property
    def status_words(self) -> str:
        return Status(self.status).word


CHECK_OUTCOMES = ("right", "wrong", "last_try", "earlier", "none_valid", "none_sent")


class CodeCheck(db.Model):  # type: ignore[name-defined]
    """One check of a code a customer read back (services.code_checks), right or wrong.

    The number is kept as a keyed digest (``phone_digest``): a check may be of a number typed
    by mistake, to which nothing was ever sent, and what a person typed by mistake is kept
    only so. The typed code is never kept. ``attempt_id`` is the send the check refers to:
    the one whose code it was, else the latest send whose code was still valid, else the
    latest send to the number; None when nothing was ever sent to it. Deleted with that
    attempt (the purge)."""

    __tablename__ = "code_checks"
    __table_args__ = (
        _check_in("outcome", CHECK_OUTCOMES),
        Index("ix_code_checks_phone_digest_id", "phone_digest", "id"),
        Index("ix_code_checks_attempt_id_id", "attempt_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    phone_digest: Mapped[str] = mapped_column(String(64))
    matched: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(lazy="joined")
    attempt: Mapped[Attempt | None] = relationship()


class AuditEvent(db.Model):  # type: ignore[name-defined]
    """Append-only (database triggers refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE) and
    chained: ``hash`` is an HMAC, under the audit key named by ``key_id``, of the event's id,
    its content and the previous event's ``hash`` (services.audit), so whoever can write the
    table but lacks the key cannot edit, delete or insert a row unnoticed. Rows from before the
    keyed chain have no ``key_id``; their ``hash`` is a plain SHA-256."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_action_id", "action", "id"),
        Index("ix_audit_events_actor_id_id", "actor_id", "id"),
        Index("ix_audit_events_actor_label_id", "actor_label", "id"),  # the actor filter
        Index("ix_audit_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(254), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
    # Identical refusals counted (AuditRepeat) since the previous event of the same kind, which
    # this event brings into the chain.
    repeats_before: Mapped[int | None] = mapped_column(Integer)
    key_id: Mapped[str | None] = mapped_column(String(32))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(db.Model):  # type: ignore[name-defined]
    """The chain was verified up to event ``event_id``, whose MAC was ``event_hash``, at
    ``created_at``. Verification starts from the newest one instead of the first event, and
    a checkpoint past the last event, or one whose event's MAC differs, shows that rows were
    deleted or replaced. Each row is MACed itself (``hash``), so none can be forged without
    the audit key; append-only like the log. No foreign key: a checkpoint must outlive the
    rows it vouches for."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, index=True)
    event_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16))  # "command", "page", "verify"
    key_id: Mapped[str] = mapped_column(String(32))
    hash: Mapped[str] = mapped_column(String(64))


class AuditRepeat(db.Model):  # type: ignore[name-defined]
    """Identical refusals (same action, target and address) within a window after event
    ``event_id``, counted here instead of each being an event: anonymous requests cannot grow
    the log faster than one event per window. The next event of the same ``key`` after the
    window carries the count into the chain (``AuditEvent.repeats_before``). Not chained, so
    rows are updated in place."""

    __tablename__ = "audit_repeats"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(64), index=True)  # a digest of what repeats
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderAccount(db.Model):  # type: ignore[name-defined]
    """RevenueMonster credentials of one environment, encrypted at rest. An admin may set them
    piece by piece (a key pair first, to register it; then the client ID and secret): the
    account sends only once all three are there."""

    __tablename__ = "provider_accounts"
    __table_args__ = (_check_in("environment", ENVIRONMENTS),)

    environment: Mapped[str] = mapped_column(String(16), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128), default="")
    client_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    private_key_encrypted: Mapped[str | None] = mapped_column(Text)
    public_key_fingerprint: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(254))
    # Whoever holds this lease renews the shared token; the others wait and then reuse it.
    # Only its owner (a random id per renewal) may clear it, so a late worker cannot wipe it.
    token_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_lease_owner: Mapped[str | None] = mapped_column(String(32))

    @property
    def complete(self) -> bool:
        return bool(self.client_id and self.client_secret_encrypted and self.private_key_encrypted)


class ProviderToken(db.Model):  # type: ignore[name-defined]
    """The access token of one environment, shared by every worker, encrypted at rest."""

    __tablename__ = "provider_tokens"
    __table_args__ = (_check_in("environment", ENVIRONMENTS),)

    environment: Mapped[str] = mapped_column(String(16), primary_key=True)
    provider_version: Mapped[int] = mapped_column(Integer)
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignInThrottle(db.Model):  # type: ignore[name-defined]
    """Failed sign-ins counted per account and per (client address, account), so an address
    is refused only the accounts it failed on. Keys hold a keyed digest of the email typed,
    never the text (services.throttling)."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # "<kind>:<digest or address>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Setting(db.Model):  # type: ignore[name-defined]
    """A setting that admins change at run time (active environment, limits, templates)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(254), default="")
