"""The overview after sign-in: recent attempts by status, acceptance, top codes, sends per hour."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..domain import days, statuses
from ..domain.statuses import Status
from ..extensions import db
from ..models import Attempt, utcnow

#: Outcomes RevenueMonster decided: the acceptance rate is accepted among these.


@dataclass(frozen=True)
class Overview:
    today: dict[str, int]
    week: dict[str, int]
    acceptance_rate: float | None  # last 7 days; None without decided attempts
    top_codes: list[tuple[str, int]]
    per_hour: list[tuple[datetime, int]]  # the last 24 hours, oldest first


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
    """Sends that reached or may have reached RevenueMonster, per hour of the last 24."""
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    start = this_hour - timedelta(hours=23)
    times = db.session.scalars(
        select(Attempt.created_at).where(
            Attempt.created_at >= start, Attempt.status.in_(statuses.DECIDED | {Status.PENDING})
        )
    )
    counts = Counter(t.replace(minute=0, second=0, microsecond=0) for t in times)
    hours = [start + timedelta(hours=n) for n in range(24)]
    return [(hour.astimezone(zone), counts.get(hour, 0)) for hour in hours]
