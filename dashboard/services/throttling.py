"""Sign-in throttling: failed attempts counted per account and per client address, each answered
with a temporary lock that grows with every further failure and never becomes permanent.

An account is counted by the email typed, whether or not a user has it, so a lock says nothing
about which accounts exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import SignInThrottle, utcnow


@dataclass(frozen=True)
class Policy:
    free_failures: int  # failures allowed before the first lock
    first_lock: timedelta
    longest_lock: timedelta


ACCOUNT = Policy(
    free_failures=5, first_lock=timedelta(minutes=1), longest_lock=timedelta(minutes=15)
)
ADDRESS = Policy(
    free_failures=20, first_lock=timedelta(minutes=1), longest_lock=timedelta(minutes=15)
)
#: A count not added to for this long starts over.
WINDOW = timedelta(hours=1)


def keys(email: str, address: str | None) -> dict[str, Policy]:
    found = {f"account:{email.strip().lower()[:254]}": ACCOUNT}
    if address:
        found[f"ip:{address}"] = ADDRESS
    return found


def locked_until(email: str, address: str | None) -> datetime | None:
    """When the later of the account's and the address's locks ends, or None if neither holds."""
    now = utcnow()
    rows = db.session.scalars(
        select(SignInThrottle).where(SignInThrottle.key.in_(keys(email, address)))
    )
    ends = [row.locked_until for row in rows if row.locked_until and row.locked_until > now]
    return max(ends, default=None)


def record_failure(email: str, address: str | None) -> datetime | None:
    """Count a failure (in the caller's write transaction); return the end of a lock it starts."""
    now = utcnow()
    started = None
    for key, policy in keys(email, address).items():
        row = db.session.get(SignInThrottle, key)
        if row is None:
            row = SignInThrottle(key=key, failures=0)
            db.session.add(row)
        elif now - row.last_failure_at > WINDOW:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        over = row.failures - policy.free_failures
        if over > 0:
            lock = min(policy.first_lock * 2 ** (over - 1), policy.longest_lock)
            row.locked_until = now + lock
            started = max(started or row.locked_until, row.locked_until)
    return started


def clear_account(email: str) -> None:
    """Forget the account's failures after a successful sign-in (the address keeps its count)."""
    for key, policy in keys(email, None).items():
        if policy is ACCOUNT:
            row = db.session.get(SignInThrottle, key)
            if row is not None:
                db.session.delete(row)
