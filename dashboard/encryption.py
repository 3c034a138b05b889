"""Secrets at rest: AES-256-GCM with key ids, associated data and rotation.

A stored value reads ``v1:<key id>:<base64(nonce || ciphertext+tag)>``. The associated data
names where the value lives (for example ``provider_accounts/sandbox/client_secret``), so a
ciphertext copied into another slot fails to decrypt. Keys come from
``DASHBOARD_ENCRYPTION_KEYS`` (newest first), never from the database.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

FORMAT_VERSION = "v1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored secret cannot be decrypted: unknown key id, wrong slot or tampered value."""


class SecretBox:
    """Encrypts with the newest key; decrypts with whichever key a value names."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._newest_id = keys[0][0]
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}

    def encrypt(self, plaintext: bytes, *, slot: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._newest_id].encrypt(nonce, plaintext, slot.encode())
        return f"{FORMAT_VERSION}:{self._newest_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, *, slot: str) -> bytes:
        version, key_id, encoded = _split(stored)
        aead = self._keys.get(key_id)
        if version != FORMAT_VERSION or aead is None:
            raise DecryptionError(f"no encryption key {key_id!r} for {slot}")
        raw = base64.b64decode(encoded)
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], slot.encode())
        except InvalidTag:
            raise DecryptionError(f"the value stored for {slot} does not decrypt") from None

    def is_current(self, stored: str) -> bool:
        """True when ``stored`` is already sealed with the newest key."""
        return _split(stored)[1] == self._newest_id

    def reencrypt(self, stored: str, *, slot: str) -> str:
        return self.encrypt(self.decrypt(stored, slot=slot), slot=slot)


def _split(stored: str) -> tuple[str, str, str]:
    parts = stored.split(":", 2)
    if len(parts) != 3:
        raise DecryptionError("not an encrypted value")
    return parts[0], parts[1], parts[2]


def secret_box() -> SecretBox:
    """The application's box, built from its configured keys."""
    box = current_app.extensions.get("dashboard.secret_box")
    if box is None:
        box = SecretBox(current_app.config["ENCRYPTION_KEYS"])
        current_app.extensions["dashboard.secret_box"] = box
    return box


def derived_key(purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` (keyed hashes of codes, recovery codes...), derived from
    the secret key with HKDF, so each use has its own key and none is stored."""
    cache: dict[str, bytes] = current_app.extensions.setdefault("dashboard.derived_keys", {})
    if purpose not in cache:
        cache[purpose] = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"rm-sms-dashboard {purpose}".encode(),
        ).derive(current_app.config["SECRET_KEY"].encode())
    return cache[purpose]
