"""The RevenueMonster client a send (or a connection test) uses: an environment's decrypted
credentials, its base URLs from settings, the shared token store and the time budget of one
send, put together in one place."""

from __future__ import annotations

from flask import current_app

from ..revenuemonster import Endpoints, RevenueMonsterClient
from .provider_accounts import account, decrypted_credentials
from .provider_tokens import DatabaseTokenStore

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
