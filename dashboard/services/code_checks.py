"""Checking a code a customer reads back against the latest code sent to their number."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..database import write_transaction
from ..domain import codes, statuses
from ..domain.phone_numbers import parse_mobile_number
from ..encryption import derived_key
from ..extensions import db
from ..models import Attempt, User, utcnow
from . import audit

MAX_WRONG_TRIES = 5
#: Attempts whose code may have reached the customer.


@dataclass(frozen=True)
class CheckResult:
    matched: bool
    message: str
    attempt: Attempt | None = None


def check_code(user: User, country_code: str, phone_number: str, code: str) -> CheckResult:
    """Compare ``code`` with the latest unexpired code sent to the number. A code matches once;
    after 5 wrong tries it is finished. The outcome is kept on the attempt and audited.
    Raises ``InvalidPhoneNumber`` for a number that cannot be a mobile."""
    number = parse_mobile_number(country_code, phone_number)
    code = code.strip()
    with write_transaction(audit.CHAIN_LOCK, f"phone:{number.e164}"):
        attempt = db.session.scalar(
            select(Attempt)
            .where(
                Attempt.phone_e164 == number.e164,
                Attempt.status.in_(statuses.MAY_HAVE_SENT),
                Attempt.code_hash.is_not(None),
            )
            .order_by(Attempt.id.desc())
            .limit(1)
        )
        result = _judge(attempt, code)
        audit.record(
            "code.check",
            user,
            target=attempt.public_id if attempt is not None else number.e164[:-4] + "••••",
            matched=result.matched,
            result=result.message,
        )
    return result


def _judge(attempt: Attempt | None, code: str) -> CheckResult:
    now = utcnow()
    if attempt is None:
        return CheckResult(False, "No code was sent to this number.")
    if attempt.code_verified_at is not None:
        return CheckResult(
            False, "The latest code for this number was already used. Send a new one.", attempt
        )
    if attempt.code_expires_at is None or attempt.code_expires_at <= now:
        return CheckResult(
            False, "The latest code for this number has expired. Send a new one.", attempt
        )
    if attempt.code_failed_checks >= MAX_WRONG_TRIES:
        return CheckResult(
            False, "Too many wrong tries for the latest code. Send a new one.", attempt
        )
    if codes.code_matches(
        code,
        attempt.code_hash or "",
        attempt_public_id=attempt.public_id,
        key=derived_key(codes.HASH_KEY_PURPOSE),
    ):
        attempt.code_verified_at = now
        return CheckResult(True, "The code is right: the customer has this phone.", attempt)
    attempt.code_failed_checks += 1
    left = MAX_WRONG_TRIES - attempt.code_failed_checks
    if left == 0:
        return CheckResult(
            False, "The code is wrong. That was the last try: send a new code.", attempt
        )
    return CheckResult(
        False,
        f"The code is wrong. {left} more tr{'ies' if left != 1 else 'y'} for this code.",
        attempt,
    )
