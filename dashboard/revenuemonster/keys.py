"""RSA key loading, generation and fingerprints for RevenueMonster request signing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

DEFAULT_MIN_BITS = 2048
PUBLIC_EXPONENT = 65537

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


class KeyFormatError(ValueError):
    """A key could not be used; the message never contains key material."""


def _as_bytes(pem: bytes | str) -> bytes:
    if isinstance(pem, str):
        return pem.strip().encode("ascii", errors="replace")
    return bytes(pem).strip()


def _check_strength(key: RSAPrivateKey | RSAPublicKey, min_bits: int) -> None:
    """Refuse short keys, and any public exponent but 65537: a small one (e = 3) opens the
    signatures to known attacks, and no tool generates other values by default."""
    if key.key_size < min_bits:
        raise KeyFormatError(
            f"The RSA key has {key.key_size} bits; at least {min_bits} are required."
        )
    exponent = _public(key).public_numbers().e
    if exponent != PUBLIC_EXPONENT:
        raise KeyFormatError(
            f"The RSA key's public exponent is {exponent}; only {PUBLIC_EXPONENT} is accepted. "
            "Generate the key again (openssl genrsa uses 65537)."
        )


def load_private_key(pem: bytes | str, *, min_bits: int = DEFAULT_MIN_BITS) -> RSAPrivateKey:
    """Load an unencrypted PKCS#1 or PKCS#8 PEM RSA private key.

    Raises ``KeyFormatError`` when the text is not such a key or is shorter than ``min_bits``.
    """
    data = _as_bytes(pem)
    match = _PEM_BLOCK.search(data)
    if match is None or b"PRIVATE KEY" not in match.group(1):
        raise KeyFormatError(
            "Not a PEM private key: expected '-----BEGIN RSA PRIVATE KEY-----' (PKCS#1) "
            "or '-----BEGIN PRIVATE KEY-----' (PKCS#8)."
        )
    if match.group(1) == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in data:
        raise KeyFormatError("Encrypted private keys are not supported; remove the passphrase.")
    try:
        key = serialization.load_pem_private_key(match.group(0), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFormatError("The private key could not be read: the PEM is damaged.") from None
    if not isinstance(key, RSAPrivateKey):
        raise KeyFormatError("The private key is not an RSA key.")
    _check_strength(key, min_bits)
    return key


def load_public_key(pem: bytes | str, *, min_bits: int = DEFAULT_MIN_BITS) -> RSAPublicKey:
    """Load an RSA public key: SPKI ``BEGIN PUBLIC KEY``, PKCS#1 ``BEGIN RSA PUBLIC KEY``, or
    an SPKI body under the ``BEGIN RSA PUBLIC KEY`` label (as RevenueMonster's docs print it).

    Raises ``KeyFormatError`` when the text is not such a key or is shorter than ``min_bits``.
    """
    data = _as_bytes(pem)
    match = _PEM_BLOCK.search(data)
    if match is None or match.group(1) not in (b"PUBLIC KEY", b"RSA PUBLIC KEY"):
        raise KeyFormatError(
            "Not a PEM public key: expected '-----BEGIN PUBLIC KEY-----' "
            "or '-----BEGIN RSA PUBLIC KEY-----'."
        )
    key = _parse_public_block(match.group(0), match.group(2))
    if not isinstance(key, RSAPublicKey):
        raise KeyFormatError("The public key is not an RSA key.")
    _check_strength(key, min_bits)
    return key


def _parse_public_block(block: bytes, body: bytes) -> object:
    try:
        return serialization.load_pem_public_key(block)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass
    try:  # SPKI DER under an "RSA PUBLIC KEY" label, in case the PEM loader refuses it
        der = base64.b64decode(b"".join(body.split()), validate=True)
        return serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error):
        raise KeyFormatError("The public key could not be read: the PEM is damaged.") from None


def generate_private_key(bits: int = DEFAULT_MIN_BITS) -> RSAPrivateKey:
    """Generate a new RSA private key (public exponent 65537)."""
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)


def private_key_pem(key: RSAPrivateKey) -> bytes:
    """Serialise a private key as unencrypted PKCS#1 PEM, the one format every RM SDK reads."""
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _public(key: RSAPrivateKey | RSAPublicKey) -> RSAPublicKey:
    return key.public_key() if isinstance(key, RSAPrivateKey) else key


def public_key_pem(key: RSAPrivateKey | RSAPublicKey) -> bytes:
    """Serialise the public key as SPKI PEM (``BEGIN PUBLIC KEY``), as RM's portal expects."""
    return _public(key).public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )


def fingerprint(key: RSAPrivateKey | RSAPublicKey) -> str:
    """Return ``"SHA256:<base64 without padding>"`` of the DER SPKI, like ``ssh-keygen -l``."""
    der = _public(key).public_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    digest = base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")
