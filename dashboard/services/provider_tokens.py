"""The access token of each environment, kept in ``provider_tokens`` so that every worker shares
it, encrypted, and renewed under a lease so that many workers finding it expired make one token
request. The RevenueMonster client sees it only as a token store."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from .. import metrics
from ..database import end_read_transaction, write_transaction
from ..encryption import DecryptionError, secret_box
from ..extensions import db
from ..models import ProviderAccount, ProviderToken, utcnow
from ..revenuemonster import Token, TokenError

log = logging.getLogger(__name__)
#: How long one worker may hold the right to renew the shared token before others take over.
TOKEN_LEASE = timedelta(seconds=15)
#: How often a worker waiting for the lease tries to take it.
LEASE_POLL_SECONDS = 0.05
#: Where the app keeps this process's copy of each environment's token, with the credentials
#: version it is for: a send reads it from memory, not from the table (issue 18). The table
#: stays the shared truth: a renewal reads it, and a token saved goes there first.
REMEMBERED = "dashboard.provider_tokens"


class DatabaseTokenStore:
    """The token of one environment in ``provider_tokens``, shared by every worker and
    encrypted; a token issued for older credentials is ignored. Renewal is leased, so that
    many workers finding the token expired make one token request, not one each."""

    def __init__(self, environment: str, version: int) -> None:
        self.environment = environment
        self.version = version
        self._renewing = False

    def load(self) -> Token | None:
        """The token: this process's copy when it has one for these credentials (the client
        renews it when it is no longer fresh, or RevenueMonster refuses it), else the stored
        one, or None (none yet, for older credentials, or unreadable: then a new one is
        fetched). While renewing, always the stored one: another worker may have renewed it.
        The read transaction ends here: HTTP follows."""
        if not self._renewing:
            remembered = _remembered().get(self.environment)
            if remembered is not None and remembered[0] == self.version:
                return remembered[1]
        token = self._load_stored()
        self._remember(token)
        return token

    def _remember(self, token: Token | None) -> None:
        if token is None:
            _remembered().pop(self.environment, None)
        else:
            _remembered()[self.environment] = (self.version, token)

    def _load_stored(self) -> Token | None:
        try:
            # populate_existing: another worker may have renewed it since this session looked.
            row = db.session.get(ProviderToken, self.environment, populate_existing=True)
            if row is None or row.provider_version != self.version:
                return None
            box = secret_box()
            refresh = (
                box.decrypt(
                    row.refresh_token_encrypted, slot=token_slot(self.environment, "refresh")
                ).decode()
                if row.refresh_token_encrypted
                else None
            )
            return Token(
                access_token=box.decrypt(
                    row.access_token_encrypted, slot=token_slot(self.environment, "access")
                ).decode(),
                expires_at=row.expires_at.timestamp(),
                refresh_token=refresh,
                refresh_expires_at=row.refresh_expires_at.timestamp()
                if row.refresh_expires_at
                else None,
            )
        except DecryptionError:
            log.warning("provider_token.unreadable", extra={"environment": self.environment})
            return None
        finally:
            end_read_transaction()

    def save(self, token: Token | None) -> None:
        self._remember(None)  # whatever follows, the copy in memory is no longer the one
        with write_transaction(f"provider_token:{self.environment}"):
            row = db.session.get(ProviderToken, self.environment)
            if token is None:
                if row is not None:
                    db.session.delete(row)
                return
            box = secret_box()
            if row is None:
                row = ProviderToken(environment=self.environment)
                db.session.add(row)
            row.provider_version = self.version
            row.access_token_encrypted = box.encrypt(
                token.access_token.encode(), slot=token_slot(self.environment, "access")
            )
            row.expires_at = datetime.fromtimestamp(token.expires_at, UTC)
            row.refresh_token_encrypted = (
                box.encrypt(
                    token.refresh_token.encode(), slot=token_slot(self.environment, "refresh")
                )
                if token.refresh_token
                else None
            )
            row.refresh_expires_at = (
                datetime.fromtimestamp(token.refresh_expires_at, UTC)
                if token.refresh_expires_at
                else None
            )
            row.updated_at = utcnow()
        self._remember(token)
        # A token to keep is one RevenueMonster just issued (client credentials or refresh).
        metrics.token_requested(self.environment, "success")

    @contextmanager
    def renewal(self, deadline: float | None = None) -> Iterator[bool]:
        """Hold the right to renew the token, as its owner: wait while another worker (in any
        process) holds it, until ``deadline`` (monotonic; the client's send budget) or at most
        TOKEN_LEASE, then give whether it was taken. A holder that died or overran loses it
        after TOKEN_LEASE; its late release then leaves the next owner's lease alone."""
        owner = secrets.token_hex(16)
        give_up = time.monotonic() + TOKEN_LEASE.total_seconds()
        if deadline is not None:
            give_up = min(give_up, deadline)
        self._renewing = True
        held = self._take_lease(owner)
        while not held and (left := give_up - time.monotonic()) > 0:
            time.sleep(min(LEASE_POLL_SECONDS, left))
            held = self._take_lease(owner)
        try:
            yield held
        except TokenError as error:
            # A token request failed (TOKEN_UNAVAILABLE is the store's or the lease's failure:
            # no request was made).
            if held and error.outcome.code != "TOKEN_UNAVAILABLE":
                metrics.token_requested(self.environment, error.outcome.status)
            raise
        finally:
            self._renewing = False
            if held:
                self._release_lease(owner)

    def _take_lease(self, owner: str) -> bool:
        now = utcnow()
        with write_transaction(f"provider_token:{self.environment}"):
            taken = db.session.execute(
                update(ProviderAccount)
                .where(
                    ProviderAccount.environment == self.environment,
                    (ProviderAccount.token_lease_until.is_(None))
                    | (ProviderAccount.token_lease_until < now),
                )
                .values(token_lease_until=now + TOKEN_LEASE, token_lease_owner=owner)
            )
        return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _release_lease(self, owner: str) -> None:
        """Clear the lease if it is still ``owner``'s. Best effort: a lease left behind
        expires by itself, and the renewed token (or the error) matters more."""
        try:
            with write_transaction(f"provider_token:{self.environment}"):
                db.session.execute(
                    update(ProviderAccount)
                    .where(
                        ProviderAccount.environment == self.environment,
                        ProviderAccount.token_lease_owner == owner,
                    )
                    .values(token_lease_until=None, token_lease_owner=None)
                )
        except SQLAlchemyError:
            log.warning(
                "provider_token.lease_not_released",
                extra={"environment": self.environment},
                exc_info=True,
            )


def _remembered() -> dict[str, tuple[int, Token]]:
    return current_app.extensions.setdefault(REMEMBERED, {})


def token_slot(environment: str, kind: str) -> str:
    """Where a stored token lives: the associated data it is encrypted with."""
    return f"provider_tokens/{environment}/{kind}"
