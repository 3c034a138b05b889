"""A local stand-in for RevenueMonster's token and SMS endpoints, for demos, tests and training."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import logging
import os
import re
import secrets
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .keys import load_public_key
from .signing import canonical_json, data_base64, parse_json, signing_plaintext, verify

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

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

# Texts from RevenueMonster's error-code list (tests/revenuemonster/data/error-codes.json).
ERROR_MESSAGES: dict[str, str] = {
    "SMS_FAIL": "Failed to send SMS",
    "TAC_LIMIT": "TAC code limit has been reached",
    "TAC_SENT": "TAC code has sent",
    "SPAM": "Suspicious activity",
    "EXCEEDED_LIMIT": "Rate limit exceeded",
    "TOO_MANY_REQUEST_PER_SECOND": "Reached maximum request limit per second",
    "VERIFICATION_CODE_REACH_DAILY_LIMIT": "Verification code requests have reached daily limit",
    "INVALID_PARAMETER": "Invalid parameters",
    "VALIDATION_ERROR": "Validations error",
    "CLIENT_NO_PERMISSION": "Developer application does not have permission to access",
    "CLIENT_PRODUCT_NOT_SETUP": "Developer application product not setup",
    "SUBSCRIPTION_NOT_ACTIVE": "You have not subscribed to this product",
    "NOT_SUBSCRIBE": "Merchant not subscribed to this product",
    "INSUFFICIENT_MERCHANT_BALANCE": "Insu\ufb03cient merchant balance",
    "API_ENDPOINT_NOT_FOUND": "The api endpoint does not exist",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "INVALID_REQUEST": "Invalid request",
    "UNAUTHORIZED": "Unauthorized",
    "INVALID_CLIENT": "Invalid client",
    "GRANT_TYPE_INVALID": "Invalid grant type",
    "INVALID_GRANT": "Invalid or expired refresh token",
    "TOKEN_EXPIRED": "Invalid or expired token",
    "TOKEN_INVALID": "Unable to verify your credentials",
    "INVALID_TIMESTAMP": "Could not authenticate - Timestamp",
    "DUPLICATE_REQUEST": "Duplicate request: X-Nonce-Str was already used within 120 seconds",
    "INVALID_REQUEST_SIGNATURE": "The request signature is invalid",
}

MAGIC_500 = "120000500"
MAGIC_SLOW = "120000408"
MAGIC_MALFORMED = "120000502"
MAGIC_DROP = "120000503"
MAGIC_TOKEN_EXPIRED = "120000401"  # noqa: S105 (a phone number, not a secret)
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

SMS_TYPES = frozenset({"VERIFY_CODE", "TAC"})
TIMESTAMP_WINDOW_SECONDS = 120
NONCE_WINDOW_SECONDS = 120
EXPIRED_TOKEN_MEMORY_SECONDS = 86400
MAX_REQUEST_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 1000
MIN_CLIENT_KEY_BITS = 1024
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_COUNTRY_CODE = re.compile(r"[1-9][0-9]{0,2}")
_NATIONAL_NUMBER = re.compile(r"[1-9][0-9]{3,13}")

_INBOX_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem}"
    "table{border-collapse:collapse}"
    "th,td{border:1px solid #888;padding:.3rem .6rem;text-align:left;vertical-align:top}"
    "td.message{white-space:pre-wrap}"
)
_INBOX_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_INBOX_STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SIGNATURE_REMARKS = {
    "step1": "Sort the json key alphabetically",
    "step2": "Encode the data using Base64 format",
    "step3": (
        "Construct plain text parameters on this format, if the body is empty then the `data` "
        "parameter can be skip"
    ),
    "step4": (
        "Sign this content using sha256 with rsa private key and make sure the public key have "
        "been uploaded to the portal"
    ),
    "step5": (
        "The signature that generated from step 4, pass on the header X-Signature with prefix "
        "the sign type, e.g: sha256 {{ signatureContent }}"
    ),
    "X-Nonce-Str": (
        "Make sure the nonce str is should not contain space and must unique at least for 120 "
        "second, if not the server will throw duplicate request error"
    ),
    "X-Signature": (
        "The signature is invalid, please check preVerifyContent parameter on how to generate "
        "the signature"
    ),
    "X-Timestamp": (
        "Make sure the timestamp generated on UTC timezone and must be maximum the time "
        "difference is 120 second from the request send to the server"
    ),
}


class _SimRequest(Request):
    max_content_length = MAX_REQUEST_BYTES


class _ProviderError(Exception):
    """Abort a request with RevenueMonster's error envelope."""

    def __init__(self, status: int, code: str, message: str | None = None, **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, code)
        self.extra = extra

    def response(self) -> Response:
        return _json_response(
            self.status, {"error": {"code": self.code, "message": self.message}, **self.extra}
        )


@dataclass(frozen=True)
class _Client:
    client_id: str
    client_secret: str
    public_key: RSAPublicKey


@dataclass
class _IssuedToken:
    client_id: str
    expires_at: float
    renewed: bool = False
    revoked: bool = False


@dataclass(frozen=True)
class _IssuedRefresh:
    client_id: str
    expires_at: float


@dataclass(frozen=True)
class _SignedRequest:
    client: _Client
    token: str
    body: Any


class Simulator:
    """WSGI app behaving like RevenueMonster for ``/v1/token`` and ``/v3/sms`` (API.md), plus
    ``GET /_inbox``, ``POST /_inbox/clear`` and ``GET /_stats`` for people and tests.

    Clients come from ``register_client`` and from ``clients_file`` (JSON
    ``{"<client_id>": {"client_secret": "...", "public_key_pem": "..."}}``), re-read whenever
    its modification time or size changes. All state is guarded by one lock.
    """

    def __init__(
        self,
        *,
        clients_file: str | os.PathLike[str] | None = None,
        token_ttl: int = 7200,
        slow_seconds: float = 35.0,
        clock: Callable[[], float] = time.time,
        refresh_token_ttl: int = 30 * 86400,
        inbox_limit: int = 10000,
    ) -> None:
        self._clients_file = Path(clients_file) if clients_file is not None else None
        self._token_ttl = token_ttl
        self._refresh_token_ttl = refresh_token_ttl
        self._slow_seconds = slow_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._registered: dict[str, _Client] = {}
        self._file_clients: dict[str, _Client] = {}
        self._file_signature: tuple[int, int] | None = None
        self._tokens: dict[str, _IssuedToken] = {}
        self._refresh_tokens: dict[str, _IssuedRefresh] = {}
        self._awaiting_renewal: set[str] = set()
        self._nonces: dict[tuple[str, str], float] = {}
        self._inbox: deque[dict[str, str]] = deque(maxlen=inbox_limit)
        self._token_requests = 0
        self._sms_requests = 0
        self._refresh_grants = 0

    # -- public API ----------------------------------------------------------------------

    def register_client(
        self, client_id: str, client_secret: str, public_key_pem: str | bytes
    ) -> None:
        """Register (or replace) a client; raises ``KeyFormatError`` for an unusable key."""
        client = _make_client(client_id, client_secret, public_key_pem)
        with self._lock:
            self._registered[client_id] = client

    @property
    def token_requests(self) -> int:
        """Requests that reached ``/v1/token``, valid or not."""
        with self._lock:
            return self._token_requests

    @property
    def sms_requests(self) -> int:
        """Requests that reached ``/v3/sms``, valid or not."""
        with self._lock:
            return self._sms_requests

    @property
    def refresh_grants(self) -> int:
        """Successful refresh-token grants."""
        with self._lock:
            return self._refresh_grants

    @property
    def inbox(self) -> list[dict[str, str]]:
        """A copy of the accepted messages, oldest first (``GET /_inbox`` lists newest first).

        Each is ``{"received_at", "client_id", "country_code", "phone_number", "message",
        "type"}``; only the last ``inbox_limit`` are kept.
        """
        with self._lock:
            return list(self._inbox)

    def clear_inbox(self) -> int:
        """Empty the inbox; return how many messages it held."""
        with self._lock:
            count = len(self._inbox)
            self._inbox.clear()
            return count

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _SimRequest(environ)
        try:
            app = self._dispatch(request)
        except _ProviderError as error:
            app = error.response()
        except HTTPException as error:
            app = error.get_response(environ)
        return app(environ, start_response)

    # -- routing -------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> WSGIApplication:
        routes: dict[str, tuple[str, Callable[[Request], WSGIApplication]]] = {
            "/v1/token": ("POST", self._token_endpoint),
            "/v3/sms": ("POST", self._sms_endpoint),
            "/_inbox": ("GET", self._inbox_endpoint),
            "/_inbox/clear": ("POST", self._clear_endpoint),
            "/_stats": ("GET", self._stats_endpoint),
        }
        route = routes.get(request.path)
        if route is None:
            raise _ProviderError(404, "API_ENDPOINT_NOT_FOUND")
        method, handler = route
        if request.method != method and not (method == "GET" and request.method == "HEAD"):
            error = _ProviderError(405, "METHOD_NOT_ALLOWED").response()
            error.headers["Allow"] = method
            return error
        return handler(request)

    # -- /v1/token -----------------------------------------------------------------------

    def _token_endpoint(self, request: Request) -> WSGIApplication:
        with self._lock:
            self._token_requests += 1
        client = self._basic_client(request)
        body = _json_body(request)
        grant = body.get("grantType") if isinstance(body, dict) else None
        if grant == "client_credentials":
            return _json_response(200, self._issue(client.client_id))
        if grant == "refresh_token":
            refresh_token = body.get("refreshToken") if isinstance(body, dict) else None
            return _json_response(200, self._refresh(client.client_id, refresh_token))
        raise _ProviderError(400, "GRANT_TYPE_INVALID")

    def _basic_client(self, request: Request) -> _Client:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            raise _ProviderError(401, "UNAUTHORIZED")
        with self._lock:
            client = self._clients().get(auth.username)
        secret = (auth.password or "").encode()
        if client is None or not secrets.compare_digest(secret, client.client_secret.encode()):
            raise _ProviderError(401, "INVALID_CLIENT")
        return client

    def _issue(self, client_id: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        with self._lock:
            now = self._clock()
            self._purge(now)
            renewed = client_id in self._awaiting_renewal
            self._awaiting_renewal.discard(client_id)
            self._tokens[access] = _IssuedToken(client_id, now + self._token_ttl, renewed)
            self._refresh_tokens[refresh] = _IssuedRefresh(client_id, now + self._refresh_token_ttl)
        return {
            "accessToken": access,
            "tokenType": "Bearer",
            "expiresIn": self._token_ttl,
            "refreshToken": refresh,
            "refreshTokenExpiresIn": self._refresh_token_ttl,
        }

    def _refresh(self, client_id: str, refresh_token: Any) -> dict[str, Any]:
        """Refresh tokens are single use: a used one is gone."""
        with self._lock:
            issued = (
                self._refresh_tokens.get(refresh_token) if isinstance(refresh_token, str) else None
            )
            valid = (
                issued is not None
                and issued.client_id == client_id
                and issued.expires_at > self._clock()
            )
            if not valid:
                raise _ProviderError(400, "INVALID_GRANT")
            del self._refresh_tokens[refresh_token]
            self._refresh_grants += 1
        return self._issue(client_id)

    # -- /v3/sms -------------------------------------------------------------------------

    def _sms_endpoint(self, request: Request) -> WSGIApplication:
        with self._lock:
            self._sms_requests += 1
        signed = self._authenticate_sms(request)
        fields = _validate_sms(signed.body)
        return self._deliver(request, signed, fields)

    def _authenticate_sms(self, request: Request) -> _SignedRequest:
        """Check token, timestamp, signature and nonce, in that order."""
        client, token = self._bearer_client(request)
        body = _json_body(request)
        timestamp = request.headers.get("X-Timestamp", "")
        if not self._timestamp_ok(timestamp):
            raise _ProviderError(400, "INVALID_TIMESTAMP")
        nonce = request.headers.get("X-Nonce-Str", "")
        signature = request.headers.get("X-Signature", "")
        url = _request_url(request.environ)
        nonce_ok = bool(nonce) and not any(char.isspace() for char in nonce)
        signed_ok = nonce_ok and verify(
            client.public_key,
            signature,
            method=request.method,
            url=url,
            nonce=nonce,
            timestamp=timestamp,
            body=body,
        )
        if not signed_ok:
            debug = _signature_debug(
                request.method, url, nonce, nonce_ok, timestamp, signature, body
            )
            raise _ProviderError(400, "INVALID_REQUEST_SIGNATURE", debug=debug)
        if not self._claim_nonce(client.client_id, nonce):
            raise _ProviderError(400, "DUPLICATE_REQUEST")
        return _SignedRequest(client, token, body)

    def _bearer_client(self, request: Request) -> tuple[_Client, str]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _ProviderError(401, "UNAUTHORIZED")
        with self._lock:
            issued = self._tokens.get(token)
            client = self._clients().get(issued.client_id) if issued is not None else None
            if issued is None or client is None:
                raise _ProviderError(401, "TOKEN_INVALID")
            if issued.revoked or issued.expires_at <= self._clock():
                raise _ProviderError(401, "TOKEN_EXPIRED")
        return client, token

    def _timestamp_ok(self, timestamp: str) -> bool:
        if not _TIMESTAMP.fullmatch(timestamp):
            return False
        return abs(self._clock() - int(timestamp)) <= TIMESTAMP_WINDOW_SECONDS

    def _claim_nonce(self, client_id: str, nonce: str) -> bool:
        """Record a nonce; False when the client already used it within the window."""
        with self._lock:
            now = self._clock()
            self._purge(now)
            key = (client_id, nonce)
            if key in self._nonces:
                return False
            self._nonces[key] = now
            return True

    def _deliver(
        self, request: Request, signed: _SignedRequest, fields: dict[str, str]
    ) -> WSGIApplication:
        number = fields["phoneNumber"]
        if number == MAGIC_500:
            return _html_error_response()
        if number == MAGIC_MALFORMED:
            return Response(b'{"code":"SUCC', 200, content_type="application/json")
        if number == MAGIC_DROP:
            return _drop_connection(request.environ)
        if number == MAGIC_TOKEN_EXPIRED and self._expire_once(signed.token):
            raise _ProviderError(401, "TOKEN_EXPIRED")
        if number.startswith(_MAGIC_ERROR_PREFIX):
            index = int(number[len(_MAGIC_ERROR_PREFIX) :])
            if 1 <= index <= len(SIMULATED_ERROR_CODES):
                raise _ProviderError(400, SIMULATED_ERROR_CODES[index - 1])
        if number == MAGIC_SLOW:
            time.sleep(self._slow_seconds)
        self._store_message(signed.client.client_id, fields)
        return _json_response(200, {"code": "SUCCESS"})

    def _expire_once(self, token: str) -> bool:
        """Revoke a token that was not issued as a renewal; True when it was revoked."""
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None or issued.renewed:
                return False
            issued.revoked = True
            self._awaiting_renewal.add(issued.client_id)
            return True

    def _store_message(self, client_id: str, fields: dict[str, str]) -> None:
        with self._lock:
            received = datetime.fromtimestamp(self._clock(), UTC)
            self._inbox.append(
                {
                    "received_at": received.isoformat(timespec="seconds").replace("+00:00", "Z"),
                    "client_id": client_id,
                    "country_code": fields["countryCode"],
                    "phone_number": fields["phoneNumber"],
                    "message": fields["message"],
                    "type": fields["type"],
                }
            )

    # -- helpers for people and tests ----------------------------------------------------

    def _inbox_endpoint(self, request: Request) -> WSGIApplication:
        messages = list(reversed(self.inbox))
        best = request.accept_mimetypes.best_match(["application/json", "text/html"])
        if best == "text/html":
            response = Response(_inbox_html(messages), 200, content_type="text/html; charset=utf-8")
            response.headers["Content-Security-Policy"] = _INBOX_CSP
        else:
            response = _json_response(200, messages)
        response.headers["Vary"] = "Accept"
        return response

    def _clear_endpoint(self, request: Request) -> WSGIApplication:
        return _json_response(200, {"cleared": self.clear_inbox()})

    def _stats_endpoint(self, request: Request) -> WSGIApplication:
        with self._lock:
            stats = {
                "token_requests": self._token_requests,
                "sms_requests": self._sms_requests,
                "refresh_token_grants": self._refresh_grants,
            }
        return _json_response(200, stats)

    # -- state maintenance (call with the lock held) -------------------------------------

    def _clients(self) -> dict[str, _Client]:
        self._reload_clients_file()
        return {**self._file_clients, **self._registered}

    def _reload_clients_file(self) -> None:
        if self._clients_file is None:
            return
        try:
            stat = self._clients_file.stat()
        except FileNotFoundError:
            self._file_clients, self._file_signature = {}, None
            return
        signature = (stat.st_mtime_ns, stat.st_size)
        if signature == self._file_signature:
            return
        self._file_signature = signature
        try:
            self._file_clients = _read_clients_file(self._clients_file)
        except (OSError, ValueError) as exc:  # KeyFormatError is a ValueError
            logger.warning(
                "Ignoring the simulator clients file %s until it changes: %s",
                self._clients_file,
                exc,
            )

    def _purge(self, now: float) -> None:
        forget_before = now - EXPIRED_TOKEN_MEMORY_SECONDS
        self._tokens = {k: v for k, v in self._tokens.items() if v.expires_at > forget_before}
        self._refresh_tokens = {k: v for k, v in self._refresh_tokens.items() if v.expires_at > now}
        nonce_limit = now - NONCE_WINDOW_SECONDS
        self._nonces = {k: v for k, v in self._nonces.items() if v > nonce_limit}


# -- module helpers ---------------------------------------------------------------------------


def _make_client(client_id: str, client_secret: str, public_key_pem: str | bytes) -> _Client:
    if not client_id or not client_secret:
        raise ValueError("client_id and client_secret must not be empty")
    key = load_public_key(public_key_pem, min_bits=MIN_CLIENT_KEY_BITS)
    return _Client(client_id, client_secret, key)


def _read_clients_file(path: Path) -> dict[str, _Client]:
    """Parse the clients file; raises ValueError (or KeyFormatError) when it is unusable."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the clients file must hold a JSON object")
    clients: dict[str, _Client] = {}
    for client_id, entry in data.items():
        if not isinstance(entry, dict):
            raise ValueError(f"entry {client_id!r} must be an object")
        secret, pem = entry.get("client_secret"), entry.get("public_key_pem")
        if not isinstance(secret, str) or not isinstance(pem, str):
            raise ValueError(f"entry {client_id!r} needs client_secret and public_key_pem")
        clients[client_id] = _make_client(client_id, secret, pem)
    return clients


def _json_body(request: Request) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return parse_json(raw)
    except (ValueError, RecursionError):
        raise _ProviderError(
            400, "INVALID_REQUEST", "Invalid request: the body is not JSON"
        ) from None


def _request_url(environ: WSGIEnvironment) -> str:
    """The URL as requested: scheme, Host header, raw path and query."""
    target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if target and "://" in target.split("?", 1)[0]:
        return str(target)  # absolute-form request target
    if not target:
        target = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{target}"


def _validate_sms(body: Any) -> dict[str, str]:
    """Return the SMS fields, or raise INVALID_PARAMETER / VALIDATION_ERROR."""
    if not isinstance(body, dict):
        raise _ProviderError(400, "INVALID_PARAMETER", "Invalid parameters: expected an object")
    fields: dict[str, str] = {}
    for name in ("countryCode", "phoneNumber", "message", "type"):
        value = body.get(name)
        if not isinstance(value, str):
            raise _ProviderError(
                400, "INVALID_PARAMETER", f"Invalid parameters: {name} is required"
            )
        fields[name] = value
    problems = {
        "countryCode": not _COUNTRY_CODE.fullmatch(fields["countryCode"]),
        "phoneNumber": not _NATIONAL_NUMBER.fullmatch(fields["phoneNumber"]),
        "message": not fields["message"].strip() or len(fields["message"]) > MAX_MESSAGE_CHARS,
        "type": fields["type"] not in SMS_TYPES,
    }
    for name, bad in problems.items():
        if bad:
            raise _ProviderError(400, "VALIDATION_ERROR", f"Validations error: {name} is invalid")
    return fields


def _signature_debug(
    method: str, url: str, nonce: str, nonce_ok: bool, timestamp: str, signature: str, body: Any
) -> dict[str, Any]:
    """RevenueMonster's INVALID_REQUEST_SIGNATURE ``debug`` object (doc-v2 shape)."""
    canonical = canonical_json(body)
    data = data_base64(body)
    plaintext = signing_plaintext(
        method=method, url=url, nonce=nonce, timestamp=timestamp, data_base64=data
    )
    steps: dict[str, dict[str, str]] = {
        "step1": {"content": canonical or ""},
        "step2": {"content": data or ""},
        "step3": {"content": plaintext},
        "step4": {"content": plaintext},
        "step5": {},
    }
    for name, step in steps.items():
        step["remark"] = _SIGNATURE_REMARKS[name]

    def header(name: str, value: str, valid: bool) -> dict[str, Any]:
        return {"currentValue": value, "isValid": valid, "remark": _SIGNATURE_REMARKS[name]}

    return {
        "preVerifyContent": steps,
        "requestHeader": {
            "X-Nonce-Str": header("X-Nonce-Str", nonce, nonce_ok),
            "X-Signature": header("X-Signature", signature, False),
            "X-Timestamp": header("X-Timestamp", timestamp, True),
        },
    }


def _json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status, content_type="application/json; charset=utf-8")


def _html_error_response() -> Response:
    page = (
        "<!doctype html><html><head><title>500 Internal Server Error</title></head>"
        "<body><h1>Internal Server Error</h1><p>Simulated upstream failure.</p></body></html>"
    )
    return Response(page, 500, content_type="text/html; charset=utf-8")


def _drop_connection(environ: WSGIEnvironment) -> WSGIApplication:
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


def _inbox_html(messages: list[dict[str, str]]) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(item['received_at'])}</td>"
        f"<td>{html.escape(item['client_id'])}</td>"
        f"<td>+{html.escape(item['country_code'])} {html.escape(item['phone_number'])}</td>"
        f"<td>{html.escape(item['type'])}</td>"
        f'<td class="message">{html.escape(item["message"])}</td>'
        "</tr>"
        for item in messages
    )
    if not rows:
        rows = '<tr><td colspan="5">No messages yet.</td></tr>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>RevenueMonster simulator inbox</title>"
        f"<style>{_INBOX_STYLE}</style></head><body>"
        "<h1>RevenueMonster simulator inbox</h1>"
        f"<p>{len(messages)} accepted message(s), newest first. Nothing here left this machine.</p>"
        "<table><thead><tr>"
        '<th scope="col">Received (UTC)</th><th scope="col">Client</th><th scope="col">To</th>'
        '<th scope="col">Type</th><th scope="col">Message</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></body></html>"
    )


# -- serving ----------------------------------------------------------------------------------


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _base_url(host: str, port: int, scheme: str = "http") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def serve_in_thread(
    simulator: Simulator,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[BaseWSGIServer, str]:
    """Serve the simulator from a daemon thread; return the server (call ``.shutdown()``) and
    its base URL. ``port=0`` picks a free port; with ``ssl_context`` it serves HTTPS, as a
    production configuration requires."""
    server = make_server(
        host,
        port,
        simulator,
        threaded=True,
        request_handler=_QuietRequestHandler,
        ssl_context=ssl_context,
    )
    thread = threading.Thread(target=server.serve_forever, name="rm-simulator", daemon=True)
    thread.start()
    return server, _base_url(host, server.server_port, "https" if ssl_context else "http")


class _PlainRequestHandler(WSGIRequestHandler):
    """Werkzeug's access log line without its terminal colours (they would land in log files)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s" %s %s', self.requestline, code, size)


def run(simulator: Simulator, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the simulator in the foreground until interrupted."""
    server = make_server(host, port, simulator, threaded=True, request_handler=_PlainRequestHandler)
    logger.info("RevenueMonster simulator listening on %s", _base_url(host, server.server_port))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
