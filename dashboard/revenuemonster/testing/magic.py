"""The magic numbers that make the simulator misbehave on purpose, the broken answers they
get (an HTML 500 page, a body that is not JSON, a dropped connection), and faults that make
any number answer as one of them (a provider flapping)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SIMULATED_ERROR_CODES: tuple[str, ...] = (
    "SMS_FAIL",
    "TAC_LIMIT",
    "TAC_SENT",
    "SPAM",
    "EXCEEDED_LIMIT",
    "TOO_MANY_REQUEST_PER_SECOND",
    "VERIFICATION_CODE_REACH_DAILY_LIMIT",
    "INVALID_PARAMETER",
    "VALIDATION_ERROR",
    "CLIENT_NO_PERMISSION",
    "CLIENT_PRODUCT_NOT_SETUP",
    "SUBSCRIPTION_NOT_ACTIVE",
    "NOT_SUBSCRIBE",
    "INSUFFICIENT_MERCHANT_BALANCE",
)
"""Error codes of the magic numbers 120000101 to 120000114, in that order."""

MAGIC_500 = "120000500"
MAGIC_SLOW = "120000408"
MAGIC_MALFORMED = "120000502"
MAGIC_DROP = "120000503"
MAGIC_TOKEN_EXPIRED = "120000401"  # noqa: S105  # nosec B105 # a phone number, not a secret
_MAGIC_ERROR_PREFIX = "1200001"

MAGIC_NUMBERS: dict[str, str] = {
    MAGIC_500: "HTTP 500 with an HTML error page (outcome: unknown)",
    MAGIC_SLOW: (
        "answers SUCCESS only after `slow_seconds` (35 s by default), after the client's read "
        "timeout (outcome: unknown, yet the message does reach the inbox)"
    ),
    MAGIC_MALFORMED: "HTTP 200 with a body that is not JSON (outcome: unknown)",
    MAGIC_DROP: "closes the connection without any answer (outcome: unknown)",
    MAGIC_TOKEN_EXPIRED: (
        "HTTP 401 TOKEN_EXPIRED for the first request with a token, then SUCCESS with the "
        "renewed token (outcome: accepted, after one token renewal)"
    ),
    **{
        f"{_MAGIC_ERROR_PREFIX}{index:02d}": f"HTTP 400 with error code {code} (outcome: rejected)"
        for index, code in enumerate(SIMULATED_ERROR_CODES, start=1)
    },
}
"""Magic national numbers (the ``phoneNumber`` field, with any country code) that make the
simulator misbehave on purpose. They are valid Malaysian mobile numbers (``+60 12-000 0500``
etc.), so the dashboard's validation lets them through, and they act only after the token,
timestamp, nonce, signature and body checks have passed. Every other number is accepted and
its message lands in the inbox."""


class SmsFaults:
    """Faults the next valid SMS requests answer in turn, whatever their number, as a provider
    flapping between failure and success would; the requests after them are answered as
    usual. Each fault is answered as its magic number would be: ``"500"`` an HTML 500 page,
    ``"slow"`` SUCCESS after ``slow_seconds`` (delivered, too late for the client), ``"drop"``
    the connection closed unanswered, ``"malformed"`` 200 without JSON; ``"ok"`` as usual."""

    NUMBERS: ClassVar[dict[str, str | None]] = {
        "500": MAGIC_500,
        "slow": MAGIC_SLOW,
        "drop": MAGIC_DROP,
        "malformed": MAGIC_MALFORMED,
        "ok": None,
    }

    def __init__(self) -> None:
        self._next: deque[str] = deque()
        self._lock = threading.Lock()

    def fail_next(self, *faults: str) -> None:
        unknown = set(faults) - set(self.NUMBERS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        with self._lock:
            self._next.extend(faults)

    def number_to_answer(self, number: str) -> str:
        """The number whose answer a request for ``number`` gets."""
        with self._lock:
            fault = self._next.popleft() if self._next else "ok"
        return self.NUMBERS[fault] or number


def simulated_error(number: str) -> str | None:
    """The error code that a magic number ``120000101`` to ``120000114`` answers with."""
    if number.startswith(_MAGIC_ERROR_PREFIX):
        index = int(number[len(_MAGIC_ERROR_PREFIX) :])
        if 1 <= index <= len(SIMULATED_ERROR_CODES):
            return SIMULATED_ERROR_CODES[index - 1]
    return None


def malformed_response() -> Response:
    return Response(b'{"code":"SUCC', 200, content_type="application/json")


def html_error_response() -> Response:
    page = (
        "<!doctype html><html><head><title>500 Internal Server Error</title></head>"
        "<body><h1>Internal Server Error</h1><p>Simulated upstream failure.</p></body></html>"
    )
    return Response(page, 500, content_type="text/html; charset=utf-8")


def drop_connection(environ: WSGIEnvironment) -> WSGIApplication:
    """Close the TCP connection without answering.

    With werkzeug's server the socket is ``environ["werkzeug.socket"]``: the returned app shuts
    it down, closes it and raises ConnectionAbortedError, which werkzeug's request handler
    takes for a connection dropped by the peer: no status line, no 500, no access-log line.
    Other servers get an answer cut short instead (Content-Length larger than the body): the
    client sees a broken connection either way.
    """
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return _truncated_answer

    def dropped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        raise ConnectionAbortedError("simulated connection drop")

    return dropped


def _truncated_answer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "100")])
    return [b'{"code":']
