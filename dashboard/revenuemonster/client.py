"""RevenueMonster token and SMS client that turns every answer or failure into a typed outcome."""

from __future__ import annotations

import base64
import copy
import logging
import re
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard, runtime_checkable
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
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

from .outcomes import (
    Accepted,
    FailureOutcome,
    NotSent,
    Rejected,
    SmsOutcome,
    TokenError,
    Unknown,
)
from .signing import canonical_json, new_nonce, parse_json, sign, timestamp_now

logger = logging.getLogger(__name__)

TOKEN_PATH = "/v1/token"  # noqa: S105 (a URL path, not a secret)
SMS_PATH = "/v3/sms"
TOKEN_MARGIN_SECONDS = 60.0
#: Below this much time left in a send's budget, no further request is started.
MIN_REQUEST_SECONDS = 0.5
MAX_RESPONSE_BYTES = 1024 * 1024
TOKEN_REFUSED_CODES = frozenset({"TOKEN_EXPIRED", "TOKEN_INVALID"})
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_REQUEST_BUILD_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


@dataclass(frozen=True)
class Credentials:
    """One RevenueMonster application: client id and secret, and the merchant's private key."""

    client_id: str
    client_secret: str = field(repr=False)
    private_key: RSAPrivateKey = field(repr=False)


@dataclass(frozen=True)
class Endpoints:
    """Base URLs (scheme and host, no ``/v1`` or ``/v3``) of the OAuth server and the Open API."""

    oauth_url: str
    api_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "oauth_url", _base_url(self.oauth_url, "oauth_url"))
        object.__setattr__(self, "api_url", _base_url(self.api_url, "api_url"))

    @property
    def token_url(self) -> str:
        return self.oauth_url + TOKEN_PATH

    @property
    def sms_url(self) -> str:
        return self.api_url + SMS_PATH


def _base_url(url: str, name: str) -> str:
    """Validate a base URL and strip its trailing slash; raises ValueError if unusable."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{name} must not contain credentials, a query or a fragment")
    return url.strip().rstrip("/")


SANDBOX = Endpoints("https://sb-oauth.revenuemonster.my", "https://sb-open.revenuemonster.my")
PRODUCTION = Endpoints("https://oauth.revenuemonster.my", "https://open.revenuemonster.my")


@dataclass(frozen=True)
class Token:
    """An access token with absolute expiry times (UNIX seconds)."""

    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: float | None = None

    def fresh(self, now: float, margin: float = TOKEN_MARGIN_SECONDS) -> bool:
        """True while the access token stays valid for more than ``margin`` seconds."""
        return now + margin < self.expires_at

    def refreshable(self, now: float, margin: float = TOKEN_MARGIN_SECONDS) -> bool:
        """True when a refresh token exists and stays valid for more than ``margin`` seconds."""
        if not self.refresh_token:
            return False
        return self.refresh_expires_at is None or now + margin < self.refresh_expires_at


@runtime_checkable
class TokenStore(Protocol):
    """Where the client keeps its token (the app passes a database-backed store)."""

    def load(self) -> Token | None: ...

    def save(self, token: Token | None) -> None:
        """Store ``token``; None clears the store."""

    def renewal(self) -> AbstractContextManager[object]:
        """Held while a client renews the token, so that clients sharing the store renew it
        once between them (a lock across processes where the store is shared across them)."""


class MemoryTokenStore:
    """A process-local TokenStore."""

    def __init__(self, token: Token | None = None) -> None:
        self._token = token
        self._lock = threading.Lock()
        self._renewal = threading.Lock()

    def renewal(self) -> AbstractContextManager[object]:
        return self._renewal

    def load(self) -> Token | None:
        with self._lock:
            return self._token

    def save(self, token: Token | None) -> None:
        with self._lock:
            self._token = token


@dataclass(frozen=True)
class _Reply:
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


class RevenueMonsterClient:
    """Fetches tokens and sends signed SMS requests; ``send_sms`` never raises for provider or
    network problems, it returns an outcome instead.

    A ``session`` passed in is used as it is and must not retry POSTs; by default the client
    builds (and owns) one without retries. ``total_timeout`` bounds a whole ``send_sms`` (token
    requests, the SMS, a renewal and its retry), so a send always ends before the web worker's
    own timeout.
    """

    def __init__(
        self,
        credentials: Credentials | None,
        endpoints: Endpoints,
        token_store: TokenStore,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        total_timeout: float | None = None,
        sms_type: str = "VERIFY_CODE",
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._endpoints = endpoints
        self._token_store = token_store
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._total_timeout = total_timeout
        self._send_deadline: float | None = None  # monotonic; set for the length of a send
        self._sms_type = sms_type
        self._owns_session = session is None
        self._session = session if session is not None else new_session()
        self._clock = clock
        self._token_lock = threading.RLock()

    def close(self) -> None:
        """Close the HTTP session if the client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> RevenueMonsterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- tokens --------------------------------------------------------------------------

    def fetch_token(self) -> Token:
        """Run the client-credentials grant, save the token and return it.

        Raises ``TokenError`` (outcome NotSent, Rejected or Unknown) on any failure.
        """
        credentials = self._require_credentials()
        with self._token_lock:
            token = self._grant({"grantType": "client_credentials"}, credentials)
            self._token_store.save(token)
            return token

    def access_token(self) -> Token:
        """Return a token valid for at least 60 s: the stored one, a refreshed one (refresh-token
        grant), or a new one (client credentials, also after a rejected refresh).

        Raises ``TokenError`` on failure.
        """
        credentials = self._require_credentials()
        with self._token_lock:
            stored = self._token_store.load()
            if stored is not None and stored.fresh(self._clock()):
                return stored
            # One renewal at a time across every client sharing the store; whoever waited
            # looks again first, and most often finds the token another one just renewed.
            with self._token_store.renewal():
                now = self._clock()
                stored = self._token_store.load()
                if stored is not None and stored.fresh(now):
                    return stored
                if stored is not None and stored.refresh_token and stored.refreshable(now):
                    refreshed = self._refresh(stored.refresh_token, credentials)
                    if refreshed is not None:
                        self._token_store.save(refreshed)
                        return refreshed
                return self.fetch_token()

    def _refresh(self, refresh_token: str, credentials: Credentials) -> Token | None:
        """Return a refreshed token, or None when RM rejected the refresh token."""
        body = {"grantType": "refresh_token", "refreshToken": refresh_token}
        try:
            return self._grant(body, credentials)
        except TokenError as exc:
            if not isinstance(exc.outcome, Rejected):
                raise
            logger.info(
                "RevenueMonster refused the refresh token (%s); using client credentials",
                exc.outcome.code,
            )
            return None

    def _require_credentials(self) -> Credentials:
        if self._credentials is None:
            raise TokenError(_no_credentials())
        return self._credentials

    def _grant(self, body: dict[str, str], credentials: Credentials) -> Token:
        started = self._clock()
        basic = f"{credentials.client_id}:{credentials.client_secret}".encode()
        headers = {
            "Authorization": "Basic " + base64.b64encode(basic).decode("ascii"),
            "Content-Type": "application/json",
        }
        reply = self._post(self._endpoints.token_url, _json_bytes(body), headers)
        if not isinstance(reply, _Reply):
            raise TokenError(reply)
        if reply.status != 200:
            raise TokenError(_failure(reply, "The RevenueMonster token endpoint"))
        token = _parse_token(reply.payload, started)
        if token is None:
            raise TokenError(
                Unknown(
                    "MALFORMED_RESPONSE",
                    "The RevenueMonster token endpoint answered without a usable access token.",
                    reply.status,
                )
            )
        logger.info("Obtained a RevenueMonster access token (%s)", body["grantType"])
        return token

    # -- SMS -----------------------------------------------------------------------------

    def send_sms(self, *, country_code: str, phone_number: str, message: str) -> SmsOutcome:
        """Send one SMS and return what is known about it; never retries a request that may
        have been processed.

        A token refused with HTTP 401, TOKEN_EXPIRED or TOKEN_INVALID is renewed and the SMS
        retried once (RM refuses these before processing). When no token can be obtained the
        SMS request is never made, so that failure is NotSent (transport errors keep their
        code; a token endpoint that timed out or answered 5xx gives TOKEN_UNAVAILABLE), or
        Rejected with the OAuth error code.
        """
        if self._credentials is None:
            return _no_credentials()
        if self._total_timeout is not None:
            self._send_deadline = time.monotonic() + self._total_timeout
        try:
            return self._send_sms(country_code, phone_number, message)
        finally:
            self._send_deadline = None

    def _send_sms(self, country_code: str, phone_number: str, message: str) -> SmsOutcome:
        assert self._credentials is not None
        body = {
            "countryCode": country_code,
            "message": message,
            "phoneNumber": phone_number,
            "type": self._sms_type,
        }
        try:
            token = self.access_token()
        except TokenError as exc:
            return _log_outcome(_token_failure(exc.outcome))
        outcome = self._post_sms(self._credentials, token, body)
        if _token_refused(outcome):
            logger.info("RevenueMonster refused the access token; renewing it and retrying once")
            try:
                token = self._renew_after_refusal(token)
            except TokenError as exc:
                return _log_outcome(_token_failure(exc.outcome))
            outcome = self._post_sms(self._credentials, token, body)
        return _log_outcome(outcome)

    def _renew_after_refusal(self, refused: Token) -> Token:
        with self._token_lock:
            current = self._token_store.load()
            if current is not None and current.access_token == refused.access_token:
                self._token_store.save(None)
            return self.access_token()

    def _post_sms(self, credentials: Credentials, token: Token, body: dict[str, str]) -> SmsOutcome:
        url = self._endpoints.sms_url
        nonce = new_nonce()
        timestamp = timestamp_now(self._clock)
        signature = sign(
            credentials.private_key,
            method="post",
            url=url,
            nonce=nonce,
            timestamp=timestamp,
            body=body,
        )
        headers = {
            "Authorization": f"Bearer {token.access_token}",
            "Content-Type": "application/json",
            "X-Signature": signature,
            "X-Nonce-Str": nonce,
            "X-Timestamp": timestamp,
        }
        reply = self._post(url, _json_bytes(body), headers)
        if not isinstance(reply, _Reply):
            return reply
        payload = reply.payload
        if reply.status == 200 and isinstance(payload, dict) and payload.get("code") == "SUCCESS":
            return Accepted(http_status=200)
        return _failure(reply, "The RevenueMonster SMS endpoint")

    # -- HTTP ----------------------------------------------------------------------------

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> _Reply | NotSent | Unknown:
        """POST once (no redirects, no retries) and read the whole answer, or classify why not.

        Reading the body stops at a deadline of connect + read timeout after the start.
        """
        host = urlsplit(url).hostname or url
        connect_timeout, read_timeout = self._connect_timeout, self._read_timeout
        deadline = time.monotonic() + connect_timeout + read_timeout
        if self._send_deadline is not None:  # the whole send has a budget: never overrun it
            remaining = self._send_deadline - time.monotonic()
            if remaining < MIN_REQUEST_SECONDS:
                return NotSent(
                    "DEADLINE_EXCEEDED",
                    f"No time was left to call {host} within the send's time budget. "
                    "Nothing was sent.",
                )
            connect_timeout = min(connect_timeout, remaining)
            read_timeout = min(read_timeout, remaining)
            deadline = min(deadline, self._send_deadline)
        try:
            response = self._session.post(
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
                message = (
                    f"The answer from {host} was cut off; the request may have been processed."
                )
                return Unknown(code, message, response.status_code)
        return _Reply(response.status_code, _parse_payload(raw))


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


# -- classification helpers -------------------------------------------------------------------


def classify_transport_error(exc: BaseException, host: str) -> NotSent | Unknown:
    """Classify a requests exception: NotSent only when the failure provably happened before
    the request bytes left (DNS, TCP connect, TLS handshake, request building), else Unknown.
    """
    chain = _linked(exc)
    if _has(chain, NameResolutionError, socket.gaierror):
        return NotSent("DNS_ERROR", f"The name {host} could not be resolved. Nothing was sent.")
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


def _parse_payload(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except ValueError:
        return None


def _error_envelope(payload: Any) -> tuple[str, str] | None:
    """``(code, message)`` of ``{"error": {"code", "message"}}``, or None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return None
    code = payload["error"].get("code")
    if not isinstance(code, str) or not code:
        return None
    message = payload["error"].get("message")
    return code, (message if isinstance(message, str) and message else code)


def _failure(reply: _Reply, who: str) -> Rejected | NotSent | Unknown:
    """Classify an answer that is not a success."""
    status = reply.status
    if 300 <= status < 400:  # a redirect is not processing; following it could send twice
        return NotSent(
            "UNEXPECTED_REDIRECT",
            f"{who} answered a redirect (HTTP {status}), which is not followed. "
            "Check the configured URL. Nothing was sent.",
            status,
        )
    error = _error_envelope(reply.payload)
    if status >= 500:
        detail = f" (error code {error[0]})" if error else ""
        return Unknown(f"HTTP_{status}", f"{who} answered HTTP {status}{detail}.", status)
    if error is not None:
        debug = reply.payload.get("debug")
        return Rejected(error[0], error[1], status, debug=_redact_debug(debug))
    if status == 401:
        return Rejected("HTTP_401", f"{who} refused the credentials (HTTP 401).", status)
    return Unknown(
        "MALFORMED_RESPONSE", f"{who} answered HTTP {status} with an undocumented body.", status
    )


def _parse_token(payload: Any, started: float) -> Token | None:
    if not isinstance(payload, dict):
        return None
    access = payload.get("accessToken")
    expires_in = _seconds(payload.get("expiresIn"))
    token_type = payload.get("tokenType", "Bearer")
    if not _usable_token(access) or expires_in is None:
        return None
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        return None
    refresh: str | None = None
    refresh_in: float | None = None
    if _usable_token(payload.get("refreshToken")):
        refresh = payload["refreshToken"]
        refresh_in = _seconds(payload.get("refreshTokenExpiresIn"))
    return Token(
        access_token=access,
        expires_at=started + expires_in,
        refresh_token=refresh,
        refresh_expires_at=None if refresh_in is None else started + refresh_in,
    )


def _usable_token(value: object) -> TypeGuard[str]:
    """Printable ASCII without spaces: anything else cannot go into a header safely."""
    return isinstance(value, str) and _TOKEN_CHARS.fullmatch(value) is not None


def _seconds(value: Any) -> float | None:
    """A positive number of seconds; numeric strings are accepted (the docs call it String)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and 0 < value < 1e10:
        return float(value)
    return None


def _redact_debug(debug: Any) -> dict[str, Any] | None:
    """Copy a signature ``debug`` object without what must not be kept: the signature and
    every content derived from the body (it holds the verification code)."""
    if not isinstance(debug, dict):
        return None
    redacted = copy.deepcopy(debug)
    steps = redacted.get("preVerifyContent")
    if isinstance(steps, dict):
        for step in steps.values():
            if isinstance(step, dict) and isinstance(step.get("content"), str):
                step["content"] = _redact_content(step["content"])
    headers = redacted.get("requestHeader")
    if isinstance(headers, dict) and isinstance(headers.get("X-Signature"), dict):
        headers["X-Signature"]["currentValue"] = "[redacted]"
    return redacted


def _redact_content(content: str) -> str:
    if "&method=" in content or content.startswith("method="):  # a plaintext to sign
        return re.sub(r"(^|&)data=[^&]*", r"\1data=[redacted]", content)
    return f"[redacted: {len(content)} characters derived from the body]"


def _token_refused(outcome: SmsOutcome) -> bool:
    return isinstance(outcome, Rejected) and (
        outcome.http_status == 401 or outcome.code in TOKEN_REFUSED_CODES
    )


def _token_failure(outcome: FailureOutcome) -> Rejected | NotSent:
    """Map a token failure to the SMS outcome: the SMS request itself was never made."""
    if isinstance(outcome, Unknown):
        return NotSent(
            "TOKEN_UNAVAILABLE",
            f"No access token could be obtained ({outcome.message}) Nothing was sent.",
        )
    return outcome


def _no_credentials() -> NotSent:
    return NotSent(
        "NO_CREDENTIALS", "No RevenueMonster credentials are configured. Nothing was sent."
    )


def _json_bytes(body: dict[str, str]) -> bytes:
    canonical = canonical_json(body)
    return b"" if canonical is None else canonical.encode("utf-8")


def _log_outcome(outcome: SmsOutcome) -> SmsOutcome:
    http_status = getattr(outcome, "http_status", None)
    if isinstance(outcome, Accepted):
        logger.info("RevenueMonster accepted an SMS (HTTP %s)", http_status)
        return outcome
    logger.warning("RevenueMonster SMS %s: %s (HTTP %s)", outcome.status, outcome.code, http_status)
    if isinstance(outcome, Rejected) and outcome.debug is not None:
        logger.warning("RevenueMonster signature debug (redacted): %s", outcome.debug)
    return outcome
