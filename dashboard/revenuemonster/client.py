"""RevenueMonster token and SMS client that turns every answer or failure into a typed outcome.

The protocol lives here: which requests to make, with which headers and signature, and what
their answers mean; ``transport`` makes each request and ``replies`` reads failed answers."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests

from .endpoints import Credentials, Endpoints
from .outcomes import (
    Accepted,
    FailureOutcome,
    NotSent,
    Rejected,
    SmsOutcome,
    TokenError,
    Unknown,
)
from .replies import failure, sms_failure
from .signing import canonical_json, new_nonce, sign, timestamp_now
from .tokens import Token, TokenStore, parse_token
from .transport import Reply, new_session, post_once

logger = logging.getLogger(__name__)

TOKEN_REFUSED_CODES = frozenset({"TOKEN_EXPIRED", "TOKEN_INVALID"})


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
        with self._token_lock, _store_failures():
            token = self._grant({"grantType": "client_credentials"}, credentials)
            self._token_store.save(token)
            return token

    def access_token(self) -> Token:
        """Return a token valid for at least 60 s: the stored one, a refreshed one (refresh-token
        grant), or a new one (client credentials, also after a rejected refresh).

        Raises ``TokenError`` on failure; whatever the token store raises becomes a NotSent
        TOKEN_UNAVAILABLE, since no SMS request is made without a token.
        """
        credentials = self._require_credentials()
        with self._token_lock, _store_failures():
            stored = self._token_store.load()
            if stored is not None and stored.fresh(self._clock()):
                return stored
            return self._renew(credentials, refused=None)

    def _renew(self, credentials: Credentials, refused: Token | None) -> Token:
        """Renew the token (or the ``refused`` one) holding the store's renewal lease, so that
        every client sharing the store renews it once between them: whoever takes the lease
        looks at the store again first, and most often finds the token another one just
        renewed. A client that waited in vain until its send's deadline renews nothing."""
        with self._token_store.renewal(self._send_deadline) as held:
            now = self._clock()
            stored = self._token_store.load()
            if stored is not None and stored.fresh(now) and not _same(stored, refused):
                return stored
            if not held:
                raise TokenError(
                    NotSent(
                        "TOKEN_UNAVAILABLE",
                        "Another worker was renewing the access token and had not finished "
                        "within the send's time budget. Nothing was sent.",
                    )
                )
            if _same(stored, refused):
                self._token_store.save(None)  # refused: not to be used again, whatever follows
            elif stored is not None and stored.refresh_token and stored.refreshable(now):
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
        if not isinstance(reply, Reply):
            raise TokenError(reply)
        if reply.status != 200:
            raise TokenError(failure(reply, "The RevenueMonster token endpoint"))
        token = parse_token(reply.payload, started)
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
        if self._credentials is None:
            raise RuntimeError("_send_sms() before the credentials were set")
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
        credentials = self._require_credentials()
        with self._token_lock, _store_failures():
            return self._renew(credentials, refused=refused)

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
        if not isinstance(reply, Reply):
            return reply
        payload = reply.payload
        if reply.status == 200 and isinstance(payload, dict) and payload.get("code") == "SUCCESS":
            return Accepted(http_status=200)
        return sms_failure(reply)

    # -- HTTP ----------------------------------------------------------------------------

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply | NotSent | Unknown:
        return post_once(
            self._session,
            url,
            body,
            headers,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            send_deadline=self._send_deadline,
        )


@contextmanager
def _store_failures() -> Iterator[None]:
    """Whatever the token store raises (its database locked or gone, say), no SMS request was
    made: the send failed, it did not maybe-send."""
    try:
        yield
    except TokenError:
        raise
    except Exception as exc:
        logger.warning("The token store failed: %s", type(exc).__name__, exc_info=True)
        raise TokenError(
            NotSent(
                "TOKEN_UNAVAILABLE",
                f"The access token could not be read or kept ({type(exc).__name__} in the "
                "token store). Nothing was sent.",
            )
        ) from exc


def _same(token: Token | None, other: Token | None) -> bool:
    return token is not None and other is not None and token.access_token == other.access_token


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
