"""Days as the viewer lives them: a date filter means midnight to midnight in the viewer's
zone, whatever the server's or the database's zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def start_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``."""
    return datetime.combine(day, time.min, tzinfo=zone)


def end_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after ``day`` in ``zone`` (an exclusive bound)."""
    return start_of(day + timedelta(days=1), zone)


def today_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Midnight of the day that ``now`` is in, in ``zone``."""
    return start_of(now.astimezone(zone).date(), zone)
