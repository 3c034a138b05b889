"""Days as the viewer lives them: a date filter means midnight to midnight in the viewer's
zone, whatever the server's or the database's zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: The days a date filter may name. Midnight of each, and of the day after, is an instant in
#: every zone (UTC-12 to UTC+14) that Python and both databases hold: the day after
#: 9999-12-31, or midnight of 0001-01-01 east of UTC, is not (a 500, not a filter). The
#: dashboard's data starts well after the first, and no one plans beyond the last.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(9998, 12, 31)


def problem_with(day: date) -> str:
    """Why ``day`` cannot be filtered by, in the words to show next to its field; "" when it
    can."""
    if FIRST_DAY <= day <= LAST_DAY:
        return ""
    return f"Choose a date between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}."


def start_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``."""
    return datetime.combine(day, time.min, tzinfo=zone)


def end_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after ``day`` in ``zone`` (an exclusive bound)."""
    return start_of(day + timedelta(days=1), zone)


def today_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Midnight of the day that ``now`` is in, in ``zone``."""
    return start_of(now.astimezone(zone).date(), zone)
