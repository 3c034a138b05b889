"""Checking a code a customer reads back, against every code still valid for their number.

A customer on the phone often reads out the code of the first SMS after a resend, so a check
is of the number, not of one send. The rule:

- A code is *valid* while its send may have reached the customer (``MAY_HAVE_SENT``), it is
  less than 10 minutes old (``codes.CODE_LIFETIME``), and it was neither used nor ended.
- A code that matches any valid code of the number is right: that code is used, and every
  other valid code of the number is ended (``code_ended_at``): it can no longer be used.
- Wrong tries count per number. A wrong try (a code that matches no valid code while the
  number has one) counts against every code valid at that moment (``code_failed_checks`` of
  each). The number's count is the highest of its valid codes' counts: the wrong tries since
  its oldest valid code was sent. When it reaches 5 (``MAX_WRONG_TRIES``), every valid code of
  the number is ended.
- A new send neither resets nor adds to that count: while an older code is valid, the
  number's count goes on from where it was (the new code ends with the older ones on the 5th
  wrong try); once no older code is valid (used, ended, expired) the count starts from the
  new code's own, 0. So no code ever faces more than 5 wrong tries (SECURITY.md OTP-5), and a
  resend after the tries ran out gives the customer a code that works.
- A code that matches a recent code that is no longer valid (expired, used or ended) is said
  to be that, and is no wrong try: it guesses nothing that still works.
- With no valid code nothing is tried: the check says why (nothing sent, the latest code
  used, expired or ended).

Every check is recorded (``CodeCheck``: the number as a keyed digest, never the code typed)
and audited (``code.check``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..database import write_transaction
from ..domain import codes, statuses
from ..domain.phone_numbers import parse_mobile_number
from ..encryption import derived_key
from ..extensions import db
from ..models import Attempt, CodeCheck, User, utcnow
from . import audit

MAX_WRONG_TRIES = 5
#: How many of a number's latest sends a typed code is compared with: every valid code is
#: among them (the per-number limits allow far fewer sends in 10 minutes), and older ones
#: tell "that code has expired" from "wrong".
RECENT_CODES = 50
#: How many checks of a number the check page lists.
LISTED_CHECKS = 10
#: What the key of the numbers' digests is derived for (encryption.derived_key).
DIGEST_KEY_PURPOSE = "code check numbers"

#: How each outcome is named in lists and exports ("right or wrong", and why not tried).
OUTCOME_WORDS = {
    "right": "Right",
    "wrong": "Wrong",
    "last_try": "Wrong, last try",
    "earlier": "A code no longer valid",
    "none_valid": "No valid code",
    "none_sent": "No code sent",
}
#: How the result page names the send a check refers to, before its time.
REFERS_TO = {
    "right": "The code is from the send of",
    "earlier": "That code is from the send of",
    "wrong": "The latest valid code is from the send of",
    "last_try": "The latest valid code was from the send of",
    "none_valid": "The latest send to this number was at",
}


@dataclass(frozen=True)
class CheckResult:
    matched: bool
    outcome: str  # a key of OUTCOME_WORDS
    message: str  # one sentence
    attempt: Attempt | None = None  # the send it refers to (REFERS_TO)
    e164: str = ""  # the number checked, whose recent checks the page lists

    @property
    def refers_to(self) -> str:
        return REFERS_TO.get(self.outcome, "")


def phone_digest(e164: str) -> str:
    """The name of a number in ``code_checks``: an HMAC-SHA256 under a key derived from the
    secret key, so a number typed by mistake (maybe someone else's) is not kept in clear."""
    return hmac.new(derived_key(DIGEST_KEY_PURPOSE), e164.encode(), hashlib.sha256).hexdigest()


def check_code(user: User, country_code: str, phone_number: str, code: str) -> CheckResult:
    """Check ``code`` against the valid codes of the number typed (the module's rule).
    Raises ``InvalidPhoneNumber`` for a number that cannot be a mobile."""
    number = parse_mobile_number(country_code, phone_number)
    return _check(user, number.e164, code)


def check_code_of(user: User, attempt: Attempt, code: str) -> CheckResult:
    """Check ``code`` against the valid codes of ``attempt``'s number, any send's (the
    module's rule): how the result page checks, without the number leaving the server."""
    return _check(user, attempt.phone_e164, code)


def _check(user: User, e164: str, code: str) -> CheckResult:
    code = code.strip()
    with write_transaction(audit.CHAIN_LOCK, f"phone:{e164}"):
        recent = list(
            db.session.scalars(
                select(Attempt)
                .where(
                    Attempt.phone_e164 == e164,
                    Attempt.status.in_(statuses.MAY_HAVE_SENT),
                    Attempt.code_hash.is_not(None),
                )
                .order_by(Attempt.id.desc())
                .limit(RECENT_CODES)
            )
        )
        result = replace(_judge(recent, code), e164=e164)
        db.session.add(
            CodeCheck(
                user_id=user.id,
                attempt_id=result.attempt.id if result.attempt is not None else None,
                phone_digest=phone_digest(e164),
                matched=result.matched,
                outcome=result.outcome,
            )
        )
        audit.record(
            "code.check",
            user,
            # A number nothing was sent to may be a mistyped one: no digits of it in the log.
            target=result.attempt.public_id if result.attempt is not None else "",
            matched=result.matched,
            outcome=result.outcome,
            result=result.message,
        )
    return result


def _judge(recent: list[Attempt], code: str) -> CheckResult:
    """Apply the rule to a number's latest sends that had a code (newest first)."""
    now = utcnow()
    if not recent:
        return CheckResult(False, "none_sent", "No code was sent to this number.")
    valid = [a for a in recent if _is_valid(a, now)]
    key = derived_key(codes.HASH_KEY_PURPOSE)
    typed = next(
        (
            a
            for a in valid + recent  # a valid code first, should two sends share a code
            if codes.code_matches(code, a.code_hash or "", attempt_public_id=a.public_id, key=key)
        ),
        None,
    )
    if typed is not None and typed in valid:
        typed.code_verified_at = now
        others = [a for a in valid if a is not typed]
        for other in others:
            other.code_ended_at = now
        if others:
            return CheckResult(
                True,
                "right",
                "The customer has this phone; the other codes sent to this number no longer work.",
                typed,
            )
        return CheckResult(True, "right", "The customer has this phone.", typed)
    if typed is not None:
        return CheckResult(
            False, "earlier", _no_longer_valid(typed, recent, valid=bool(valid)), typed
        )
    if not valid:
        return CheckResult(False, "none_valid", _why_none_valid(recent), recent[0])
    for attempt in valid:
        attempt.code_failed_checks += 1
    left = MAX_WRONG_TRIES - max(a.code_failed_checks for a in valid)
    if left <= 0:
        for attempt in valid:
            attempt.code_ended_at = now
        return CheckResult(
            False,
            "last_try",
            "The code is wrong and that was the last try: send a new code.",
            valid[0],
        )
    tries = "tries" if left != 1 else "try"
    return CheckResult(
        False, "wrong", f"The code is wrong: {left} more {tries} for this number.", valid[0]
    )


def _is_valid(attempt: Attempt, now: datetime) -> bool:
    return (
        attempt.code_verified_at is None
        and attempt.code_ended_at is None
        and attempt.code_expires_at is not None
        and attempt.code_expires_at > now
    )


def _ended_by_use(attempt: Attempt, recent: list[Attempt]) -> bool:
    """Whether ``attempt``'s code was ended by another code being used (at the same moment),
    rather than by the number's wrong tries running out."""
    ended = attempt.code_ended_at
    return ended is not None and any(a.code_verified_at == ended for a in recent)


def _why_not_valid(attempt: Attempt, recent: list[Attempt]) -> str:
    """Why the code of ``attempt``, which matched, no longer works (the start of a sentence)."""
    if attempt.code_verified_at is not None:
        return "That code was already used"
    if _ended_by_use(attempt, recent):
        return "That code stopped working when another code for this number was used"
    if attempt.code_ended_at is not None:
        return "Too many wrong tries ended that code"
    return "That code has expired"


def _no_longer_valid(attempt: Attempt, recent: list[Attempt], *, valid: bool) -> str:
    if valid:
        return (
            f"{_why_not_valid(attempt, recent)}: ask the customer for the code in the newest SMS."
        )
    return f"{_why_not_valid(attempt, recent)}: send a new one."


def _why_none_valid(recent: list[Attempt]) -> str:
    latest = recent[0]
    if latest.code_verified_at is not None:
        return "The latest code for this number was already used: send a new one."
    if _ended_by_use(latest, recent):
        return "Another code for this number was already used: send a new one."
    if latest.code_ended_at is not None:
        return "Too many wrong tries ended the codes for this number: send a new one."
    return "The latest code for this number has expired: send a new one."


def recent_checks_of_number(e164: str, limit: int = LISTED_CHECKS) -> list[CodeCheck]:
    """The latest checks of a number, newest first (by its digest's index)."""
    return list(
        db.session.scalars(
            select(CodeCheck)
            .options(selectinload(CodeCheck.attempt))  # the list links each to its send
            .where(CodeCheck.phone_digest == phone_digest(e164))
            .order_by(CodeCheck.id.desc())
            .limit(limit)
        )
    )


def checks_of(attempt: Attempt) -> list[CodeCheck]:
    """The checks that refer to ``attempt`` (its code, or it as the latest valid send),
    oldest first."""
    return list(
        db.session.scalars(
            select(CodeCheck).where(CodeCheck.attempt_id == attempt.id).order_by(CodeCheck.id)
        )
    )
