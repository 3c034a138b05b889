"""Access tokens: their lifetime, where the client keeps them, and reading one from the
token endpoint's answer."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard, runtime_checkable

TOKEN_MARGIN_SECONDS = 60.0
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


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

    def renewal(self, deadline: float | None = None) -> AbstractContextManager[bool]:
        """Held while a client renews the token, so that clients sharing the store renew it
        once between them (a lock across processes where the store is shared across them).

        Waits for another holder until ``deadline`` (a ``time.monotonic()`` value; None: the
        store's own limit) and gives True, or False when the wait ran out: then another client
        is renewing, and this one must renew nothing (it may find the token renewed)."""


class MemoryTokenStore:
    """A process-local TokenStore."""

    def __init__(self, token: Token | None = None) -> None:
        self._token = token
        self._lock = threading.Lock()
        self._renewal = threading.Lock()

    #: How long a renewal waits for another when the client gives no deadline.
    WAIT_SECONDS = 15.0

    @contextmanager
    def renewal(self, deadline: float | None = None) -> Iterator[bool]:
        wait = self.WAIT_SECONDS if deadline is None else deadline - time.monotonic()
        held = self._renewal.acquire(timeout=max(wait, 0.0))
        try:
            yield held
        finally:
            if held:
                self._renewal.release()

    def load(self) -> Token | None:
        with self._lock:
            return self._token

    def save(self, token: Token | None) -> None:
        with self._lock:
            self._token = token


def parse_token(payload: Any, started: float) -> Token | None:
    """The token in a token endpoint's answer (expiries counted from ``started``), or None
    when the answer holds no usable one."""
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
