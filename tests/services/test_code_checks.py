"""Checking codes the way a call goes (issue 17; services.code_checks), on both databases:
any valid code of the number is right and ends the others, wrong tries count per number,
and every check is recorded with neither the code typed nor the number in clear."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import uuid
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select, text

from dashboard.domain import messages
from dashboard.encryption import derived_key
from dashboard.extensions import db
from dashboard.models import Attempt, CodeCheck, User, utcnow
from dashboard.services import code_checks, limits, sending

NUMBER = "016-387 7652"
E164 = "+60163877652"


@pytest.fixture
def agent(app, make_user, sandbox) -> int:
    """A support agent's id, with no cooldown between sends to one number."""
    user_id = make_user("agent@example.com", "support")
    with app.app_context():
        limits.save(dataclasses.replace(limits.current(), cooldown_seconds=0), "test")
    return user_id


def send(app, simulator, sandbox, user_id: int, number: str = NUMBER) -> tuple[str, str]:
    """Send a code to ``number``; its attempt's public id and the code the customer got."""
    with app.app_context():
        request = sending.SendRequest(
            country_code="60",
            phone_number=number,
            reason="Ticket 17",
            template=messages.DEFAULT_TEMPLATE,
            idempotency_key=str(uuid.uuid4()),
        )
        attempt = sending.send_verification_code(
            db.session.get(User, user_id), request, client_ip=None
        )
        assert attempt.status == "accepted"
        public_id = attempt.public_id
    text_sent = [m for m in simulator.simulator.inbox if m["client_id"] == sandbox][-1]["message"]
    return public_id, re.search(r"\b\d{6}\b", text_sent).group(0)


def check(app, user_id: int, code: str, number: str = NUMBER) -> tuple[str, str, str | None]:
    """Check ``code`` for ``number``: the outcome, the message and the send it refers to."""
    with app.app_context():
        result = code_checks.check_code(db.session.get(User, user_id), "60", number, code)
        return result.outcome, result.message, result.attempt and result.attempt.public_id


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def codes_of(app, public_id: str) -> tuple[bool, bool, int]:
    """Whether the attempt's code was used, whether it was ended, and its wrong tries."""
    with app.app_context():
        attempt = db.session.scalar(select(Attempt).where(Attempt.public_id == public_id))
        return (
            attempt.code_verified_at is not None,
            attempt.code_ended_at is not None,
            attempt.code_failed_checks,
        )


def test_OTP4_the_first_code_after_a_resend_is_right_says_which_send_and_ends_the_later(
    app, simulator, sandbox, agent
):
    first, first_code = send(app, simulator, sandbox, agent)
    second, second_code = send(app, simulator, sandbox, agent)
    if first_code == second_code:
        pytest.skip("both sends drew the same code (one chance in a million)")
    outcome, message, refers = check(app, agent, first_code)
    assert (outcome, refers) == ("right", first)
    assert message == (
        "The customer has this phone; the other codes sent to this number no longer work."
    )
    assert codes_of(app, first) == (True, False, 0)
    assert codes_of(app, second) == (False, True, 0)
    # Neither works again, and saying so is no wrong try.
    assert check(app, agent, second_code) == (
        "earlier",
        "That code stopped working when another code for this number was used: send a new one.",
        second,
    )
    assert check(app, agent, first_code)[:2] == (
        "earlier",
        "That code was already used: send a new one.",
    )
    assert codes_of(app, second) == (False, True, 0)


def test_OTP5_wrong_tries_count_per_number_and_a_resend_does_not_reset_them(
    app, simulator, sandbox, agent
):
    first, first_code = send(app, simulator, sandbox, agent)
    for left in (4, 3, 2):
        assert check(app, agent, wrong(first_code))[:2] == (
            "wrong",
            f"The code is wrong: {left} more tries for this number.",
        )
    second, second_code = send(app, simulator, sandbox, agent)
    bad = next(c for c in (wrong(first_code), wrong(wrong(first_code))) if c != second_code)
    outcome, message, refers = check(app, agent, bad)
    assert (outcome, message, refers) == (
        "wrong",
        "The code is wrong: 1 more try for this number.",
        second,  # the latest valid send
    )
    assert check(app, agent, bad)[:2] == (
        "last_try",
        "The code is wrong and that was the last try: send a new code.",
    )
    # Both codes ended on the number's fifth wrong try, the new one after only two of its own.
    assert codes_of(app, first) == (False, True, 5)
    assert codes_of(app, second) == (False, True, 2)
    for code in (first_code, second_code):
        assert check(app, agent, code)[:2] == (
            "earlier",
            "Too many wrong tries ended that code: send a new one.",
        )
    assert check(app, agent, "000000")[:2] == (
        "none_valid",
        "Too many wrong tries ended the codes for this number: send a new one.",
    )


def test_OTP5_a_send_after_the_tries_ran_out_starts_afresh(app, simulator, sandbox, agent):
    _, first_code = send(app, simulator, sandbox, agent)
    for _ in range(5):
        check(app, agent, wrong(first_code))
    third, code = send(app, simulator, sandbox, agent)
    bad = wrong(code) if wrong(code) != first_code else wrong(wrong(code))
    assert check(app, agent, bad)[:2] == (
        "wrong",
        "The code is wrong: 4 more tries for this number.",
    )
    assert check(app, agent, code) == ("right", "The customer has this phone.", third)


def test_OTP5_wrong_tries_made_before_a_code_was_sent_stop_counting_once_older_codes_expire(
    app, simulator, sandbox, agent
):
    with freeze_time(utcnow()) as clock:
        first, first_code = send(app, simulator, sandbox, agent)
        for _ in range(4):
            check(app, agent, wrong(first_code))
        clock.tick(timedelta(minutes=5))
        second, second_code = send(app, simulator, sandbox, agent)
        bad = wrong(second_code) if wrong(second_code) != first_code else wrong(first_code)
        # While the first code is valid, the number's count goes on: this is its fifth.
        clock.tick(timedelta(minutes=5, seconds=1))  # the first code has expired now
        assert check(app, agent, bad)[:2] == (
            "wrong",
            "The code is wrong: 4 more tries for this number.",
        )
        assert codes_of(app, second) == (False, False, 1)
        assert check(app, agent, second_code)[:2] == ("right", "The customer has this phone.")


def test_OTP3_an_expired_code_is_said_to_be_one_and_is_no_wrong_try(app, simulator, sandbox, agent):
    with freeze_time(utcnow()) as clock:
        first, code = send(app, simulator, sandbox, agent)
        clock.tick(timedelta(minutes=10, seconds=1))
        assert check(app, agent, code) == (
            "earlier",
            "That code has expired: send a new one.",
            first,
        )
        assert check(app, agent, wrong(code))[:2] == (
            "none_valid",
            "The latest code for this number has expired: send a new one.",
        )
        assert codes_of(app, first) == (False, False, 0)
        # An expired code read out while a newer one is valid: ask for the newest SMS.
        second, _ = send(app, simulator, sandbox, agent)
        assert check(app, agent, code)[:2] == (
            "earlier",
            "That code has expired: ask the customer for the code in the newest SMS.",
        )
        assert codes_of(app, second) == (False, False, 0)


def test_a_number_nothing_was_sent_to(app, agent):
    assert check(app, agent, "123456", number="017-123 4567") == (
        "none_sent",
        "No code was sent to this number.",
        None,
    )


def test_OTP2_every_check_is_recorded_with_a_keyed_digest_never_the_code_or_the_number(
    app, simulator, sandbox, agent
):
    first, code = send(app, simulator, sandbox, agent)
    typed_wrong = wrong(code)
    check(app, agent, typed_wrong)
    check(app, agent, code)
    check(app, agent, "424242", number="017-123 4567")  # a number typed by mistake
    with app.app_context():
        rows = db.session.scalars(select(CodeCheck).order_by(CodeCheck.id)).all()
        first_id = db.session.scalar(select(Attempt.id).where(Attempt.public_id == first))
        key = derived_key(code_checks.DIGEST_KEY_PURPOSE)
        assert [(r.outcome, r.matched, r.attempt_id, r.user_id) for r in rows] == [
            ("wrong", False, first_id, agent),
            ("right", True, first_id, agent),
            ("none_sent", False, None, agent),
        ]
        expected = hmac.new(key, E164.encode(), hashlib.sha256).hexdigest()
        assert rows[0].phone_digest == rows[1].phone_digest == expected
        assert rows[2].phone_digest != hashlib.sha256(b"+60171234567").hexdigest()
        dump = "\n".join(
            repr(row)
            for table in ("code_checks", "audit_events")
            for row in db.session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        )
    for secret in (code, typed_wrong, "424242", "171234567", "163877652"):
        assert secret not in dump, secret


def test_the_checks_of_a_number_and_of_a_send_are_listed(app, simulator, sandbox, agent):
    first, first_code = send(app, simulator, sandbox, agent)
    second, second_code = send(app, simulator, sandbox, agent)
    if first_code == second_code:
        pytest.skip("both sends drew the same code")
    bad = next(c for c in ("000000", "000001", "000002") if c not in (first_code, second_code))
    check(app, agent, bad)
    check(app, agent, first_code)
    with app.app_context():
        listed = code_checks.recent_checks_of_number(E164)
        assert [(c.outcome, c.attempt.public_id) for c in listed] == [
            ("right", first),
            ("wrong", second),
        ]
        attempt = db.session.scalar(select(Attempt).where(Attempt.public_id == first))
        assert [c.outcome for c in code_checks.checks_of(attempt)] == ["right"]
        assert code_checks.recent_checks_of_number("+60171234567") == []
