"""An attempt's status, and the groups of statuses that the rules about attempts read.

One place for them: limits, purge, health, history, code checks, templates and the overview
all name a group here rather than list statuses of their own.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Stored as its value; a ``Status`` equals its value as a string."""

    PENDING = "pending"  # recorded, RevenueMonster being called
    BLOCKED = "blocked"  # stopped by the dashboard's limits: RevenueMonster was not called
    ACCEPTED = "accepted"  # RevenueMonster accepted the SMS for sending
    REJECTED = "rejected"  # RevenueMonster refused it: nothing was sent
    FAILED = "failed"  # the request never reached RevenueMonster: nothing was sent
    UNKNOWN = "unknown"  # no valid answer: the SMS may have gone out

    @property
    def word(self) -> str:
        """How pages and exports name it ("Accepted")."""
        return self.value.title()

    @property
    def tone(self) -> str:
        """The Bootstrap colour of its badge and alert."""
        return TONES[self]


TONES = {
    Status.PENDING: "info",
    Status.BLOCKED: "danger",
    Status.ACCEPTED: "success",
    Status.REJECTED: "danger",
    Status.FAILED: "danger",
    Status.UNKNOWN: "warning",
}

#: Every status, in the order pages list them.
ALL = tuple(Status)
#: Sends that reached, or may have reached, RevenueMonster: they count against the limits.
COUNTED = frozenset({Status.PENDING, Status.ACCEPTED, Status.REJECTED, Status.UNKNOWN})
#: Sends whose SMS may be on its way, so their code may be read back to be checked.
MAY_HAVE_SENT = frozenset({Status.PENDING, Status.ACCEPTED, Status.UNKNOWN})
#: Not settled yet: a purge keeps recent ones, reconciliation looks at them.
UNRESOLVED = frozenset({Status.PENDING, Status.UNKNOWN})
#: RevenueMonster was asked and answered (or may have): the overview's acceptance rate.
DECIDED = frozenset({Status.ACCEPTED, Status.REJECTED, Status.UNKNOWN})
#: What the provider's health counts as its last failure.
PROVIDER_FAILURES = frozenset({Status.REJECTED, Status.FAILED, Status.UNKNOWN})
