"""Which environment, sandbox or production, later sends use, and the audited switch between
them. Its own module because every page and every send reads it, while only admins change
the accounts behind it."""

from __future__ import annotations

from ..database import write_transaction
from . import audit, runtime_settings
from .provider_accounts import ProviderError, account, check_environment

ACTIVE_ENVIRONMENT = "active_environment"


def active_environment() -> str:
    return str(runtime_settings.get(ACTIVE_ENVIRONMENT, "sandbox"))


def use_environment(environment: str, actor: audit.Actor, *, reason: str = "") -> str:
    """Make ``environment`` the one later sends use; returns the previous one. A send already
    under way keeps the environment it read when it started."""
    check_environment(environment)
    found = account(environment)
    if found is None or not found.complete:
        raise ProviderError(
            f"{environment} has no complete RevenueMonster credentials yet; configure them first."
        )
    with write_transaction(audit.CHAIN_LOCK, ACTIVE_ENVIRONMENT):
        previous = runtime_settings.put(ACTIVE_ENVIRONMENT, environment, actor) or "sandbox"
        audit.record(
            "provider.switch",
            actor,
            target=environment,
            old=previous,
            new=environment,
            reason=reason,
        )
    return previous
