"""The overview after sign-in: recent attempts by status, acceptance, top codes, sends per hour."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..domain import days, statuses
from ..domain.statuses import Status
from ..extensions import db
from ..models import Attempt, utcnow


@dataclass(frozen=True)
class Overview:
    today: dict[str, int]
    week: dict[str, int]
    acceptance_rate: float | None  # last 7 days; None without decided attempts
    top_codes: list[tuple[str, int]]
    # The last 24 hours of the viewer's clock, oldest first: each hour's start in their zone
    # (on the hour there, whatever the zone's offset) and its sends.
    per_hour: list[tuple[datetime, int]]

    @property
    def empty(self) -> bool:
        """No attempt in the last 7 days: the page says so instead of drawing zeros."""
        return not any(self.week.values())

    @property
    def peak(self) -> int:
        return max((count for _, count in self.per_hour), default=0)


def overview(zone: ZoneInfo) -> Overview:
    now = utcnow()
    midnight = days.today_start(now, zone)
    week_ago = now - timedelta(days=7)
    week = _by_status(week_ago)
    decided = sum(week.get(status, 0) for status in statuses.DECIDED)
    codes = db.session.execute(
        select(Attempt.response_code, func.count())
        .where(Attempt.created_at >= week_ago, Attempt.response_code.is_not(None))
        .group_by(Attempt.response_code)
        .order_by(func.count().desc())
        .limit(5)
    ).all()
    return Overview(
        today=_by_status(midnight),
        week=week,
        acceptance_rate=week.get(Status.ACCEPTED, 0) / decided if decided else None,
        top_codes=[(str(code), int(n)) for code, n in codes],
        per_hour=_per_hour(now, zone),
    )


def _by_status(since: datetime) -> dict[str, int]:
    rows = db.session.execute(
        select(Attempt.status, func.count())
        .where(Attempt.created_at >= since)
        .group_by(Attempt.status)
    ).all()
    return {status: int(n) for status, n in rows}


def _per_hour(now: datetime, zone: ZoneInfo) -> list[tuple[datetime, int]]:
    """Sends that reached or may have reached RevenueMonster, per hour of the viewer's clock,
    the last 24 of them. The hours start on the hour in ``zone`` (in Kolkata that is half
    past in UTC), so the chart's labels are the hours its reader lives by."""
    this_hour = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    start = this_hour.astimezone(UTC) - timedelta(hours=23)
    times = db.session.scalars(
        select(Attempt.created_at).where(
            Attempt.created_at >= start, Attempt.status.in_(statuses.DECIDED | {Status.PENDING})
        )
    )
    counts = Counter(int((t - start).total_seconds() // 3600) for t in times)
    return [((start + timedelta(hours=n)).astimezone(zone), counts.get(n, 0)) for n in range(24)]
