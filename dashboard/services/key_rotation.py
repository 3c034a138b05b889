"""Re-encrypting every stored secret with the newest key of DASHBOARD_ENCRYPTION_KEYS, so that
older keys can then be removed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ..database import write_transaction
from ..encryption import secret_box
from ..extensions import db
from ..models import ProviderAccount, ProviderToken, User
from . import audit
from .provider_accounts import account_slot
from .provider_tokens import token_slot
from .two_step import secret_slot

#: Every encrypted column, with the slot (associated data) each of its values is sealed to.
ENCRYPTED_COLUMNS: list[tuple[type, str, Callable[[Any], str]]] = [
    (
        ProviderAccount,
        "client_secret_encrypted",
        lambda r: account_slot(r.environment, "client_secret"),
    ),
    (
        ProviderAccount,
        "private_key_encrypted",
        lambda r: account_slot(r.environment, "private_key"),
    ),
    (ProviderToken, "access_token_encrypted", lambda r: token_slot(r.environment, "access")),
    (ProviderToken, "refresh_token_encrypted", lambda r: token_slot(r.environment, "refresh")),
    (User, "totp_secret_encrypted", secret_slot),
]


def rotate(actor: audit.Actor) -> int:
    """Re-encrypt with the newest key every value sealed with an older one; return how many.
    Raises DecryptionError (and changes nothing) if a value's key is no longer configured."""
    box = secret_box()
    rotated = 0
    with write_transaction(audit.CHAIN_LOCK, "secrets"):
        for model, column, slot in ENCRYPTED_COLUMNS:
            for row in db.session.scalars(select(model)):  # type: ignore[var-annotated]
                stored = getattr(row, column)
                if stored and not box.is_current(stored):
                    setattr(row, column, box.reencrypt(stored, slot=slot(row)))
                    rotated += 1
        audit.record("secrets.rotate", actor, target="encryption keys", values=rotated)
    return rotated
