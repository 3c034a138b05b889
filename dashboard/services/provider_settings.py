"""RevenueMonster accounts per environment: credentials encrypted at rest, the active
environment, the token store shared by every worker, and a ready client for a send."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from flask import current_app
from sqlalchemy import func, select, update

from ..database import end_read_transaction, write_transaction
from ..encryption import DecryptionError, secret_box
from ..extensions import db
from ..models import ENVIRONMENTS, Attempt, ProviderAccount, ProviderToken, utcnow
from ..revenuemonster import (
    Credentials,
    Endpoints,
    RevenueMonsterClient,
    Token,
    TokenError,
    keys,
)
from . import audit, runtime_settings

log = logging.getLogger(__name__)
ACTIVE_ENVIRONMENT = "active_environment"
CONNECT_TIMEOUT_SECONDS = 3.05
#: The most one send may take, token requests and a renewal included: under gunicorn's 30 s.
SEND_BUDGET_SECONDS = 20.0
#: How long one worker may hold the right to renew the shared token before others take over.
TOKEN_LEASE = timedelta(seconds=15)
_cache_lock = threading.Lock()


class ProviderError(ValueError):
    """A provider setting that cannot be made; the message says why, for a person."""


def check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise ProviderError(f"The environment must be one of {', '.join(ENVIRONMENTS)}.")
    return environment


def active_environment() -> str:
    return str(runtime_settings.get(ACTIVE_ENVIRONMENT, "sandbox"))


def use_environment(environment: str, actor: audit.Actor, *, reason: str = "") -> str:
    """Make ``environment`` the one later sends use; returns the previous one. A send already
    under way keeps the environment it read when it started."""
    check_environment(environment)
    found = account(environment)
    if found is None or not found.complete:
        raise ProviderError(
            f"{environment} has no complete RevenueMonster credentials yet; configure them first."
        )
    with write_transaction(audit.CHAIN_LOCK, ACTIVE_ENVIRONMENT):
        previous = runtime_settings.put(ACTIVE_ENVIRONMENT, environment, actor) or "sandbox"
        audit.record(
            "provider.switch",
            actor,
            target=environment,
            old=previous,
            new=environment,
            reason=reason,
        )
    return previous


def account(environment: str) -> ProviderAccount | None:
    return db.session.get(ProviderAccount, check_environment(environment))


def configure(
    environment: str,
    actor: audit.Actor,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    private_key_pem: bytes | None = None,
) -> ProviderAccount:
    """Store what is given of an environment's credentials (None keeps what is stored),
    encrypted; a private key is checked (RSA, PKCS#1 or PKCS#8 PEM, 2048 bits or more) first.
    Any change starts a new credentials version, so the shared token is fetched again."""
    check_environment(environment)
    client_id = client_id.strip() if client_id is not None else None
    client_secret = client_secret.strip() if client_secret is not None else None
    if client_id == "" or client_secret == "":
        raise ProviderError("The client ID and the client secret cannot be empty.")
    if client_id is not None and len(client_id) > 128:
        raise ProviderError("The client ID is too long (at most 128 characters).")
    private_key = _parsed_key(private_key_pem) if private_key_pem is not None else None
    box = secret_box()
    label = audit.actor_label(actor)
    with write_transaction(audit.CHAIN_LOCK, f"provider:{environment}"):
        row = db.session.get(ProviderAccount, environment)
        if row is None:
            row = ProviderAccount(
                environment=environment, version=0, client_id="", updated_by=label
            )
            db.session.add(row)
        changed = []
        if client_id is not None:
            row.client_id = client_id
            changed.append("client_id")
        if client_secret is not None:
            row.client_secret_encrypted = box.encrypt(
                client_secret.encode(), slot=account_slot(environment, "client_secret")
            )
            changed.append("client_secret")
        if private_key is not None:
            row.private_key_encrypted = box.encrypt(
                keys.private_key_pem(private_key), slot=account_slot(environment, "private_key")
            )
            row.public_key_fingerprint = keys.fingerprint(private_key)
            changed.append("private_key")
        row.version += 1
        row.updated_at = utcnow()
        row.updated_by = label
        row.token_lease_until = None
        db.session.execute(
            ProviderToken.__table__.delete().where(ProviderToken.environment == environment)
        )
        audit.record(
            "provider.configure",
            actor,
            target=environment,
            changed=changed,
            client_id=row.client_id,
            fingerprint=row.public_key_fingerprint,
            version=row.version,
        )
    return row


def generate_key_pair(environment: str, actor: audit.Actor) -> bytes:
    """Make and store a new 2048-bit key pair for ``environment``; return the public key (PEM)
    to register in RevenueMonster's merchant portal. The private key never leaves here."""
    private_key = keys.generate_private_key()
    configure(environment, actor, private_key_pem=keys.private_key_pem(private_key))
    return keys.public_key_pem(private_key)


def public_key_pem(environment: str) -> bytes | None:
    """The public key matching the stored private key, or None."""
    row = account(environment)
    if row is None or row.private_key_encrypted is None:
        return None
    return keys.public_key_pem(_private_key(row))


def client_for(environment: str) -> tuple[RevenueMonsterClient, int | None]:
    """A client for ``environment`` and the credentials version it uses (None when the
    environment's credentials are incomplete: its sends then fail as not sent)."""
    row = account(environment)
    complete = row is not None and row.complete
    credentials = _credentials(row) if row is not None and complete else None
    urls = current_app.config["RM_URLS"][environment]
    client = RevenueMonsterClient(
        credentials,
        Endpoints(oauth_url=urls["oauth"], api_url=urls["api"]),
        DatabaseTokenStore(environment, row.version if row is not None else 0),
        connect_timeout=min(CONNECT_TIMEOUT_SECONDS, current_app.config["RM_TIMEOUT_SECONDS"]),
        read_timeout=current_app.config["RM_TIMEOUT_SECONDS"],
        total_timeout=SEND_BUDGET_SECONDS,
        sms_type=current_app.config["SMS_TYPE"],
    )
    return client, row.version if row is not None and complete else None


def test_connection(environment: str, actor: audit.Actor) -> tuple[bool, str]:
    """Fetch a fresh token; return whether it worked and what happened, in words."""
    client, version = client_for(environment)
    if version is None:
        return False, f"{environment.title()} has no complete credentials yet."
    end_read_transaction()
    try:
        with client:
            token = client.fetch_token()
    except TokenError as error:
        outcome = error.outcome
        ok, words = False, f"RevenueMonster did not give a token: {outcome.code} {outcome.message}"
    else:
        expires = datetime.fromtimestamp(token.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        ok, words = True, f"Connected to {environment}: token valid until {expires}."
    with write_transaction(audit.CHAIN_LOCK):
        audit.record("provider.test", actor, target=environment, ok=ok, result=words)
    return ok, words


@dataclass(frozen=True)
class Health:
    """What an admin needs to see at a glance about one environment."""

    token_expires_at: datetime | None
    last_success: Attempt | None
    last_failure: Attempt | None
    counts_24h: dict[str, int]


def health(environment: str) -> Health:
    token = db.session.get(ProviderToken, environment)
    since = utcnow() - timedelta(hours=24)
    in_env = Attempt.environment == environment

    def latest(*statuses: str) -> Attempt | None:
        return db.session.scalar(
            select(Attempt)
            .where(in_env, Attempt.status.in_(statuses))
            .order_by(Attempt.id.desc())
            .limit(1)
        )

    counts = dict(
        db.session.execute(
            select(Attempt.status, func.count())
            .where(in_env, Attempt.created_at >= since)
            .group_by(Attempt.status)
        ).all()
    )
    return Health(
        token_expires_at=token.expires_at if token is not None else None,
        last_success=latest("accepted"),
        last_failure=latest("rejected", "failed", "unknown"),
        counts_24h={status: int(n) for status, n in counts.items()},
    )


class DatabaseTokenStore:
    """The token of one environment in ``provider_tokens``, shared by every worker and
    encrypted; a token issued for older credentials is ignored. Renewal is leased, so that
    many workers finding the token expired make one token request, not one each."""

    def __init__(self, environment: str, version: int) -> None:
        self.environment = environment
        self.version = version

    def load(self) -> Token | None:
        """The stored token, or None (none yet, for older credentials, or unreadable: then a
        new one is fetched). The read transaction ends here: HTTP follows."""
        try:
            # populate_existing: another worker may have renewed it since this session looked.
            row = db.session.get(ProviderToken, self.environment, populate_existing=True)
            if row is None or row.provider_version != self.version:
                return None
            box = secret_box()
            refresh = (
                box.decrypt(
                    row.refresh_token_encrypted, slot=token_slot(self.environment, "refresh")
                ).decode()
                if row.refresh_token_encrypted
                else None
            )
            return Token(
                access_token=box.decrypt(
                    row.access_token_encrypted, slot=token_slot(self.environment, "access")
                ).decode(),
                expires_at=row.expires_at.timestamp(),
                refresh_token=refresh,
                refresh_expires_at=row.refresh_expires_at.timestamp()
                if row.refresh_expires_at
                else None,
            )
        except DecryptionError:
            log.warning("provider_token.unreadable", extra={"environment": self.environment})
            return None
        finally:
            end_read_transaction()

    def save(self, token: Token | None) -> None:
        with write_transaction(f"provider_token:{self.environment}"):
            row = db.session.get(ProviderToken, self.environment)
            if token is None:
                if row is not None:
                    db.session.delete(row)
                return
            box = secret_box()
            if row is None:
                row = ProviderToken(environment=self.environment)
                db.session.add(row)
            row.provider_version = self.version
            row.access_token_encrypted = box.encrypt(
                token.access_token.encode(), slot=token_slot(self.environment, "access")
            )
            row.expires_at = datetime.fromtimestamp(token.expires_at, UTC)
            row.refresh_token_encrypted = (
                box.encrypt(
                    token.refresh_token.encode(), slot=token_slot(self.environment, "refresh")
                )
                if token.refresh_token
                else None
            )
            row.refresh_expires_at = (
                datetime.fromtimestamp(token.refresh_expires_at, UTC)
                if token.refresh_expires_at
                else None
            )
            row.updated_at = utcnow()

    @contextmanager
    def renewal(self) -> Iterator[None]:
        """Hold the right to renew the token: wait while another worker (in any process) holds
        it, then take it. A holder that died loses it after TOKEN_LEASE."""
        give_up = time.monotonic() + TOKEN_LEASE.total_seconds()
        while not self._take_lease() and time.monotonic() < give_up:
            time.sleep(0.05)
        try:
            yield
        finally:
            self._set_lease(None)

    def _take_lease(self) -> bool:
        now = utcnow()
        with write_transaction(f"provider_token:{self.environment}"):
            taken = db.session.execute(
                update(ProviderAccount)
                .where(
                    ProviderAccount.environment == self.environment,
                    (ProviderAccount.token_lease_until.is_(None))
                    | (ProviderAccount.token_lease_until < now),
                )
                .values(token_lease_until=now + TOKEN_LEASE)
            )
        return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _set_lease(self, until: datetime | None) -> None:
        with write_transaction(f"provider_token:{self.environment}"):
            db.session.execute(
                update(ProviderAccount)
                .where(ProviderAccount.environment == self.environment)
                .values(token_lease_until=until)
            )


def account_slot(environment: str, field: str) -> str:
    """Where an account's secret lives: the associated data it is encrypted with."""
    return f"provider_accounts/{environment}/{field}"


def token_slot(environment: str, kind: str) -> str:
    return f"provider_tokens/{environment}/{kind}"


def _parsed_key(pem: bytes) -> RSAPrivateKey:
    try:
        return keys.load_private_key(pem)
    except keys.KeyFormatError as error:
        raise ProviderError(str(error)) from None


def _private_key(row: ProviderAccount) -> RSAPrivateKey:
    return _credentials(row).private_key


def _credentials(row: ProviderAccount) -> Credentials:
    """Decrypt and parse an account's credentials once per stored version in this process
    (parsing an RSA key costs ~40 ms; signing with it 0.3 ms)."""
    cache: dict[str, tuple[str, Credentials]] = current_app.extensions.setdefault(
        "dashboard.credentials", {}
    )
    cache_key = hashlib.sha256(
        f"{row.environment}|{row.version}|{row.private_key_encrypted}|"
        f"{row.client_secret_encrypted}".encode()
    ).hexdigest()
    with _cache_lock:
        cached = cache.get(row.environment)
        if cached is not None and cached[0] == cache_key:
            return cached[1]
        box = secret_box()
        assert row.private_key_encrypted is not None
        pem = box.decrypt(
            row.private_key_encrypted, slot=account_slot(row.environment, "private_key")
        )
        secret = (
            box.decrypt(
                row.client_secret_encrypted, slot=account_slot(row.environment, "client_secret")
            )
            if row.client_secret_encrypted
            else b""
        )
        credentials = Credentials(
            client_id=row.client_id,
            client_secret=secret.decode(),
            private_key=keys.load_private_key(pem),
        )
        cache[row.environment] = (cache_key, credentials)
    return credentials
