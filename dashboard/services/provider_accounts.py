"""The RevenueMonster account of each environment: its client ID, secret and private key,
encrypted at rest and checked when saved, and the credentials a client signs with, decrypted and
parsed once per stored version in each process. Kept apart from the token store and the client
so that what an admin stores, and how it is sealed, reads in one place."""

from __future__ import annotations

import hashlib
import threading

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from flask import current_app

from ..database import write_transaction
from ..encryption import secret_box
from ..extensions import db
from ..models import ENVIRONMENTS, ProviderAccount, ProviderToken, utcnow
from ..revenuemonster import Credentials, keys
from . import audit

_cache_lock = threading.Lock()


class ProviderError(ValueError):
    """A provider setting that cannot be made; the message says why, for a person."""


def check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise ProviderError(f"The environment must be one of {', '.join(ENVIRONMENTS)}.")
    return environment


def account(environment: str) -> ProviderAccount | None:
    """The stored account of ``environment``, or None. It sends only when ``complete``: client
    ID, client secret and private key all set."""
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
    if client_id == "" or client_secret == "":  # nosec B105 # an empty field, not a password
        raise ProviderError("The client ID and the client secret cannot be empty.")
    if client_id is not None and len(client_id) > 128:
        raise ProviderError("The client ID is too long (at most 128 characters).")
    if client_id is not None and not _printable_ascii(client_id):
        raise ProviderError(
            "The client ID may hold only letters, digits and punctuation (printable ASCII, "
            "no spaces or line breaks); copy it again from the merchant portal."
        )
    if client_secret is not None and not _printable_ascii(client_secret):
        raise ProviderError(
            "The client secret may hold only printable ASCII characters; copy it again."
        )
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
    return keys.public_key_pem(decrypted_credentials(row).private_key)


def account_slot(environment: str, field: str) -> str:
    """Where an account's secret lives: the associated data it is encrypted with."""
    return f"provider_accounts/{environment}/{field}"


def decrypted_credentials(row: ProviderAccount) -> Credentials:
    """Decrypt and parse an account's credentials once per stored version in this process
    (parsing an RSA key costs a hundred times what signing with it does)."""
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
        if row.private_key_encrypted is None:
            raise ProviderError("The private key is missing.")
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


def _parsed_key(pem: bytes) -> RSAPrivateKey:
    try:
        return keys.load_private_key(pem)
    except keys.KeyFormatError as error:
        raise ProviderError(str(error)) from None


def _printable_ascii(text: str) -> bool:
    """RevenueMonster's ids and secrets are printable ASCII; anything else (a line break that
    would split the Authorization header, a look-alike letter) is a copying mistake."""
    return all("!" <= ch <= "~" for ch in text)
