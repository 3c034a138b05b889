"""RevenueMonster accounts per environment: credentials encrypted at rest, the active
environment, the shared token store, and a ready client for a send."""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, datetime

from flask import current_app

from ..database import write_transaction
from ..encryption import secret_box
from ..extensions import db
from ..models import ENVIRONMENTS, ProviderAccount, ProviderToken, utcnow
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
    """Make ``environment`` the one later sends use; returns the previous one."""
    check_environment(environment)
    if account(environment) is None:
        raise ProviderError(
            f"{environment} has no RevenueMonster credentials yet; configure them first."
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
    client_id: str,
    client_secret: str,
    private_key_pem: bytes,
) -> ProviderAccount:
    """Store an environment's credentials, encrypted; the key is checked before it is kept."""
    check_environment(environment)
    client_id, client_secret = client_id.strip(), client_secret.strip()
    if not client_id or not client_secret:
        raise ProviderError("The client ID and the client secret are both required.")
    try:
        private_key = keys.load_private_key(private_key_pem)
    except keys.KeyFormatError as error:
        raise ProviderError(str(error)) from None
    box = secret_box()
    fingerprint = keys.fingerprint(private_key)
    with write_transaction(audit.CHAIN_LOCK, f"provider:{environment}"):
        row = db.session.get(ProviderAccount, environment)
        if row is None:
            row = ProviderAccount(environment=environment, version=0)
            db.session.add(row)
        row.client_id = client_id
        row.client_secret_encrypted = box.encrypt(
            client_secret.encode(), slot=_slot(environment, "client_secret")
        )
        row.private_key_encrypted = box.encrypt(
            keys.private_key_pem(private_key), slot=_slot(environment, "private_key")
        )
        row.public_key_fingerprint = fingerprint
        row.version += 1
        row.updated_at = utcnow()
        row.updated_by = audit.actor_label(actor)
        db.session.execute(
            ProviderToken.__table__.delete().where(ProviderToken.environment == environment)
        )
        audit.record(
            "provider.configure",
            actor,
            target=environment,
            client_id=client_id,
            fingerprint=fingerprint,
            version=row.version,
        )
    return row


def client_for(environment: str) -> tuple[RevenueMonsterClient, int | None]:
    """A client for ``environment`` and the credentials version it uses (None when the
    environment has no credentials: its sends then fail as not sent)."""
    row = account(environment)
    credentials = _credentials(row) if row is not None else None
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
    return client, row.version if row is not None else None


def test_connection(environment: str, actor: audit.Actor) -> tuple[bool, str]:
    """Fetch a fresh token; return whether it worked and what happened, in words."""
    client, version = client_for(environment)
    if version is None:
        return False, f"No credentials are configured for {environment}."
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


class DatabaseTokenStore:
    """The token of one environment in ``provider_tokens``, shared by every worker and
    encrypted; a token issued for older credentials is ignored."""

    def __init__(self, environment: str, version: int) -> None:
        self.environment = environment
        self.version = version

    def load(self) -> Token | None:
        # populate_existing: another worker may have renewed it since this session looked.
        row = db.session.get(ProviderToken, self.environment, populate_existing=True)
        if row is None or row.provider_version != self.version:
            return None
        box = secret_box()
        refresh = (
            box.decrypt(row.refresh_token_encrypted, slot=self._slot("refresh")).decode()
            if row.refresh_token_encrypted
            else None
        )
        return Token(
            access_token=box.decrypt(
                row.access_token_encrypted, slot=self._slot("access")
            ).decode(),
            expires_at=row.expires_at.timestamp(),
            refresh_token=refresh,
            refresh_expires_at=row.refresh_expires_at.timestamp()
            if row.refresh_expires_at
            else None,
        )

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
                token.access_token.encode(), slot=self._slot("access")
            )
            row.expires_at = datetime.fromtimestamp(token.expires_at, UTC)
            row.refresh_token_encrypted = (
                box.encrypt(token.refresh_token.encode(), slot=self._slot("refresh"))
                if token.refresh_token
                else None
            )
            row.refresh_expires_at = (
                datetime.fromtimestamp(token.refresh_expires_at, UTC)
                if token.refresh_expires_at
                else None
            )
            row.updated_at = utcnow()

    def _slot(self, kind: str) -> str:
        return f"provider_tokens/{self.environment}/{kind}"


def _slot(environment: str, field: str) -> str:
    return f"provider_accounts/{environment}/{field}"


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
        pem = box.decrypt(row.private_key_encrypted, slot=_slot(row.environment, "private_key"))
        secret = box.decrypt(
            row.client_secret_encrypted, slot=_slot(row.environment, "client_secret")
        )
        credentials = Credentials(
            client_id=row.client_id,
            client_secret=secret.decode(),
            private_key=keys.load_private_key(pem),
        )
        cache[row.environment] = (cache_key, credentials)
    return credentials
