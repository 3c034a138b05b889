"""Typed results of an SMS send, so callers record exactly what is known about the side effect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

# Our own codes for NotSent: the SMS request never left this machine.
NOT_SENT_CODES = frozenset(
    {
        "CONNECTION_REFUSED",
        "CONNECT_TIMEOUT",
        "DNS_ERROR",
        "TLS_ERROR",
        "NO_CREDENTIALS",
        "CONNECTION_ERROR",
        "TOKEN_UNAVAILABLE",
        "UNEXPECTED_REDIRECT",
        "DEADLINE_EXCEEDED",
    }
)
# Our own codes for Unknown (plus "HTTP_5xx" with the real number, e.g. "HTTP_502", and
# "HTTP_3xx" for a redirect of the SMS request, which reached a server).
UNKNOWN_CODES = frozenset(
    {
        "READ_TIMEOUT",
        "MALFORMED_RESPONSE",
        "CONNECTION_DROPPED",
    }
)


@dataclass(frozen=True)
class Accepted:
    """RevenueMonster answered HTTP 200 with ``SUCCESS``: accepted for sending (no receipt)."""

    status: ClassVar[str] = "accepted"
    http_status: int
    code: str = "SUCCESS"


@dataclass(frozen=True)
class Rejected:
    """RevenueMonster answered an error code; nothing was sent.

    ``debug`` is the redacted top-level ``debug`` object of an INVALID_REQUEST_SIGNATURE answer.
    """

    status: ClassVar[str] = "rejected"
    code: str
    message: str
    http_status: int | None
    debug: dict[str, Any] | None = None


@dataclass(frozen=True)
class NotSent:
    """The SMS request never reached RevenueMonster's API: nothing was sent. ``code`` is one of
    ``NOT_SENT_CODES``; ``http_status`` is set only for a redirect of a token request, which
    is never followed."""

    status: ClassVar[str] = "failed"
    code: str
    message: str
    http_status: int | None = None


@dataclass(frozen=True)
class Unknown:
    """The request may have reached RevenueMonster but no valid answer came back."""

    status: ClassVar[str] = "unknown"
    code: str
    message: str
    http_status: int | None


SmsOutcome = Accepted | Rejected | NotSent | Unknown
FailureOutcome = Rejected | NotSent | Unknown


class TokenError(Exception):
    """An access token could not be obtained; ``outcome`` says why (never Accepted)."""

    def __init__(self, outcome: FailureOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome
