"""HTTP for the client: sessions that never retry nor reuse a connection, one bounded POST,
and which transport failures prove that nothing was sent."""

from __future__ import annotations

import socket
import ssl
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.ssl_match_hostname import CertificateError

from .outcomes import NotSent, Unknown
from .signing import parse_json

#: Below this much time left in a send's budget, no further request is started.
MIN_REQUEST_SECONDS = 0.5
MAX_RESPONSE_BYTES = 1024 * 1024
_REQUEST_BUILD_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer that arrived in full; ``payload`` is parsed JSON or None."""

    status: int
    payload: Any


class _BodyProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _SingleUseHTTPConnectionPool(HTTPConnectionPool):
    """Closes every connection when it is handed back, so none is ever reused."""

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.close()
        super()._put_conn(conn)


class _SingleUseHTTPSConnectionPool(HTTPSConnectionPool):
    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.close()
        super()._put_conn(conn)


_SINGLE_USE_POOLS = {"http": _SingleUseHTTPConnectionPool, "https": _SingleUseHTTPSConnectionPool}


class _NoReuseAdapter(HTTPAdapter):
    """No retries and a fresh connection per request.

    Reusing a keep-alive connection that the server is closing at that moment fails after our
    bytes were written: a request that never arrived would be reported as "unknown".
    """

    def __init__(self) -> None:
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _SINGLE_USE_POOLS

    def proxy_manager_for(self, proxy: Any, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _SINGLE_USE_POOLS
        return manager


def new_session() -> requests.Session:
    """Return a requests session that never retries (a retried POST could send an SMS twice)
    and never reuses a connection (see ``_NoReuseAdapter``)."""
    session = requests.Session()
    adapter = _NoReuseAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "rm-sms-dashboard"
    session.headers["Connection"] = "close"
    return session


def post_once(
    session: requests.Session,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    connect_timeout: float,
    read_timeout: float,
    send_deadline: float | None,
) -> Reply | NotSent | Unknown:
    """POST once (no redirects, no retries) and read the whole answer, or classify why not.

    Reading the body stops at a deadline of connect + read timeout after the start, and never
    later than ``send_deadline`` (monotonic), the budget of the whole send when it has one.
    """
    host = server_name(url)
    deadline = time.monotonic() + connect_timeout + read_timeout
    if send_deadline is not None:  # the whole send has a budget: never overrun it
        remaining = send_deadline - time.monotonic()
        if remaining < MIN_REQUEST_SECONDS:
            return NotSent(
                "DEADLINE_EXCEEDED",
                f"No time was left to call {host} within the send's time budget. Nothing was sent.",
            )
        connect_timeout = min(connect_timeout, remaining)
        read_timeout = min(read_timeout, remaining)
        deadline = min(deadline, send_deadline)
    try:
        response = session.post(
            url,
            data=body,
            headers=headers,
            timeout=(connect_timeout, read_timeout),
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        return classify_transport_error(exc, host)
    with response:
        try:
            raw = _read_body(response, deadline)
        except _BodyProblem as exc:
            return Unknown(exc.code, str(exc), response.status_code)
        except (requests.RequestException, HTTPError, OSError) as exc:
            code = "READ_TIMEOUT" if _timed_out(_linked(exc)) else "CONNECTION_DROPPED"
            message = f"The answer from {host} was cut off; the request may have been processed."
            return Unknown(code, message, response.status_code)
    return Reply(response.status_code, _parse_payload(raw))


def _read_body(response: requests.Response, deadline: float) -> bytes:
    """Read the body as it arrives, up to MAX_RESPONSE_BYTES and until ``deadline``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise _BodyProblem("READ_TIMEOUT", "The answer arrived too slowly.")
        chunk = response.raw.read1(16384, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _BodyProblem("MALFORMED_RESPONSE", "The answer was unexpectedly large.")
        chunks.append(chunk)


def _parse_payload(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except ValueError:
        return None


# -- classification of transport failures ----------------------------------------------------


def server_name(url: str) -> str:
    """How the technical details name the server: RevenueMonster, with the host called, so
    that an admin sees which address failed ("RevenueMonster (sandbox.rm-api.io)") and an
    agent never reads a bare host name where RevenueMonster is meant."""
    return f"RevenueMonster ({urlsplit(url).hostname or url})"


def classify_transport_error(exc: BaseException, host: str) -> NotSent | Unknown:
    """Classify a requests exception: NotSent only when the failure provably happened before
    the request bytes left (DNS, TCP connect, TLS handshake, request building), else Unknown.
    ``host`` names the server as server_name() does.
    """
    chain = _linked(exc)
    if _has(chain, NameResolutionError, socket.gaierror):
        return NotSent(
            "DNS_ERROR", f"The address of {host} could not be resolved. Nothing was sent."
        )
    if _has(chain, NewConnectionError):  # checked before ConnectTimeoutError, its base class
        if _has(chain, ConnectionRefusedError):
            return NotSent(
                "CONNECTION_REFUSED", f"{host} refused the connection. Nothing was sent."
            )
        return NotSent("CONNECTION_ERROR", f"Could not connect to {host}. Nothing was sent.")
    if _has(chain, ConnectTimeoutError):
        return NotSent("CONNECT_TIMEOUT", f"Connecting to {host} timed out. Nothing was sent.")
    if _in_tls_handshake(chain):
        if _timed_out(chain):
            return NotSent(
                "CONNECT_TIMEOUT", f"The TLS handshake with {host} timed out. Nothing was sent."
            )
        return NotSent("TLS_ERROR", f"The TLS handshake with {host} failed. Nothing was sent.")
    if _has(chain, *_REQUEST_BUILD_ERRORS):
        return NotSent("CONNECTION_ERROR", f"The request to {host} could not be built.")
    if _timed_out(chain):
        return Unknown(
            "READ_TIMEOUT",
            f"{host} did not answer in time; the request may have been processed.",
            None,
        )
    return Unknown(
        "CONNECTION_DROPPED",
        f"The connection to {host} broke after the request was sent; it may have been processed.",
        None,
    )


def _linked(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps: causes, contexts, ``.reason`` and exception args."""
    found: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        candidates = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        candidates.extend(current.args)
        stack.extend(item for item in candidates if isinstance(item, BaseException))
    return found


def _has(chain: list[BaseException], *types: type[BaseException]) -> bool:
    return any(isinstance(item, types) for item in chain)


def _timed_out(chain: list[BaseException]) -> bool:
    return _has(chain, TimeoutError, ReadTimeoutError, requests.exceptions.Timeout)


def _in_tls_handshake(chain: list[BaseException]) -> bool:
    """True when the error was raised inside ``SSLSocket.do_handshake`` or by certificate
    checks, i.e. while connecting, before any request byte was written."""
    if _has(chain, ssl.SSLCertVerificationError, CertificateError):
        return True
    return any("do_handshake" in _frame_names(item) for item in chain)


def _frame_names(exc: BaseException) -> Iterator[str]:
    for frame, _line in traceback.walk_tb(exc.__traceback__):
        yield frame.f_code.co_name
