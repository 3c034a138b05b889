"""What needs someone's attention now: the banner on every signed-in page (sending paused, a
RevenueMonster set-up that makes every send fail) and the overview's "Needs attention" card.

Both run on many pages, so each question is one indexed query at most; the callers that draw
every page (templating) catch a database error and draw the page without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select

from ..domain import outcome_words
from ..domain.statuses import Status
from ..extensions import db
from ..models import Attempt, utcnow
from . import environments, limits, provider_accounts, sending

#: The outcomes nobody but an admin can put right (credentials, key, signature, the account's
#: subscription or credit, the configured URLs): those whose next step, in the words shown for
#: them, is to tell an admin about the set-up. Derived from those words, so a code joins or
#: leaves this group in one place.
SETUP_CODES = frozenset(
    code
    for table in (outcome_words.PROVIDER, outcome_words.DASHBOARD)
    for code, explanation in table.items()
    if explanation.next_step == outcome_words.CHECK_SETUP
)
#: Among them, the account is out of credit: listed on its own in the overview.
BALANCE_CODES = frozenset({"INSUFFICIENT_MERCHANT_BALANCE"}) & SETUP_CODES
#: How far back the overview looks for unknown outcomes and balance errors.
RECENT = timedelta(hours=24)


def is_setup_error(code: str | None) -> bool:
    """Whether an attempt's response code is one only an admin can fix (no point resending)."""
    return code in SETUP_CODES


@dataclass(frozen=True)
class Notice:
    """One line of the banner every signed-in page shows, most serious first.

    ``kind`` is stable, for code and tests ("setup", "paused"); ``message`` is the sentence
    shown, complete; ``tone`` the Bootstrap colour of the banner ("danger", "warning").
    ``endpoint`` and ``args``, when ``endpoint`` is set, make the link ``link_text`` to the page
    that says more (``url_for(notice.endpoint, **notice.args)``)."""

    kind: str
    message: str
    tone: str
    endpoint: str | None = None
    args: Mapping[str, str] = field(default_factory=dict)
    link_text: str = ""


@dataclass(frozen=True)
class Item:
    """One entry of the overview's "Needs attention" card.

    ``kind`` is stable, for code and tests: "setup", "balance", "unknown_outcomes",
    "stuck_pending", "paused", "production". ``sentence`` is what to show, one sentence,
    complete (it does not repeat ``count``). ``count`` is how many attempts it is about, or
    None where counting makes no sense (a setting). ``endpoint`` and ``args`` name the page
    that shows them: ``url_for(item.endpoint, **item.args)``, e.g. the history filtered by
    status. Some endpoints are for admins only (``admin.*``): a page drawn for another role
    shows the sentence without the link (security.may_use tells). ``tone`` is the Bootstrap
    colour of its badge or border ("danger", "warning", "info")."""

    kind: str
    sentence: str
    count: int | None
    endpoint: str
    args: Mapping[str, str]
    tone: str


@dataclass(frozen=True)
class SetupProblem:
    """Sends in ``environment`` are failing because of its set-up: the latest attempt there
    that tells (``attempt_public_id``, at ``since``) failed with ``code``, which ``what``
    explains, and neither a later send nor a change of the account has shown it fixed."""

    environment: str
    code: str
    what: str
    since: datetime
    attempt_public_id: str

    def sentence(self, subject: str) -> str:
        """The problem said with ``subject`` ("Sending is", "Sends in sandbox are")."""
        return (
            f"{subject} failing because of the RevenueMonster set-up: {self.what} "
            "An admin must fix it."
        )


#: An attempt that tells whether the set-up works: RevenueMonster answered it (accepted, or
#: refused for a reason of its own or of the set-up), or it failed here because of the set-up
#: (no credentials, unreadable ones). Network failures and unknown outcomes tell nothing.
_TELLING = or_(
    Attempt.status.in_([Status.ACCEPTED, Status.REJECTED]),
    (Attempt.status == Status.FAILED) & Attempt.response_code.in_(sorted(SETUP_CODES)),
)


def setup_problem(environment: str | None = None) -> SetupProblem | None:
    """The current set-up problem of ``environment`` (the active one by default), or None.

    Current means: the newest attempt in that environment that tells whether the set-up works
    ended with a set-up error, and the environment's account has not been changed since that
    attempt started (an admin who saves new credentials clears the banner until the next send
    fails again). Reads the newest rows of ix_attempts_environment_id backwards, then the
    account by its key."""
    environment = environment or environments.active_environment()
    latest = db.session.execute(
        select(Attempt.public_id, Attempt.created_at, Attempt.response_code)
        .where(Attempt.environment == environment, _TELLING)
        .order_by(Attempt.id.desc())
        .limit(1)
    ).first()
    if latest is None or not is_setup_error(latest.response_code):
        return None
    found = provider_accounts.account(environment)
    if found is not None and found.updated_at > latest.created_at:
        return None
    code = str(latest.response_code)
    return SetupProblem(
        environment=environment,
        code=code,
        what=outcome_words.explain(code, Status.REJECTED).meaning,
        since=latest.created_at,
        attempt_public_id=latest.public_id,
    )


def site_notices() -> list[Notice]:
    """The banner of every signed-in page: a set-up problem of the active environment, then
    paused sending; empty when all is well. Raises SQLAlchemyError when the database fails (the
    page's context catches it)."""
    notices = []
    problem = setup_problem()
    if problem is not None:
        notices.append(
            Notice(
                kind="setup",
                message=problem.sentence("Sending is"),
                tone="danger",
                endpoint="sms.attempt",
                args={"public_id": problem.attempt_public_id},
                link_text=f"The last failed send ({problem.code})",
            )
        )
    current = limits.current()
    if current.paused:
        notices.append(
            Notice(
                kind="paused", message=limits.paused_message(current.paused_reason), tone="warning"
            )
        )
    return notices


def needs_attention(zone: ZoneInfo) -> list[Item]:
    """The overview's "Needs attention" card, most serious first; empty when nothing does.
    ``zone`` is the viewer's, for the day the history links filter from."""
    now = utcnow()
    since = now - RECENT
    from_day = since.astimezone(zone).date().isoformat()
    items: list[Item] = []
    active = environments.active_environment()

    problem = setup_problem(active)
    if problem is not None:
        items.append(
            Item(
                kind="setup",
                sentence=problem.sentence(f"Sends in {active} are"),
                count=None,
                endpoint="sms.attempt",
                args={"public_id": problem.attempt_public_id},
                tone="danger",
            )
        )

    balance = _count(Attempt.response_code.in_(sorted(BALANCE_CODES)), Attempt.created_at >= since)
    if balance:
        items.append(
            Item(
                kind="balance",
                sentence="RevenueMonster refused sends in the last 24 hours: the account has no "
                "credit left for SMS.",
                count=balance,
                endpoint="history.index",
                args={"response_code": min(BALANCE_CODES), "date_from": from_day},
                tone="danger",
            )
        )

    unknown = _count(Attempt.status == Status.UNKNOWN, Attempt.created_at >= since)
    if unknown:
        items.append(
            Item(
                kind="unknown_outcomes",
                sentence="Sends in the last 24 hours have an unknown outcome: the SMS may have "
                "been sent.",
                count=unknown,
                endpoint="history.index",
                args={"status": Status.UNKNOWN.value, "date_from": from_day},
                tone="warning",
            )
        )

    stuck = _count(Attempt.status == Status.PENDING, Attempt.created_at < now - sending.STALE_AFTER)
    if stuck:
        items.append(
            Item(
                kind="stuck_pending",
                sentence="Sends have waited for RevenueMonster's answer for more than a few "
                "minutes.",
                count=stuck,
                endpoint="history.index",
                args={"status": Status.PENDING.value},
                tone="warning",
            )
        )

    current = limits.current()
    if current.paused:
        items.append(
            Item(
                kind="paused",
                sentence=limits.paused_message(current.paused_reason),
                count=None,
                endpoint="admin.limits_page",
                args={},
                tone="warning",
            )
        )

    if active == "production":
        items.append(
            Item(
                kind="production",
                sentence="The production environment is active: codes go to real phones and "
                "cost money.",
                count=None,
                endpoint="admin.provider",
                args={},
                tone="info",
            )
        )
    return items


def _count(*conditions: ColumnElement[bool]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(Attempt).where(*conditions)) or 0)
