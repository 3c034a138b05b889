"""What each outcome means and what to do next, in words a support agent can act on.

Every code is shown as it is beside these words, so nothing is hidden behind a translation.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.statuses import Status


@dataclass(frozen=True)
class Explanation:
    meaning: str
    next_step: str


CHECK_SETUP = "Tell an admin that the RevenueMonster set-up needs fixing; resending will not help."
WAIT_THEN_RETRY = "Wait a few minutes, then send again."

#: RevenueMonster codes an SMS send can plausibly return (its API reference, SMS section).
PROVIDER = {
    "SUCCESS": Explanation(
        "It does not report delivery.",
        "If the customer gets nothing within a few minutes, send again.",
    ),
    "SMS_FAIL": Explanation("RevenueMonster could not send the SMS.", WAIT_THEN_RETRY),
    "TAC_LIMIT": Explanation(
        "RevenueMonster's limit of codes for this number has been reached.",
        "Ask the customer to wait, or use another way to verify them.",
    ),
    "TAC_SENT": Explanation(
        "RevenueMonster says a code was just sent to this number.",
        "Ask the customer to check their messages before sending again.",
    ),
    "SPAM": Explanation(
        "RevenueMonster flagged this send as suspicious and did not send it.",
        "Do not retry; tell an admin if you believe the request is genuine.",
    ),
    "EXCEEDED_LIMIT": Explanation("RevenueMonster's rate limit was exceeded.", WAIT_THEN_RETRY),
    "TOO_MANY_REQUEST_PER_SECOND": Explanation(
        "Too many requests reached RevenueMonster at once.", "Wait a moment, then send again."
    ),
    "VERIFICATION_CODE_REACH_DAILY_LIMIT": Explanation(
        "RevenueMonster's daily limit of verification codes has been reached.",
        "Try again tomorrow, or use another way to verify the customer.",
    ),
    "INVALID_PARAMETER": Explanation(
        "RevenueMonster refused the number or the message as invalid.",
        "Check the number with the customer; if it is right, tell an admin.",
    ),
    "VALIDATION_ERROR": Explanation(
        "RevenueMonster refused the number or the message as invalid.",
        "Check the number with the customer; if it is right, tell an admin.",
    ),
    "CLIENT_NO_PERMISSION": Explanation(
        "The RevenueMonster application may not send SMS.", CHECK_SETUP
    ),
    "CLIENT_PRODUCT_NOT_SETUP": Explanation(
        "SMS is not set up for the RevenueMonster application.", CHECK_SETUP
    ),
    "SUBSCRIPTION_NOT_ACTIVE": Explanation(
        "The RevenueMonster SMS subscription is not active.", CHECK_SETUP
    ),
    "NOT_SUBSCRIBE": Explanation("The merchant is not subscribed to SMS.", CHECK_SETUP),
    "INSUFFICIENT_MERCHANT_BALANCE": Explanation(
        "The RevenueMonster account has no credit left for SMS.", CHECK_SETUP
    ),
    "INVALID_REQUEST_SIGNATURE": Explanation(
        "RevenueMonster did not accept the request's signature: the private key stored here "
        "does not match the public key registered with RevenueMonster.",
        CHECK_SETUP,
    ),
    "INVALID_TIMESTAMP": Explanation(
        "RevenueMonster refused the request's time: this server's clock may be wrong.",
        CHECK_SETUP,
    ),
    "TOKEN_EXPIRED": Explanation(
        "RevenueMonster refused the access token even after it was renewed.", CHECK_SETUP
    ),
    "TOKEN_INVALID": Explanation(
        "RevenueMonster refused the access token even after it was renewed.", CHECK_SETUP
    ),
    "UNAUTHORIZED": Explanation("RevenueMonster refused the credentials.", CHECK_SETUP),
    "INVALID_CLIENT": Explanation(
        "RevenueMonster does not know the client ID and secret stored here.", CHECK_SETUP
    ),
    "CLIENT_INVALID": Explanation(
        "RevenueMonster does not know the client ID and secret stored here.", CHECK_SETUP
    ),
    "GRANT_TYPE_INVALID": Explanation("RevenueMonster refused the token request.", CHECK_SETUP),
    "INVALID_SCOPE": Explanation("RevenueMonster refused the token request.", CHECK_SETUP),
    "INVALID_REQUEST": Explanation("RevenueMonster refused the request as malformed.", CHECK_SETUP),
    "DUPLICATE_REQUEST": Explanation(
        "RevenueMonster saw this request twice and refused the second.", WAIT_THEN_RETRY
    ),
}

#: The next step of an outcome whose headline says already that the SMS may have been sent,
#: or that nothing was (HEADLINES): not said twice.
MAYBE_SENT = "Ask the customer whether the SMS arrived before you send another code."
NOTHING_SENT_RETRY = "Try again in a minute, and tell an admin if it happens again."

#: The dashboard's own codes: transport failures, unknown outcomes, and its limits.
DASHBOARD = {
    "NO_CREDENTIALS": Explanation(
        "No RevenueMonster credentials are set up for this environment.", CHECK_SETUP
    ),
    "CONFIGURATION_ERROR": Explanation(
        "The stored RevenueMonster credentials could not be read.", CHECK_SETUP
    ),
    "DATABASE_ERROR": Explanation(
        "The dashboard's database failed before RevenueMonster was called.", NOTHING_SENT_RETRY
    ),
    "CONNECTION_REFUSED": Explanation("RevenueMonster could not be reached.", NOTHING_SENT_RETRY),
    "CONNECT_TIMEOUT": Explanation(
        "RevenueMonster did not answer the connection.", NOTHING_SENT_RETRY
    ),
    "CONNECTION_ERROR": Explanation("RevenueMonster could not be reached.", NOTHING_SENT_RETRY),
    "DNS_ERROR": Explanation("RevenueMonster's address could not be found.", NOTHING_SENT_RETRY),
    "TLS_ERROR": Explanation("A secure connection to RevenueMonster failed.", NOTHING_SENT_RETRY),
    "TOKEN_UNAVAILABLE": Explanation("No access token could be obtained.", NOTHING_SENT_RETRY),
    "UNEXPECTED_REDIRECT": Explanation(
        "RevenueMonster's address answered with a redirect: the configured URL is wrong.",
        CHECK_SETUP,
    ),
    "DEADLINE_EXCEEDED": Explanation(
        "RevenueMonster was too slow; the send ran out of time.", NOTHING_SENT_RETRY
    ),
    "READ_TIMEOUT": Explanation("RevenueMonster did not answer in time.", MAYBE_SENT),
    "CONNECTION_DROPPED": Explanation("The connection broke before an answer came.", MAYBE_SENT),
    "MALFORMED_RESPONSE": Explanation(
        "RevenueMonster's answer could not be understood.", MAYBE_SENT
    ),
    "INTERNAL_ERROR": Explanation("The dashboard failed while sending.", MAYBE_SENT),
    "NO_OUTCOME": Explanation(
        "The send was interrupted before its outcome was recorded.", MAYBE_SENT
    ),
    "SENDING_PAUSED": Explanation(
        "An admin paused sending.", "Wait until an admin resumes sending."
    ),
    "COUNTRY_NOT_ALLOWED": Explanation(
        "Codes may not be sent to this country.", "Ask an admin if this country should be allowed."
    ),
    "LIMIT_COOLDOWN": Explanation(
        "Two sends to one number must be a little apart, so that their codes do not cross.",
        "Ask the customer to wait for the code already on its way; send again after the time "
        "shown.",
    ),
    "LIMIT_NUMBER_HOUR": Explanation(
        "This number has had as many codes this hour as its hourly limit allows.",
        "Send again after the time shown.",
    ),
    "LIMIT_NUMBER_DAY": Explanation(
        "This number has had as many codes today as its daily limit allows.",
        "Send again after the time shown.",
    ),
    "LIMIT_USER_HOUR": Explanation(
        "You have sent as many codes this hour as your own hourly limit allows.",
        "Send again after the time shown, or ask a colleague to send this one.",
    ),
    "LIMIT_USER_DAY": Explanation(
        "You have sent as many codes today as your own daily limit allows.",
        "Send again after the time shown, or ask a colleague to send this one.",
    ),
}


#: What each status means, whatever the code.
HEADLINES = {
    Status.ACCEPTED: "RevenueMonster accepted the SMS for sending.",
    Status.REJECTED: "RevenueMonster refused the SMS; nothing was sent.",
    Status.FAILED: "The request never reached RevenueMonster; nothing was sent.",
    Status.UNKNOWN: "No valid answer came back: the SMS may have been sent.",
    Status.PENDING: "The request to RevenueMonster is still in progress.",
    Status.BLOCKED: "The dashboard's limits stopped this send; RevenueMonster was not called.",
}


def explain(code: str | None, status: str) -> Explanation:
    """Words for an attempt's code; a generic text by status for a code not listed."""
    if code in PROVIDER:
        return PROVIDER[code]
    if code in DASHBOARD:
        return DASHBOARD[code]
    if code and code.startswith("HTTP_5"):
        return Explanation("RevenueMonster had a server error.", MAYBE_SENT)
    if code and code.startswith("HTTP_3"):
        return Explanation(
            "RevenueMonster's address answered with a redirect, which is not followed, so the "
            "configured URL may be wrong.",
            MAYBE_SENT,
        )
    # The headline says what the status means: these add what it does not.
    if status == Status.UNKNOWN:
        return Explanation("RevenueMonster's answer was missing or could not be read.", MAYBE_SENT)
    if status == Status.REJECTED:
        return Explanation(
            "RevenueMonster gave a code this dashboard does not know.",
            "Tell an admin the response code before you send again.",
        )
    if status == Status.FAILED:
        return Explanation("The dashboard could not reach RevenueMonster.", NOTHING_SENT_RETRY)
    if status == Status.PENDING:
        return Explanation("It has not answered yet.", "Reload the page in a moment.")
    return Explanation("The outcome is not recorded yet.", "Reload the page in a moment.")


#: When the provider answered but the dashboard's database refused to record the answer, even
#: after a few tries: the page says what RevenueMonster said, and what the record will say.
UNRECORDED = Explanation(
    "The dashboard's database refused to record this answer, so the history shows this send "
    "as Pending, then Unknown within a few minutes, and never this answer.",
    "Rely on this page for this send, and tell whoever runs the dashboard if it happens again.",
)

#: When the attempt could not even be recorded (the database busy or unreachable).
DATABASE_BUSY = (
    "The dashboard's database is busy or unreachable, so nothing was recorded and nothing "
    "was sent: try again in a moment."
)


@dataclass(frozen=True)
class FirstStep:
    """What a result page offers first, after the outcome: ``kind`` is stable, for the
    template and tests ("check", "wait", "ask", "admin", "wait_answer", "resend"); ``words``
    is the sentence that introduces it (for "wait", the time follows it)."""

    kind: str
    words: str


FIRST_STEPS = {
    "check": FirstStep("check", "Ask the customer to read out the code, and check it here."),
    "wait": FirstStep("wait", "The next send to this number is allowed from"),
    # The sender's own caps (LIMIT_USER_*): the wait is theirs, not the number's.
    "wait_yours": FirstStep("wait", "Your next send is allowed from"),
    "ask": FirstStep(
        "ask",
        "Ask the customer whether the SMS arrived first: if it did, check its code here; "
        "if not, resend.",
    ),
    "admin": FirstStep(
        "admin",
        "An admin must fix the RevenueMonster set-up before codes can go out, so there is no "
        "point resending.",
    ),
    "wait_answer": FirstStep("wait_answer", "Reload this page in a moment for the outcome."),
    "resend": FirstStep("resend", ""),
}


def first_step(
    status: str, code: str | None = None, *, retry_at_known: bool, setup: bool
) -> FirstStep:
    """The first action of the result page of an attempt with ``status`` and response
    ``code``: ``retry_at_known`` when the limits said from when the next send may go,
    ``setup`` when its code is one only an admin can fix (services.attention.is_setup_error)."""
    if setup:
        return FIRST_STEPS["admin"]
    if status == Status.ACCEPTED:
        return FIRST_STEPS["check"]
    if status == Status.UNKNOWN:
        return FIRST_STEPS["ask"]
    if status == Status.PENDING:
        return FIRST_STEPS["wait_answer"]
    if status == Status.BLOCKED and retry_at_known:
        yours = bool(code and code.startswith("LIMIT_USER_"))
        return FIRST_STEPS["wait_yours" if yours else "wait"]
    return FIRST_STEPS["resend"]
