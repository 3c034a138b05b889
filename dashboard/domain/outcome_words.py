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


CHECK_SETUP = "Tell an admin: the RevenueMonster set-up needs attention. Do not keep retrying."
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
        "Do not retry. Tell an admin if you believe it is a genuine request.",
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

MAYBE_SENT = (
    "The SMS may have been sent: ask the customer whether a code arrived before you send another."
)
NOTHING_SENT_RETRY = "Nothing was sent. Try again in a minute; if it happens again, tell an admin."

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
        "A code was sent to this number moments ago.",
        "Ask the customer to wait for it; send again after the time shown.",
    ),
    "LIMIT_NUMBER_HOUR": Explanation(
        "This number has had as many codes as allowed in an hour.",
        "Send again after the time shown.",
    ),
    "LIMIT_NUMBER_DAY": Explanation(
        "This number has had as many codes as allowed in a day.", "Send again after the time shown."
    ),
    "LIMIT_USER_HOUR": Explanation(
        "You have sent as many codes as allowed in an hour.", "Send again after the time shown."
    ),
    "LIMIT_USER_DAY": Explanation(
        "You have sent as many codes as allowed in a day.", "Send again after the time shown."
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
            "RevenueMonster's address answered the SMS request with a redirect, which is not "
            "followed: the configured URL may be wrong. Tell an admin.",
            MAYBE_SENT,
        )
    if status == Status.UNKNOWN:
        return Explanation("No valid answer came back: the SMS may have been sent.", MAYBE_SENT)
    if status == Status.REJECTED:
        return Explanation("RevenueMonster refused the SMS; nothing was sent.", CHECK_SETUP)
    if status == Status.FAILED:
        return Explanation("The request never reached RevenueMonster.", NOTHING_SENT_RETRY)
    if status == Status.PENDING:
        return Explanation("The request to RevenueMonster is still in progress.", "Wait a moment.")
    return Explanation("The outcome is not recorded yet.", "Reload the page in a moment.")


#: When the provider answered but the dashboard's database refused to record the answer, even
#: after a few tries: the page says what RevenueMonster said, and what the record will say.
UNRECORDED = Explanation(
    "The dashboard could not record this answer: its database refused the write. The "
    "attempt's record says Pending for now, then Unknown once interrupted sends are "
    "reconciled (within a few minutes of the send); it will not show this answer.",
    "Rely on what this page says about this send, not on the history. If it happens again, "
    "tell whoever runs the dashboard.",
)

#: When the attempt could not even be recorded (the database busy or unreachable).
DATABASE_BUSY = (
    "The dashboard's database is busy or unreachable, so nothing was recorded and nothing "
    "was sent. Try again in a moment."
)
