"""Verification codes: generated from ``secrets``; only a keyed hash is ever kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from ..encryption import derived_key

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
PLACEHOLDER = "{code}"
MASK = "••••••"


def generate_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, *, attempt_public_id: str) -> str:
    """HMAC-SHA256 of the code, bound to its attempt, under a key derived from the secret key
    (so a database dump alone does not reveal codes, even by trying all million)."""
    message = f"{attempt_public_id}:{code}".encode()
    return hmac.new(derived_key("code hash"), message, hashlib.sha256).hexdigest()


def code_matches(code: str, stored_hash: str, *, attempt_public_id: str) -> bool:
    return hmac.compare_digest(hash_code(code, attempt_public_id=attempt_public_id), stored_hash)
