"""How an environment's RevenueMonster connection is doing, for the admin's provider page: the
token's expiry, the last success and failure, the last 24 hours by status, and an audited
connection test that fetches a fresh token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from ..database import end_read_transaction, write_transaction
from ..domain import statuses
from ..domain.statuses import Status
from ..extensions import db
from ..models import Attempt, ProviderToken, utcnow
from ..revenuemonster import TokenError
from . import audit, provider_client


def test_connection(environment: str, actor: audit.Actor) -> tuple[bool, str]:
    """Fetch a fresh token; return whether it worked and what happened, in words."""
    client, version = provider_client.client_for(environment)
    if version is None:
        return False, f"{environment.title()} has no complete credentials yet."
    end_read_transaction()
    try:
        with client:
            token = client.fetch_token()
    except TokenError as error:
        outcome = error.outcome
        ok, words = False, f"RevenueMonster did not give a token: {outcome.code} {outcome.message}"
    else:
        expires = datetime.fromtimestamp(token.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        ok, words = True, f"Connected to {environment}: token valid until {expires}."
    with write_transaction(audit.CHAIN_LOCK):
        audit.record("provider.test", actor, target=environment, ok=ok, result=words)
    return ok, words


@dataclass(frozen=True)
class Health:
    """What an admin needs to see at a glance about one environment."""

    token_expires_at: datetime | None
    last_success: Attempt | None
    last_failure: Attempt | None
    counts_24h: dict[str, int]


def health(environment: str) -> Health:
    token = db.session.get(ProviderToken, environment)
    since = utcnow() - timedelta(hours=24)
    in_env = Attempt.environment == environment

    def latest(wanted: frozenset[Status]) -> Attempt | None:
        return db.session.scalar(
            select(Attempt)
            .where(in_env, Attempt.status.in_(wanted))
            .order_by(Attempt.id.desc())
            .limit(1)
        )

    counts = dict(
        db.session.execute(
            select(Attempt.status, func.count())
            .where(in_env, Attempt.created_at >= since)
            .group_by(Attempt.status)
        ).all()
    )
    return Health(
        token_expires_at=token.expires_at if token is not None else None,
        last_success=latest(frozenset({Status.ACCEPTED})),
        last_failure=latest(statuses.PROVIDER_FAILURES),
        counts_24h={status: int(n) for status, n in counts.items()},
    )
