"""The RevenueMonster client a send (or a connection test) uses: an environment's decrypted
credentials, its base URLs from settings, the shared token store and the time budget of one
send, put together in one place; and a send's call through it, prepared in the request's read
transaction and made outside any transaction."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from ..database import end_read_transaction
from ..domain.phone_numbers import MobileNumber
from ..revenuemonster import Endpoints, NotSent, RevenueMonsterClient, SmsOutcome, Unknown
from .provider_accounts import account, decrypted_credentials
from .provider_tokens import DatabaseTokenStore

log = logging.getLogger("dashboard.services.sending")  # a send's story, in one logger

CONNECT_TIMEOUT_SECONDS = 3.05
#: The most one send may take, token requests and a renewal included: under gunicorn's 30 s.
SEND_BUDGET_SECONDS = 20.0


def client_for(environment: str) -> tuple[RevenueMonsterClient, int | None]:
    """A client for ``environment`` and the credentials version it uses (None when the
    environment's credentials are incomplete: its sends then fail as not sent)."""
    row = account(environment)
    complete = row is not None and row.complete
    credentials = decrypted_credentials(row) if row is not None and complete else None
    urls = current_app.config["RM_URLS"][environment]
    client = RevenueMonsterClient(
        credentials,
        Endpoints(oauth_url=urls["oauth"], api_url=urls["api"]),
        DatabaseTokenStore(environment, row.version if row is not None else 0),
        connect_timeout=min(CONNECT_TIMEOUT_SECONDS, current_app.config["RM_TIMEOUT_SECONDS"]),
        read_timeout=current_app.config["RM_TIMEOUT_SECONDS"],
        total_timeout=SEND_BUDGET_SECONDS,
        sms_type=current_app.config["SMS_TYPE"],
    )
    return client, row.version if row is not None and complete else None


@dataclass(frozen=True)
class PreparedClient:
    """The client for an environment, or the not-sent outcome that says why there is none."""

    environment: str
    client: RevenueMonsterClient | NotSent
    version: int | None = None


def prepare(environment: str) -> PreparedClient:
    """The provider's client for ``environment``, read in the request's read transaction
    (credentials decrypted once per version and process: provider_accounts). Never raises:
    a failure becomes the not-sent outcome the attempt will record."""
    try:
        client, version = client_for(environment)
    except SQLAlchemyError:  # the database failed: nothing will be sent
        log.exception("sending.database_error")
        return PreparedClient(
            environment,
            NotSent(
                "DATABASE_ERROR",
                "The dashboard's database failed before RevenueMonster was called, so nothing "
                "was sent.",
            ),
        )
    except Exception:  # unreadable credentials (an encryption key removed...): nothing left
        log.exception("sending.configuration_error")
        return PreparedClient(
            environment,
            NotSent(
                "CONFIGURATION_ERROR",
                "The stored RevenueMonster credentials could not be read, so nothing was sent.",
            ),
        )
    return PreparedClient(environment, client, version)


def send_sms(
    prepared: PreparedClient, number: MobileNumber, text: str
) -> tuple[SmsOutcome, int | None, int]:
    """Call RevenueMonster outside any database transaction; never raises. Returns the outcome,
    the credentials version used and the latency in milliseconds."""
    started = time.monotonic()
    if isinstance(prepared.client, NotSent):
        return prepared.client, None, 0
    end_read_transaction()
    try:
        with prepared.client as client:
            outcome: SmsOutcome = client.send_sms(
                country_code=number.country_code,
                phone_number=number.national_number,
                message=text,
            )
    except Exception:  # a bug must not lose the attempt: record it as unknown
        log.exception("sending.unexpected_error")
        outcome = Unknown(
            code="INTERNAL_ERROR",
            message="The dashboard failed while sending, after the request may have left.",
            http_status=None,
        )
    return outcome, prepared.version, round((time.monotonic() - started) * 1000)
