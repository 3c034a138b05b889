"""Sending limits: per-number cooldown and caps, per-user caps, the country allow-list and the
"sending paused" switch. Checked in the same transaction that records the attempt, under a lock
per number and per user, so concurrent sends cannot slip past a cap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy import func, select

from ..database import write_transaction
from ..domain import statuses
from ..extensions import db
from ..models import Attempt, utcnow
from . import audit, runtime_settings

SETTING = "send_limits"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Limits:
    cooldown_seconds: int = 60
    per_number_per_hour: int = 5
    per_number_per_day: int = 10
    per_user_per_hour: int = 30
    per_user_per_day: int = 200
    allowed_regions: tuple[str, ...] = ("MY",)  # ISO 3166 codes, as phonenumbers names them
    paused: bool = False
    paused_reason: str = ""


@dataclass(frozen=True)
class Refusal:
    """Why a send is refused: a stable code, words for the agent, and when to try again."""

    code: str
    message: str
    retry_at: datetime | None = None


def current() -> Limits:
    stored = runtime_settings.get(SETTING, None) or {}
    known = {k: v for k, v in stored.items() if k in Limits.__dataclass_fields__}
    if "allowed_regions" in known:
        known["allowed_regions"] = tuple(known["allowed_regions"])
    return Limits(**known)


def save(limits: Limits, actor: audit.Actor) -> None:
    """Store new limits, with the change in the audit log, in a transaction of their own."""
    with write_transaction(audit.CHAIN_LOCK, SETTING):
        old = asdict(current())
        new = asdict(limits)
        runtime_settings.put(SETTING, new, actor)
        changed = {k: {"old": old[k], "new": new[k]} for k in new if old[k] != new[k]}
        audit.record("limits.change", actor, target=SETTING, changes=changed)


def country_name(region: str) -> str:
    """ "Malaysia" for "MY" (English names from phonenumbers' geocoder data)."""
    from phonenumbers import geocoder

    example = phonenumbers.example_number(region)
    name = geocoder.country_name_for_number(example, "en") if example else ""
    return name or region


class UnknownRegion(ValueError):
    """A country code phonenumbers does not know; the message names them."""


def parse_regions(text: str) -> tuple[str, ...]:
    """``"my, SG"`` as ``("MY", "SG")``: sorted, without repeats; raises UnknownRegion."""
    regions = tuple(sorted({r.strip().upper() for r in text.split(",")}))
    unknown = [
        r or "(an empty one)" for r in regions if not phonenumbers.country_code_for_region(r)
    ]
    if unknown:
        raise UnknownRegion(f"Not a country code phone numbers know: {', '.join(unknown)}.")
    return regions


def allowed_countries(limits: Limits) -> list[tuple[str, str]]:
    """``(calling code, "Malaysia (+60)")`` for each allowed region, for the country picker."""
    choices = []
    for region in limits.allowed_regions:
        code = phonenumbers.country_code_for_region(region)
        if code:
            choices.append((str(code), f"{country_name(region)} (+{code})"))
    return sorted(set(choices), key=lambda choice: choice[1])


def paused_message(reason: str) -> str:
    """How a refused send, and the banner on every page, say that sending is paused."""
    return (
        f"Sending is paused by an admin: {reason}" if reason else "Sending is paused by an admin."
    )


def refusal_for(user_id: int, e164: str, limits: Limits) -> Refusal | None:
    """The first limit a send by user ``user_id`` to ``e164`` would break now, or None. Call it
    inside the write transaction that records the attempt."""
    if limits.paused:
        return Refusal("SENDING_PAUSED", paused_message(limits.paused_reason))
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    if region not in limits.allowed_regions:
        return Refusal(
            "COUNTRY_NOT_ALLOWED",
            f"Numbers in {country_name(region or '??')} are not on the list of countries codes "
            "may be sent to.",
        )
    now = utcnow()
    by_number = Attempt.phone_e164 == e164
    by_user = Attempt.user_id == user_id
    caps = (
        (
            "LIMIT_NUMBER_HOUR",
            by_number,
            HOUR,
            limits.per_number_per_hour,
            "to this number in an hour",
        ),
        ("LIMIT_NUMBER_DAY", by_number, DAY, limits.per_number_per_day, "to this number in a day"),
        ("LIMIT_USER_HOUR", by_user, HOUR, limits.per_user_per_hour, "by you in an hour"),
        ("LIMIT_USER_DAY", by_user, DAY, limits.per_user_per_day, "by you in a day"),
    )
    # One statement, one row: the number's last counted send (the cooldown), and for each cap
    # the cap-th newest counted send in its window, if there is one. Each is a walk down an
    # index on (who, created_at, status), newest first, that stops at the cap: the table is
    # never read, and however many sends a window holds, at most ``cap`` entries are.
    last, *oldest_counted = db.session.execute(
        select(
            select(func.max(Attempt.created_at))
            .where(by_number, _counted(now - DAY))
            .scalar_subquery(),
            *(
                select(Attempt.created_at)
                .where(who, _counted(now - window))
                .order_by(Attempt.created_at.desc())
                .offset(cap - 1)
                .limit(1)
                .scalar_subquery()
                for _, who, window, cap, _ in caps
            ),
        )
    ).one()
    if last is not None and now - last < timedelta(seconds=limits.cooldown_seconds):
        return Refusal(
            "LIMIT_COOLDOWN",
            f"A code was sent to this number less than {limits.cooldown_seconds} seconds ago.",
            last + timedelta(seconds=limits.cooldown_seconds),
        )
    for (code, _, window, cap, words), oldest in zip(caps, oldest_counted, strict=True):
        if oldest is not None:
            return Refusal(code, f"At most {cap} codes may be sent {words}.", oldest + window)
    return None


def _counted(since: datetime):
    return (Attempt.created_at >= since) & Attempt.status.in_(statuses.COUNTED)
