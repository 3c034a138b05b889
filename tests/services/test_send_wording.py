"""The words of every outcome (issue 17, wording pass): one sentence each, nothing said twice
on a result page, RevenueMonster named as such, the right subject for each limit, and a
first action that follows the outcome."""

from __future__ import annotations

import re

import pytest

from dashboard.domain import outcome_words
from dashboard.domain.outcome_words import DASHBOARD, HEADLINES, PROVIDER, explain, first_step
from dashboard.domain.statuses import Status
from dashboard.revenuemonster.outcomes import NOT_SENT_CODES, UNKNOWN_CODES
from dashboard.services import code_checks

SENTENCE_INSIDE = re.compile(r"[.!?] [A-Z]")

#: The status each listed code comes with.
STATUS_OF = {
    **{code: Status.REJECTED for code in PROVIDER},
    "SUCCESS": Status.ACCEPTED,
    **{code: Status.FAILED for code in NOT_SENT_CODES},
    **{code: Status.UNKNOWN for code in UNKNOWN_CODES | {"INTERNAL_ERROR", "NO_OUTCOME"}},
    **{code: Status.BLOCKED for code in DASHBOARD if code.startswith(("LIMIT_", "SENDING_"))},
    "COUNTRY_NOT_ALLOWED": Status.BLOCKED,
    "CONFIGURATION_ERROR": Status.FAILED,
    "DATABASE_ERROR": Status.FAILED,
}
PAGES = (
    sorted(STATUS_OF.items())
    + [(None, status) for status in Status]
    + [("HTTP_502", Status.UNKNOWN), ("HTTP_302", Status.UNKNOWN), ("NEW_CODE", Status.REJECTED)]
)


@pytest.mark.parametrize(("code", "status"), PAGES)
def test_each_outcome_says_each_thing_once_in_one_sentence_each(code, status):
    explanation = explain(code, status)
    parts = [HEADLINES[status], explanation.meaning, explanation.next_step]
    for part in parts:
        assert not SENTENCE_INSIDE.search(part), part
        assert "127.0.0.1" not in part and "localhost" not in part
    page = " ".join(parts).lower()
    for said in ("may have been sent", "nothing was sent", "tell an admin", "the code is right"):
        assert page.count(said) <= 1, (code, said)


def test_the_limits_name_their_subject():
    assert DASHBOARD["LIMIT_NUMBER_HOUR"].meaning.startswith("This number has had")
    assert DASHBOARD["LIMIT_NUMBER_DAY"].meaning.startswith("This number has had")
    assert DASHBOARD["LIMIT_USER_HOUR"].meaning.startswith("You have sent")
    assert "your own hourly limit" in DASHBOARD["LIMIT_USER_HOUR"].meaning
    cooldown = first_step(Status.BLOCKED, "LIMIT_COOLDOWN", retry_at_known=True, setup=False)
    yours = first_step(Status.BLOCKED, "LIMIT_USER_HOUR", retry_at_known=True, setup=False)
    assert cooldown.words == "The next send to this number is allowed from"
    assert yours.words == "Your next send is allowed from"


@pytest.mark.parametrize(
    ("status", "code", "setup", "kind"),
    [
        (Status.ACCEPTED, "SUCCESS", False, "check"),
        (Status.BLOCKED, "LIMIT_COOLDOWN", False, "wait"),
        (Status.BLOCKED, "SENDING_PAUSED", False, "resend"),
        (Status.UNKNOWN, "READ_TIMEOUT", False, "ask"),
        (Status.REJECTED, "INVALID_REQUEST_SIGNATURE", True, "admin"),
        (Status.FAILED, "NO_CREDENTIALS", True, "admin"),
        (Status.FAILED, "CONNECTION_REFUSED", False, "resend"),
        (Status.PENDING, None, False, "wait_answer"),
    ],
)
def test_the_first_action_follows_the_outcome(status, code, setup, kind):
    retry = code is not None and code.startswith("LIMIT_")
    assert first_step(status, code, retry_at_known=retry, setup=setup).kind == kind


def test_the_setup_codes_are_those_an_admin_must_fix():
    """services.attention finds them by this next step: one place for the rule."""
    assert PROVIDER["INVALID_REQUEST_SIGNATURE"].next_step == outcome_words.CHECK_SETUP
    assert DASHBOARD["NO_CREDENTIALS"].next_step == outcome_words.CHECK_SETUP
    assert DASHBOARD["CONNECTION_REFUSED"].next_step != outcome_words.CHECK_SETUP


def test_every_check_outcome_has_words_for_lists_and_exports():
    from dashboard.models import CHECK_OUTCOMES

    assert set(code_checks.OUTCOME_WORDS) == set(CHECK_OUTCOMES)
    assert set(code_checks.REFERS_TO) <= set(CHECK_OUTCOMES)
