"""RevenueMonster Open API: request signing, keys, the SMS client and a local simulator.

The simulator lives in ``testing``, a development tool that the web app never imports: its
names here (``MAGIC_NUMBERS``, ``Simulator``, ``run``, ``serve_in_thread``) are imported on
first use."""

import importlib
from typing import Any

from .client import RevenueMonsterClient
from .endpoints import PRODUCTION, SANDBOX, Credentials, Endpoints
from .keys import (
    KeyFormatError,
    fingerprint,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from .outcomes import Accepted, NotSent, Rejected, SmsOutcome, TokenError, Unknown
from .signing import (
    canonical_json,
    new_nonce,
    parse_json,
    sign,
    signing_plaintext,
    timestamp_now,
    verify,
)
from .tokens import MemoryTokenStore, Token, TokenStore

# Not imported here, not even for type checkers: no import of this package reaches ``testing``.
_SIMULATOR_NAMES = {
    "MAGIC_NUMBERS": ".testing.magic",
    "Simulator": ".testing.simulator",
    "run": ".testing.serving",
    "serve_in_thread": ".testing.serving",
}


def __getattr__(name: str) -> Any:
    """Import a name of the simulator on first use (PEP 562)."""
    module = _SIMULATOR_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "MAGIC_NUMBERS",
    "PRODUCTION",
    "SANDBOX",
    "Accepted",
    "Credentials",
    "Endpoints",
    "KeyFormatError",
    "MemoryTokenStore",
    "NotSent",
    "Rejected",
    "RevenueMonsterClient",
    "Simulator",
    "SmsOutcome",
    "Token",
    "TokenError",
    "TokenStore",
    "Unknown",
    "canonical_json",
    "fingerprint",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
    "new_nonce",
    "parse_json",
    "private_key_pem",
    "public_key_pem",
    "run",
    "serve_in_thread",
    "sign",
    "signing_plaintext",
    "timestamp_now",
    "verify",
]
