"""The access token of each environment, kept in ``provider_tokens`` so that every worker shares
it, encrypted, and renewed under a lease so that many workers finding it expired make one token
request. The RevenueMonster client sees it only as a token store."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from ..database import end_read_transaction, write_transaction
from ..encryption import DecryptionError, secret_box
from ..extensions import db
from ..models import ProviderAccount, ProviderToken, utcnow
from ..revenuemonster import Token

log = logging.getLogger(__name__)
#: How long one worker may hold the right to renew the shared token before others take over.
TOKEN_LEASE = timedelta(seconds=15)


class DatabaseTokenStore:
    """The token of one environment in ``provider_tokens``, shared by every worker and
    encrypted; a token issued for older credentials is ignored. Renewal is leased, so that
    many workers finding the token expired make one token request, not one each."""

    def __init__(self, environment: str, version: int) -> None:
        self.environment = environment
        self.version = version

    def load(self) -> Token | None:
        """The stored token, or None (none yet, for older credentials, or unreadable: then a
        new one is fetched). The read transaction ends here: HTTP follows."""
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

    @contextmanager
    def renewal(self) -> Iterator[None]:
        """Hold the right to renew the token: wait while another worker (in any process) holds
        it, then take it. A holder that died loses it after TOKEN_LEASE."""
        give_up = time.monotonic() + TOKEN_LEASE.total_seconds()
        while not self._take_lease() and time.monotonic() < give_up:
            time.sleep(0.05)
        try:
            yield
        finally:
            self._set_lease(None)

    def _take_lease(self) -> bool:
        now = utcnow()
        with write_transaction(f"provider_token:{self.environment}"):
            taken = db.session.execute(
                update(ProviderAccount)
                .where(
                    ProviderAccount.environment == self.environment,
                    (ProviderAccount.token_lease_until.is_(None))
                    | (ProviderAccount.token_lease_until < now),
                )
                .values(token_lease_until=now + TOKEN_LEASE)
            )
        return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _set_lease(self, until: datetime | None) -> None:
        with write_transaction(f"provider_token:{self.environment}"):
            db.session.execute(
                update(ProviderAccount)
                .where(ProviderAccount.environment == self.environment)
                .values(token_lease_until=until)
            )


def token_slot(environment: str, kind: str) -> str:
    """Where a stored token lives: the associated data it is encrypted with."""
    return f"provider_tokens/{environment}/{kind}"
