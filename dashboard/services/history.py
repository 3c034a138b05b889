"""Reading the attempts: filters that stay fast at millions of rows, newest first, and what
each viewer may see of a number.

Every filter is served by an index and pages are keyset pages on ``id`` (which grows with
``created_at``), so a deep page costs what the first one does: a date range becomes an id range
found through the ``created_at`` index; "ends with" digits is a prefix range on the reversed
number; "contains" uses the trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Row, Select, column, func, select, table

from ..domain import cursors, days
from ..domain.capabilities import SHOWN_LAST_DIGITS, Capability
from ..domain.phone_numbers import display
from ..extensions import db
from ..models import Attempt, AuditEvent, User
from . import audit

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MIN_CONTAINS_DIGITS = 3
REVEAL = "number.reveal"  # the audit action of a reveal
SHOWN_AS_MANY = 1000  # beyond this, "1,000+" instead of an exact count
DENSE_SPAN = 50  # a page's matches are dense when one attempt in this many matches, or more

#: One row of a history page: the ROW_COLUMNS of an attempt.
AttemptRow = Row[Any]


@dataclass(frozen=True)
class Filters:
    number: str = ""
    match: str = "ends"
    status: str = ""
    response_code: str = ""
    environment: str = ""
    sender: int | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    reason: str = ""
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @property
    def digits(self) -> str:
        return "".join(ch for ch in self.number if ch.isdigit())

    def describe(self) -> dict[str, Any]:
        """The filters in force, for audit entries and export manifests."""
        found = {
            "number": self.digits and f"{self.match} {self.digits}",
            "status": self.status,
            "response_code": self.response_code,
            "environment": self.environment,
            "sender": self.sender,
            "date_from": self.date_from and self.date_from.isoformat(),
            "date_to": self.date_to and self.date_to.isoformat(),
            "reason": self.reason,
            "zone": self.zone.key if (self.date_from or self.date_to) else None,
        }
        return {key: value for key, value in found.items() if value}


#: What a history row shows. Whole attempts, with their sender joined, cost several times
#: as much to load as these few columns.
ROW_COLUMNS = (
    Attempt.id,
    Attempt.public_id,
    Attempt.created_at,
    Attempt.user_id,
    Attempt.environment,
    Attempt.country_code,
    Attempt.national_number,
    Attempt.phone_e164,
    Attempt.status,
    Attempt.response_code,
    Attempt.number_visible_to_sender,  # the masking rule reads it (may_see_full_number)
)


@dataclass(frozen=True)
class Page:
    attempts: list[Row[Any]]  # of ROW_COLUMNS
    matching: int  # how many attempts match, up to SHOWN_AS_MANY + 1
    next_cursor: str | None  # opaque, signed: where the next (older) page starts


#: SQLite's FTS5 trigram index of the searchable text of attempts (migration 0002).
SEARCH_INDEX = table("search_attempts", column("rowid"), column("phone_e164"), column("reason"))


def reveal(attempt: Attempt, user: User, *, reason: str) -> None:
    """``user`` is shown ``attempt``'s full number, for ``reason``: audited first."""
    audit.log(REVEAL, user, target=attempt.public_id, reason=reason)


def query(filters: Filters, *, before: int | None = None) -> Select[Any]:
    """The attempts matching ``filters`` (older than id ``before``), newest first.

    On SQLite a substring search is driven from the FTS5 index, in its own rowid order (the
    attempt's id), so the database stops at the page's last row instead of collecting every
    match first. The other filters are marked ``likely()`` there, and beside three or more
    last digits, so that SQLite's planner keeps to that plan without statistics. What each
    choice saved is in docs/performance.md (History queries)."""
    statement = select(Attempt)
    key: Any = Attempt.id  # the keyset: attempts' id, or the same id as the index's rowid
    substrings = _substrings(filters)
    on_sqlite = _on_sqlite()
    from_the_index = on_sqlite and bool(substrings)
    last_digits = filters.match == "ends" and len(filters.digits) >= 3
    hinted = on_sqlite and (from_the_index or last_digits)
    conditions = _conditions(filters, hint=func.likely if hinted else None)
    if from_the_index:
        statement = statement.join(SEARCH_INDEX, SEARCH_INDEX.c.rowid == Attempt.id)
        key = SEARCH_INDEX.c.rowid
        conditions += [_like(SEARCH_INDEX.c[name], needle) for name, needle in substrings]
    else:
        conditions += [_like(getattr(Attempt, name), needle) for name, needle in substrings]
    if before is not None:
        conditions.append(key < before)
    return statement.where(*conditions).order_by(key.desc())


def search(filters: Filters, *, cursor: str | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of matching attempts, and how many match: counted for the first page (not at
    all when it holds every match) and carried by the cursor to the next ones, so paging on
    costs one query. Raises ``cursors.BadCursor`` for a tampered cursor."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    before, matching = read_cursor(cursor, filters) if cursor else (None, None)
    statement = query(filters, before=before).with_only_columns(*ROW_COLUMNS).limit(limit + 1)
    rows: list[Row[Any]] = list(db.session.execute(statement))
    more = len(rows) > limit
    rows = rows[:limit]
    if matching is None:  # a first page that holds every match has counted them already
        matching = len(rows) if before is None and not more else count_up_to(filters, rows)
    return Page(rows, matching, make_cursor(rows[-1].id, matching, filters) if more else None)


def count_up_to(filters: Filters, page: list[Row[Any]]) -> int:
    """How many attempts match, counting no further than ``SHOWN_AS_MANY + 1`` (an exact count
    of millions of rows on every page view is what makes admin listings slow).

    Any matches will do, in no order, so that PostgreSQL stops its bitmap scan of a trigram
    index at the cap. Where the page just read shows that a substring's matches are dense,
    they are first counted among the ids above ``DENSE_SPAN`` x the cap below the page, a
    range the primary key serves, which usually holds enough of them; a plain count follows
    when it does not, because PostgreSQL's own choice of index was slow there
    (docs/performance.md). SQLite's FTS5 index yields matches in id order: no such detour."""
    cap = SHOWN_AS_MANY + 1
    dense = len(page) > 1 and page[0].id - page[-1].id < DENSE_SPAN * len(page)
    if dense and _substrings(filters) and not _on_sqlite():
        since = page[0].id - DENSE_SPAN * cap
        found = _count(query(filters).where(Attempt.id > since), cap)
        if found == cap or since < 1:  # enough of them, or every id was looked at
            return found
    return _count(query(filters), cap)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _on_sqlite() -> bool:
    return bool(db.session.get_bind().dialect.name == "sqlite")


def _count(matches: Select[Any], cap: int) -> int:
    return int(db.session.scalar(capped_count(matches, cap)) or 0)


def capped_count(matches: Select[Any], cap: int) -> Select[Any]:
    """How many of ``matches`` there are, up to ``cap``: any ``cap`` of them, in no order."""
    limited = matches.with_only_columns(Attempt.id).order_by(None).limit(cap)
    return select(func.count()).select_from(limited.subquery())


def make_cursor(last_id: int, matching: int, filters: Filters) -> str:
    return cursors.make(last_id, matching, _fingerprint(filters), kind="history", secret=_secret())


def read_cursor(cursor: str, filters: Filters) -> tuple[int, int | None]:
    """Where the page starts, and the count carried along: ``None`` when the cursor was made
    for other filters (an edited link), which must be counted afresh."""
    last_id, matching, fingerprint = cursors.read(cursor, kind="history", secret=_secret(), size=3)
    return last_id, matching if fingerprint == _fingerprint(filters) else None


def _fingerprint(filters: Filters) -> int:
    return zlib.crc32(json.dumps(filters.describe(), sort_keys=True).encode())


def _conditions(filters: Filters, hint: Callable[[Any], Any] | None = None) -> list[Any]:
    """The conditions of the filters other than substrings; ``hint`` wraps those on a column
    of few values (status, code, environment, sender)."""
    found: list[Any] = []
    mark = hint or (lambda condition: condition)
    digits = filters.digits
    if digits and filters.match != "contains":
        found.append(_number_condition(digits, filters.match))
    if filters.status:
        found.append(mark(Attempt.status == filters.status))
    if filters.response_code:
        found.append(mark(Attempt.response_code == filters.response_code))
    if filters.environment:
        found.append(mark(Attempt.environment == filters.environment))
    if filters.sender is not None:
        found.append(mark(Attempt.user_id == filters.sender))
    if filters.date_from:
        found.append(
            Attempt.id >= _first_id_at_or_after(days.start_of(filters.date_from, filters.zone))
        )
    if filters.date_to:
        end = days.end_of(filters.date_to, filters.zone)
        found.append(Attempt.id < _first_id_at_or_after(end))
    return found


def _substrings(filters: Filters) -> list[tuple[str, str]]:
    """The (column, text) pairs searched by substring, which the trigram indexes serve."""
    found = []
    if filters.digits and filters.match == "contains":
        found.append(("phone_e164", filters.digits))
    if filters.reason.strip():
        found.append(("reason", filters.reason.strip()))
    return found


def _number_condition(digits: str, match: str) -> Any:
    if match == "exact":
        return Attempt.phone_e164 == f"+{digits}"
    if match == "starts":
        return (Attempt.phone_e164 >= f"+{digits}") & (Attempt.phone_e164 < f"+{_next(digits)}")
    reversed_digits = digits[::-1]
    return (Attempt.phone_reversed >= reversed_digits) & (
        Attempt.phone_reversed < _next(reversed_digits)
    )


def _like(target: Any, needle: str) -> Any:
    """A substring test that the trigram index of each database serves, with LIKE's wildcards
    in ``needle`` taken literally. On SQLite an ESCAPE clause is added only when needed,
    because FTS5 cannot use its trigram index for a LIKE that has one; its LIKE ignores ASCII
    case. On PostgreSQL, ILIKE (case as the database's locale folds it) is used only for a
    needle with letters, because per row it costs several times LIKE (docs/performance.md)."""
    special = any(ch in needle for ch in "%_\\")
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if _on_sqlite():
        return target.like(f"%{escaped}%", escape="\\" if special else None)
    compare = target.ilike if needle.lower() != needle.upper() else target.like
    return compare(f"%{escaped}%", escape="\\")


def _next(digits: str) -> str:
    """The smallest digit string greater than every string starting with ``digits``."""
    return digits[:-1] + chr(ord(digits[-1]) + 1)


def _first_id_at_or_after(moment: datetime) -> int:
    """Ids grow with time, so a time bound is an id bound, found through the created_at index."""
    first = db.session.scalar(
        select(Attempt.id)
        .where(Attempt.created_at >= moment)
        .order_by(Attempt.created_at, Attempt.id)
        .limit(1)
    )
    if first is not None:
        return int(first)
    last = db.session.scalar(select(func.max(Attempt.id)))
    return int(last or 0) + 1


@lru_cache(maxsize=4096)
def _displayed(e164: str) -> str:
    return display(e164)  # parsing a number costs more than rendering its whole table row


def number_for(attempt: Attempt | Row[Any], viewer: User, *, revealed: bool = False) -> str:
    """The number as ``viewer`` may see it (may_see_full_number): otherwise only its last
    digits, unless they revealed it (audited)."""
    shown = _displayed(attempt.phone_e164)
    if revealed or may_see_full_number(attempt, viewer):
        return shown
    national = attempt.national_number
    hidden = len(national) - SHOWN_LAST_DIGITS
    return f"+{attempt.country_code} {'•' * hidden}{national[-SHOWN_LAST_DIGITS:]}"


def may_see_full_number(attempt: Attempt | Row[Any], viewer: User) -> bool:
    """The masking rule: full numbers for those who may see them all, and for the sender,
    unless the attempt repeats a send whose number was masked for them (a resend is the
    resender's own attempt: pressing Resend must be no way to unmask a number)."""
    if viewer.may(Capability.SEE_FULL_NUMBERS):
        return True
    return attempt.user_id == viewer.id and bool(attempt.number_visible_to_sender)


def may_see_number_of(original: Attempt, viewer: User) -> bool:
    """Whether a resend of ``original`` by ``viewer`` shows them its number in full (the
    resend's ``number_visible_to_sender``): when ``original``'s number is not masked for them,
    or when they revealed it, for a reason, in the audit log. A reveal of another attempt to
    the same number does not count: what they were shown is the attempt they revealed."""
    return may_see_full_number(original, viewer) or has_revealed(original, viewer)


def has_revealed(attempt: Attempt, viewer: User) -> bool:
    """Whether ``viewer`` revealed ``attempt``'s number (found through the actor's index)."""
    reveal_event = (
        select(AuditEvent.id)
        .where(
            AuditEvent.actor_id == viewer.id,
            AuditEvent.action == REVEAL,
            AuditEvent.target == attempt.public_id,
        )
        .limit(1)
    )
    return db.session.scalar(reveal_event) is not None
