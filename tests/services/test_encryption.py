"""Secrets at rest: AES-256-GCM, bound to their slot, readable after a key rotation."""

from __future__ import annotations

import pytest

from dashboard.config import new_encryption_key, parse_encryption_keys
from dashboard.encryption import DecryptionError, SecretBox

K1 = parse_encryption_keys(new_encryption_key("k1"))
K2 = parse_encryption_keys(new_encryption_key("k2"))
SLOT = "provider_accounts/sandbox/client_secret"


def test_round_trip_without_the_plaintext_in_the_stored_value():
    box = SecretBox(K1)
    stored = box.encrypt(b"s3cret-value", slot=SLOT)
    assert stored.startswith("v1:k1:")
    assert "s3cret" not in stored
    assert box.decrypt(stored, slot=SLOT) == b"s3cret-value"
    assert box.encrypt(b"s3cret-value", slot=SLOT) != stored  # a fresh nonce each time


def test_a_value_copied_into_another_slot_does_not_decrypt():
    box = SecretBox(K1)
    stored = box.encrypt(b"sandbox secret", slot=SLOT)
    with pytest.raises(DecryptionError):
        box.decrypt(stored, slot="provider_accounts/production/client_secret")


def test_tampering_is_detected():
    box = SecretBox(K1)
    stored = box.encrypt(b"value", slot=SLOT)
    tampered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    with pytest.raises(DecryptionError):
        box.decrypt(tampered, slot=SLOT)


def test_rotation_k1_then_k2_k1_then_k2_only():
    old = SecretBox(K1).encrypt(b"value", slot=SLOT)
    both = SecretBox(K2 + K1)
    assert both.decrypt(old, slot=SLOT) == b"value"
    assert not both.is_current(old)
    rotated = both.reencrypt(old, slot=SLOT)
    assert both.is_current(rotated)
    assert SecretBox(K2).decrypt(rotated, slot=SLOT) == b"value"
    with pytest.raises(DecryptionError, match="no encryption key 'k1'"):
        SecretBox(K2).decrypt(old, slot=SLOT)
