"""Verification codes: generated from ``secrets``; only a keyed hash is ever kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
PLACEHOLDER = "{code}"
MASK = "••••••"
#: What the key of the code hashes is derived for (encryption.derived_key).
HASH_KEY_PURPOSE = "code hash"


def generate_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, *, attempt_public_id: str, key: bytes) -> str:
    """HMAC-SHA256 of the code, bound to its attempt, under ``key`` (derived from the secret
    key for HASH_KEY_PURPOSE), so a database dump alone does not reveal codes, even by trying
    every one."""
    message = f"{attempt_public_id}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def code_matches(code: str, stored_hash: str, *, attempt_public_id: str, key: bytes) -> bool:
    expected = hash_code(code, attempt_public_id=attempt_public_id, key=key)
    return hmac.compare_digest(expected, stored_hash)
