"""RevenueMonster request signatures (API.md §4), byte-compatible with the official Go SDK."""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import string
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

SIGN_TYPE = "sha256"
NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_LENGTH = 32

# Characters Go's encoding/json escapes (HTML-safe mode) besides the control characters.
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def parse_json(text: str | bytes) -> Any:
    """Parse JSON the way Go decodes into ``interface{}``: every number becomes a float64.

    Raises ``ValueError`` (``json.JSONDecodeError`` included) for invalid JSON, for
    ``NaN``/``Infinity`` literals and for numbers outside the float64 range.
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    return json.loads(
        text, parse_int=_finite_float, parse_float=_finite_float, parse_constant=_reject_constant
    )


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"number out of float64 range: {literal[:40]}")
    return value


def _reject_constant(literal: str) -> Any:
    raise ValueError(f"{literal} is not valid JSON")


def canonical_json(value: Any) -> str | None:
    """Return the canonical JSON RevenueMonster signs, or None when there is no data.

    "No data" is ``None`` or an empty object. Raises ``TypeError`` for values that are not
    JSON (or keys that are not strings) and ``ValueError`` for non-finite numbers.
    """
    if value is None or (isinstance(value, dict) and not value):
        return None
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def data_base64(value: Any) -> str | None:
    """Return the ``data=`` field: standard base64 of the canonical JSON, or None."""
    canonical = canonical_json(value)
    if canonical is None:
        return None
    return base64.b64encode(canonical.encode("utf-8")).decode("ascii")


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, int | float):
        out.append(_format_number(value))
    elif isinstance(value, dict):
        _encode_object(value, out)
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _encode_object(value: dict[Any, Any], out: list[str]) -> None:
    items: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
        items[_go_text(key)] = item
    out.append("{")
    for index, key in enumerate(sorted(items)):  # str order == code point == UTF-8 byte order
        if index:
            out.append(",")
        out.append(_encode_string(key))
        out.append(":")
        _encode(items[key], out)
    out.append("}")


def _go_text(text: str) -> str:
    """Replace lone surrogates with U+FFFD, as Go's decoder does."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)


def _encode_string(text: str) -> str:
    chars = ['"']
    for char in _go_text(text):
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            chars.append(escaped)
        elif char < " ":
            chars.append(f"\\u{ord(char):04x}")
        else:
            chars.append(char)
    chars.append('"')
    return "".join(chars)


def _format_number(value: float) -> str:
    """Format like Go's encoding/json for a float64 (shortest round-trip digits)."""
    number = float(value)  # ints become float64 too (Go decodes numbers as float64)
    if not math.isfinite(number):
        raise ValueError("NaN and infinite numbers cannot be encoded as JSON")
    magnitude = abs(number)
    shortest = repr(number)  # shortest digits that round-trip, like Go's precision -1
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = shortest.partition("e")
        if mantissa.endswith(".0"):
            mantissa = mantissa[:-2]
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        if sign == "+" and len(digits) < 2:
            digits = digits.zfill(2)
        return f"{mantissa}e{sign}{digits}"
    return _fixed_notation(shortest)


def _fixed_notation(shortest: str) -> str:
    """Turn Python's shortest repr (maybe in exponent form) into plain decimal digits."""
    text = format(Decimal(shortest), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def signing_plaintext(
    *, method: str, url: str, nonce: str, timestamp: str, data_base64: str | None
) -> str:
    """Return the string to sign (API.md §4.3).

    Fields keep the fixed order data, method, nonceStr, requestUrl, signType, timestamp; values
    are inserted raw. Like go-sdk, a field whose value is None or empty is left out.
    """
    fields = (
        ("data", data_base64),
        ("method", method.lower()),
        ("nonceStr", nonce),
        ("requestUrl", url),
        ("signType", SIGN_TYPE),
        ("timestamp", timestamp),
    )
    return "&".join(f"{name}={value}" for name, value in fields if value)


def sign(
    private_key: RSAPrivateKey,
    *,
    method: str,
    url: str,
    nonce: str,
    timestamp: str,
    body: Any,
) -> str:
    """Return the ``X-Signature`` header value (``"sha256 <base64>"``) for a parsed body."""
    plaintext = signing_plaintext(
        method=method, url=url, nonce=nonce, timestamp=timestamp, data_base64=data_base64(body)
    )
    signature = private_key.sign(plaintext.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return f"{SIGN_TYPE} {base64.b64encode(signature).decode('ascii')}"


def verify(
    public_key: RSAPublicKey,
    signature_header: str,
    *,
    method: str,
    url: str,
    nonce: str,
    timestamp: str,
    body: Any,
) -> bool:
    """Return True when ``signature_header`` is a valid signature of the request.

    A malformed header (wrong sign type, bad base64) is simply invalid, never an exception.
    """
    sign_type, _, encoded = signature_header.partition(" ")
    if sign_type != SIGN_TYPE or not encoded:
        return False
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    plaintext = signing_plaintext(
        method=method, url=url, nonce=nonce, timestamp=timestamp, data_base64=data_base64(body)
    )
    try:
        public_key.verify(signature, plaintext.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def new_nonce() -> str:
    """Return a fresh ``X-Nonce-Str``: 32 random characters from ``[A-Za-z0-9]``."""
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


def timestamp_now(clock: Callable[[], float] = time.time) -> str:
    """Return ``X-Timestamp``: UNIX time in whole seconds, as a decimal string."""
    return str(int(clock()))
