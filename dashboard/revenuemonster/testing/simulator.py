"""A local stand-in for RevenueMonster's token and SMS endpoints, for demos, tests and training."""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from ..signing import verify
from .clients import Client, ClientsFile, make_client
from .inbox import inbox_response
from .magic import (
    MAGIC_500,
    MAGIC_DROP,
    MAGIC_MALFORMED,
    MAGIC_SLOW,
    MAGIC_TOKEN_EXPIRED,
    SmsFaults,
    drop_connection,
    html_error_response,
    malformed_response,
    simulated_error,
)
from .protocol import (
    ProviderError,
    SimRequest,
    json_body,
    json_response,
    request_url,
    signature_debug,
    validate_sms,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

TIMESTAMP_WINDOW_SECONDS = 120
NONCE_WINDOW_SECONDS = 120
EXPIRED_TOKEN_MEMORY_SECONDS = 86400
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


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
    client: Client
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
        self._clients_file = ClientsFile(Path(clients_file) if clients_file is not None else None)
        self._token_ttl = token_ttl
        self._refresh_token_ttl = refresh_token_ttl
        self._slow_seconds = slow_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._registered: dict[str, Client] = {}
        self._tokens: dict[str, _IssuedToken] = {}
        self._refresh_tokens: dict[str, _IssuedRefresh] = {}
        self._awaiting_renewal: set[str] = set()
        # The nonces seen within the window, and the same in the order they came, so that
        # forgetting the old ones costs only those forgotten (not the whole window, on every
        # request: that capped the simulator near 300 sends/s).
        self._nonces: set[tuple[str, str]] = set()
        self._nonces_by_age: deque[tuple[float, tuple[str, str]]] = deque()
        self._inbox: deque[dict[str, str]] = deque(maxlen=inbox_limit)
        self._token_requests = 0
        self._sms_requests = 0
        self._refresh_grants = 0
        self.sms_faults = SmsFaults()  # a provider flapping: sms_faults.fail_next("500", "ok")
        #: Called with the path of each request to ``/v1/token`` or ``/v3/sms`` as it arrives:
        #: when a test makes the dashboard misbehave (its database locked mid-call, say).
        self.on_request: Callable[[str], None] | None = None

    # -- public API ----------------------------------------------------------------------

    def register_client(
        self, client_id: str, client_secret: str, public_key_pem: str | bytes
    ) -> None:
        """Register (or replace) a client; raises ``KeyFormatError`` for an unusable key."""
        client = make_client(client_id, client_secret, public_key_pem)
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
        request = SimRequest(environ)
        try:
            app = self._dispatch(request)
        except ProviderError as error:
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
            raise ProviderError(404, "API_ENDPOINT_NOT_FOUND")
        method, handler = route
        if request.method != method and not (method == "GET" and request.method == "HEAD"):
            error = ProviderError(405, "METHOD_NOT_ALLOWED").response()
            error.headers["Allow"] = method
            return error
        return handler(request)

    # -- /v1/token -----------------------------------------------------------------------

    def _token_endpoint(self, request: Request) -> WSGIApplication:
        with self._lock:
            self._token_requests += 1
        if self.on_request is not None:
            self.on_request(request.path)
        client = self._basic_client(request)
        body = json_body(request)
        grant = body.get("grantType") if isinstance(body, dict) else None
        if grant == "client_credentials":
            return json_response(200, self._issue(client.client_id))
        if grant == "refresh_token":
            refresh_token = body.get("refreshToken") if isinstance(body, dict) else None
            return json_response(200, self._refresh(client.client_id, refresh_token))
        raise ProviderError(400, "GRANT_TYPE_INVALID")

    def _basic_client(self, request: Request) -> Client:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            raise ProviderError(401, "UNAUTHORIZED")
        with self._lock:
            client = self._clients().get(auth.username)
        secret = (auth.password or "").encode()
        if client is None or not secrets.compare_digest(secret, client.client_secret.encode()):
            raise ProviderError(401, "INVALID_CLIENT")
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
                raise ProviderError(400, "INVALID_GRANT")
            del self._refresh_tokens[refresh_token]
            self._refresh_grants += 1
        return self._issue(client_id)

    # -- /v3/sms -------------------------------------------------------------------------

    def _sms_endpoint(self, request: Request) -> WSGIApplication:
        with self._lock:
            self._sms_requests += 1
        if self.on_request is not None:
            self.on_request(request.path)
        signed = self._authenticate_sms(request)
        fields = validate_sms(signed.body)
        return self._deliver(request, signed, fields)

    def _authenticate_sms(self, request: Request) -> _SignedRequest:
        """Check token, timestamp, signature and nonce, in that order."""
        client, token = self._bearer_client(request)
        body = json_body(request)
        timestamp = request.headers.get("X-Timestamp", "")
        if not self._timestamp_ok(timestamp):
            raise ProviderError(400, "INVALID_TIMESTAMP")
        nonce = request.headers.get("X-Nonce-Str", "")
        signature = request.headers.get("X-Signature", "")
        url = request_url(request.environ)
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
            debug = signature_debug(
                request.method, url, nonce, nonce_ok, timestamp, signature, body
            )
            raise ProviderError(400, "INVALID_REQUEST_SIGNATURE", debug=debug)
        if not self._claim_nonce(client.client_id, nonce):
            raise ProviderError(400, "DUPLICATE_REQUEST")
        return _SignedRequest(client, token, body)

    def _bearer_client(self, request: Request) -> tuple[Client, str]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ProviderError(401, "UNAUTHORIZED")
        with self._lock:
            issued = self._tokens.get(token)
            client = self._clients().get(issued.client_id) if issued is not None else None
            if issued is None or client is None:
                raise ProviderError(401, "TOKEN_INVALID")
            if issued.revoked or issued.expires_at <= self._clock():
                raise ProviderError(401, "TOKEN_EXPIRED")
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
            self._nonces.add(key)
            self._nonces_by_age.append((now, key))
            return True

    def _deliver(
        self, request: Request, signed: _SignedRequest, fields: dict[str, str]
    ) -> WSGIApplication:
        number = fields["phoneNumber"]
        number = self.sms_faults.number_to_answer(number)
        if number == MAGIC_500:
            return html_error_response()
        if number == MAGIC_MALFORMED:
            return malformed_response()
        if number == MAGIC_DROP:
            return drop_connection(request.environ)
        if number == MAGIC_TOKEN_EXPIRED and self._expire_once(signed.token):
            raise ProviderError(401, "TOKEN_EXPIRED")
        error_code = simulated_error(number)
        if error_code is not None:
            raise ProviderError(400, error_code)
        if number == MAGIC_SLOW:
            time.sleep(self._slow_seconds)
        self._store_message(signed.client.client_id, fields)
        return json_response(200, {"code": "SUCCESS"})

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
        return inbox_response(request, list(reversed(self.inbox)))

    def _clear_endpoint(self, request: Request) -> WSGIApplication:
        return json_response(200, {"cleared": self.clear_inbox()})

    def _stats_endpoint(self, request: Request) -> WSGIApplication:
        with self._lock:
            stats = {
                "token_requests": self._token_requests,
                "sms_requests": self._sms_requests,
                "refresh_token_grants": self._refresh_grants,
            }
        return json_response(200, stats)

    # -- state maintenance (call with the lock held) -------------------------------------

    def _clients(self) -> dict[str, Client]:
        return {**self._clients_file.clients(), **self._registered}

    def _purge(self, now: float) -> None:
        forget_before = now - EXPIRED_TOKEN_MEMORY_SECONDS
        self._tokens = {k: v for k, v in self._tokens.items() if v.expires_at > forget_before}
        self._refresh_tokens = {k: v for k, v in self._refresh_tokens.items() if v.expires_at > now}
        nonce_limit = now - NONCE_WINDOW_SECONDS
        by_age = self._nonces_by_age
        while by_age and by_age[0][0] <= nonce_limit:
            self._nonces.discard(by_age.popleft()[1])
