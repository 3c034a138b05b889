"""Reading the attempts: search newest first, and what each viewer may see of a number."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import Attempt, User
from .phone_numbers import display

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    attempts: list[Attempt]
    next_before: int | None  # keyset cursor for the next (older) page


def search(text: str = "", *, before: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """Attempts newest first; ``text`` keeps those whose number ends with its digits.

    Served by indexes at any depth: a keyset on ``id`` (never OFFSET), and the reversed
    number, on which "ends with" is a prefix range.
    """
    query = select(Attempt).order_by(Attempt.id.desc()).limit(limit + 1)
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits:
        suffix = digits[::-1]
        upper = suffix[:-1] + chr(ord(suffix[-1]) + 1)
        query = query.where(Attempt.phone_reversed >= suffix, Attempt.phone_reversed < upper)
    if before is not None:
        query = query.where(Attempt.id < before)
    rows = list(db.session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more and rows else None)


def number_for(attempt: Attempt, viewer: User) -> str:
    """The number as ``viewer`` may see it: support staff see only the last 4 digits of
    numbers they did not send to themselves."""
    shown = display(attempt.phone_e164)
    if viewer.role != "support" or attempt.user_id == viewer.id:
        return shown
    national = attempt.national_number
    return f"+{attempt.country_code} {'•' * (len(national) - 4)}{national[-4:]}"
