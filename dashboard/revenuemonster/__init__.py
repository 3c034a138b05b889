"""RevenueMonster Open API: request signing, keys, the SMS client and a local simulator."""

from .client import (
    PRODUCTION,
    SANDBOX,
    Credentials,
    Endpoints,
    MemoryTokenStore,
    RevenueMonsterClient,
    Token,
    TokenStore,
)
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
from .simulator import MAGIC_NUMBERS, Simulator, run, serve_in_thread

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
