"""Sign-in throttling: failed attempts counted per account and per (client address, account),
each answered with a temporary lock that grows with every further failure and never becomes
permanent.

Nothing is refused for the address alone: behind an office's NAT or a proxy one address is
every colleague, and one person's typing (or an attacker's guessing) must not lock them all
out. An address is refused only the accounts it failed on; how fast it may try at all is the
request-rate limit of the sign-in forms (dashboard.auth.views), which holds no account.

An account is counted by the email typed, whether or not a user has it, so a lock says nothing
about which accounts exist. Keys hold a keyed digest of that email, never the text: what is
typed into the email field may be a password, and a plain hash of it would be found again by
hashing guesses.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ..encryption import derived_key
from ..extensions import db
from ..models import SignInThrottle, utcnow
from .users import normalise_email


@dataclass(frozen=True)
class Policy:
    free_failures: int  # failures allowed before the first lock
    first_lock: timedelta
    longest_lock: timedelta


#: Failures on one account from anywhere; a success clears them.
ACCOUNT = Policy(
    free_failures=5, first_lock=timedelta(minutes=1), longest_lock=timedelta(minutes=15)
)
#: Failures on one account from one address. A success clears only that address's count, so
#: the account's owner signing in elsewhere does not give a guesser a fresh allowance.
PAIR = Policy(free_failures=5, first_lock=timedelta(minutes=1), longest_lock=timedelta(minutes=15))
#: A count not added to for this long starts over.
WINDOW = timedelta(hours=1)


def digest(email: str) -> str:
    """The name of what was typed into the email field, wherever it is kept (throttle keys, and
    the logs and audit log for an email no account has): an HMAC-SHA256 of the lenient
    normal form (users.normalise_email), keyed by a key derived from the secret key."""
    typed = normalise_email(email).encode()
    return hmac.new(derived_key("sign-in emails"), typed, hashlib.sha256).hexdigest()


def keys(email: str, address: str | None) -> dict[str, Policy]:
    account = digest(email)
    found = {f"account:{account}": ACCOUNT}
    if address:
        found[f"pair:{account}:{address}"] = PAIR
    return found


def locked_until(email: str, address: str | None) -> datetime | None:
    """When the later of the account's lock and the (address, account) lock ends, or None if
    neither holds."""
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


def clear(email: str, address: str | None) -> None:
    """Forget the failures of a sign-in that just succeeded: the account's, and those of the
    address it came from (other addresses keep theirs)."""
    for key in keys(email, address):
        row = db.session.get(SignInThrottle, key)
        if row is not None:
            db.session.delete(row)
