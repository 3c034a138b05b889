"""Verification codes: generated from ``secrets``; only a keyed hash is ever kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

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
    return hmac.new(_code_key(), message, hashlib.sha256).hexdigest()


def code_matches(code: str, stored_hash: str, *, attempt_public_id: str) -> bool:
    return hmac.compare_digest(hash_code(code, attempt_public_id=attempt_public_id), stored_hash)


def _code_key() -> bytes:
    key = current_app.extensions.get("dashboard.code_key")
    if key is None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"rm-sms-dashboard code hash"
        ).derive(current_app.config["SECRET_KEY"].encode())
        current_app.extensions["dashboard.code_key"] = key
    return key
