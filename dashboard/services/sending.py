"""Sending a verification code: record the attempt, call the provider, record the outcome."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from .. import metrics
from ..database import end_read_transaction, write_transaction
from ..domain import codes, messages, outcome_words
from ..domain.phone_numbers import MobileNumber, parse_mobile_number
from ..domain.statuses import Status
from ..domain.text import has_visible_text
from ..encryption import derived_key
from ..extensions import db
from ..models import Attempt, User, utcnow
from ..revenuemonster import SmsOutcome
from . import environments, history, limits, message_templates, provider_client

log = logging.getLogger(__name__)
MAX_REASON_LENGTH = 200


class SendError(ValueError):
    """The form cannot be sent as it is; ``field`` names the input to correct."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class DatabaseBusy(Exception):
    """The attempt could not be recorded (the database locked or unreachable): nothing was
    recorded and nothing was sent, so the same form may simply be sent again."""

    def __init__(self) -> None:
        super().__init__(outcome_words.DATABASE_BUSY)


class OutcomeNotRecorded(Exception):
    """RevenueMonster answered ``outcome`` but the answer could not be written, even after a
    few tries: the attempt stays ``pending`` until reconciled into ``unknown``. Raised so that
    the page can show the answer, which exists nowhere else (the log aside)."""

    def __init__(self, public_id: str, environment: str, outcome: SmsOutcome) -> None:
        super().__init__(f"the outcome of attempt {public_id} could not be recorded")
        self.public_id = public_id
        self.environment = environment
        self.outcome = outcome


@dataclass(frozen=True)
class Sent:
    """What became of a send: its attempt's public id and status, as recorded. Plain values,
    not the attempt's row: reading a committed row again would cost a query the page that
    follows (the attempt's own) makes anyway."""

    public_id: str
    status: Status


@dataclass(frozen=True)
class _Pending:
    """The attempt as recorded before the provider is called (read inside its transaction)."""

    attempt_id: int
    public_id: str
    environment: str
    status: Status
    created: bool  # False: an earlier submit of the same form (idempotency key)
    response_code: str | None = None  # why a limit blocked it


@dataclass(frozen=True)
class SendRequest:
    country_code: str
    phone_number: str
    reason: str
    # The text the sender asks for, {code} where the code goes: taken only while admins let
    # senders edit, and checked; otherwise the approved template's text goes (message_templates).
    template: str | None
    idempotency_key: str
    # The approved template; None: the default one. A resend says what its original said.
    template_id: str | None = None
    resend_of: Attempt | None = None  # the attempt this one repeats (and whose words it says)


def send_verification_code(user: User, request: SendRequest, *, client_ip: str | None) -> Sent:
    """Send a new code for ``request`` and return what became of it, whatever the outcome.

    The limits are checked and the attempt committed as ``pending`` in one transaction before
    the provider is called, so concurrent sends cannot pass a cap and the attempt survives a
    timeout or a dying process; the outcome is recorded in a second one. A send the limits
    refuse is recorded as ``blocked``. A repeated idempotency key returns the first attempt
    and sends nothing. Raises :class:`SendError` when the input is wrong and
    :class:`DatabaseBusy` when the attempt cannot be recorded (then nothing is recorded or
    sent), :class:`OutcomeNotRecorded` when the provider's answer cannot be.

    What goes is an approved template's text, or a checked edit of it, never the request's
    text as such (message_templates.wording_for_send, wording_for_resend); the attempt records
    that text, code masked, with the template and whether it was edited. A resend shows the
    number to its sender only if the attempt it repeats did (history.may_see_number_of):
    repeating a send is no way to unmask a number.

    Lean by design (issue 18): what the request already read (the sender, the original of a
    resend, the provider's client for the active environment) is read before the write
    transaction and not again inside it, the code's hash goes into the INSERT itself, and the
    outcome is one UPDATE, so SQLite's write lock is held for the limit check and the INSERT
    only.
    """
    number, reason, wording = _validated(request)
    code = codes.generate_code()
    sender = _Sender(user.id, user.role)
    original = request.resend_of
    resend = (
        (original.id, history.may_see_number_of(original, user)) if original is not None else None
    )
    prepared = provider_client.prepare(environments.active_environment())
    try:
        pending = _record_pending(sender, request, number, reason, wording, code, client_ip, resend)
    except OperationalError as error:
        log.warning("sending.not_recorded", exc_info=True)
        raise DatabaseBusy() from error
    if pending.created and pending.status == Status.BLOCKED:
        metrics.send_finished(pending.environment, pending.status, pending.response_code, None)
    if not pending.created or pending.status == Status.BLOCKED:
        return Sent(pending.public_id, pending.status)  # a replay (never send twice), or refused
    if prepared.environment != pending.environment:  # an admin switched it meanwhile
        prepared = provider_client.prepare(pending.environment)
    outcome, version, latency_ms = provider_client.send_sms(
        prepared, number, messages.render(wording.text, code)
    )
    # Counted as RevenueMonster answered, even if writing it down fails below.
    metrics.send_finished(pending.environment, outcome.status, outcome.code, latency_ms / 1000)
    try:
        _record_outcome(pending, outcome, version, latency_ms)
    except OperationalError:
        log.error(
            "sending.outcome_not_recorded",
            extra={"attempt": pending.public_id, "status": outcome.status, "code": outcome.code},
            exc_info=True,
        )
        raise OutcomeNotRecorded(pending.public_id, pending.environment, outcome) from None
    return Sent(pending.public_id, Status(outcome.status))


@dataclass(frozen=True)
class _Sender:
    """Who sends: read from the signed-in user before the write transaction, which would
    otherwise load the user's row again (ending the request's read transaction expires it)."""

    id: int
    role: str


#: A pending attempt older than this lost its process mid-call (it can run for at most the send
#: budget): its outcome is unknown.
STALE_AFTER = timedelta(seconds=provider_client.SEND_BUDGET_SECONDS + 60)


#: How often, at most, a web process looks for interrupted attempts while serving pages.
RECONCILE_EVERY = timedelta(minutes=1)


def reconcile_now_and_then() -> None:
    """Reconcile from a page view, at most once a minute per app: history is read many times
    a second, and an interrupted attempt only needs to turn ``unknown`` soon after it goes
    stale, not at every read."""
    now = utcnow()
    state = current_app.extensions.setdefault("dashboard.reconcile", {"next": now})
    if now < state["next"]:
        return
    state["next"] = now + RECONCILE_EVERY
    reconcile_stale_attempts()


def reconcile_stale_attempts() -> int:
    """Turn pending attempts too old to still be running into ``unknown``; return how many.
    Never sends anything: whether the SMS left is unknowable, so staff must ask the customer."""
    cutoff = utcnow() - STALE_AFTER
    stale = select(Attempt.id).where(Attempt.status == Status.PENDING, Attempt.created_at < cutoff)
    if db.session.scalar(stale.limit(1)) is None:
        end_read_transaction()
        return 0
    with write_transaction():
        result = db.session.execute(
            update(Attempt)
            .where(Attempt.status == Status.PENDING, Attempt.created_at < cutoff)
            .values(
                status=Status.UNKNOWN,
                response_code="NO_OUTCOME",
                response_message="The process sending it stopped before RevenueMonster's "
                "answer was recorded.",
                finished_at=utcnow(),
            )
        )
    count = result.rowcount or 0  # type: ignore[attr-defined]
    log.warning("sending.reconciled", extra={"attempts": count})
    return count


def find_by_public_id(public_id: str) -> Attempt | None:
    return db.session.scalar(select(Attempt).where(Attempt.public_id == public_id))


def resends_of(attempt: Attempt) -> list[Attempt]:
    """The attempts that repeat ``attempt``, oldest first."""
    return list(
        db.session.scalars(
            select(Attempt).where(Attempt.resend_of_id == attempt.id).order_by(Attempt.id)
        )
    )


def wording_of(request: SendRequest) -> message_templates.Wording:
    """What ``request`` would say; raises :class:`SendError` on the field to correct."""
    original = request.resend_of
    try:
        if original is None:
            return message_templates.wording_for_send(request.template_id, request.template)
        return message_templates.wording_for_resend(
            original.template_id, messages.unmasked(original.message_masked), request.template
        )
    except message_templates.TemplateGone as error:
        raise SendError(str(error), field="template" if original is None else "message") from None
    except messages.InvalidTemplate as error:
        raise SendError(str(error), field="message") from None


def _validated(request: SendRequest) -> tuple[MobileNumber, str, message_templates.Wording]:
    try:
        number = parse_mobile_number(request.country_code, request.phone_number)
    except ValueError as error:
        raise SendError(str(error), field=getattr(error, "field", "phone_number")) from None
    wording = wording_of(request)
    reason = request.reason.strip()
    if not has_visible_text(reason):
        raise SendError("Say why the code is sent (a ticket number, for example).", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise SendError(f"Keep the reason under {MAX_REASON_LENGTH} characters.", field="reason")
    return number, reason, wording


def _record_pending(
    sender: _Sender,
    request: SendRequest,
    number: MobileNumber,
    reason: str,
    wording: message_templates.Wording,
    code: str,
    client_ip: str | None,
    resend: tuple[int, bool] | None,
) -> _Pending:
    """Insert the attempt, ``pending`` or ``blocked`` by a limit, or find the earlier attempt
    with the same idempotency key; ``resend`` is the original's id and whether its number
    shows to the sender."""
    locks = (f"phone:{number.e164}", f"user:{sender.id}", f"idempotency:{request.idempotency_key}")
    with write_transaction(*locks):
        existing = db.session.scalar(
            select(Attempt).where(Attempt.idempotency_key == request.idempotency_key)
        )
        if existing is not None:
            _check_same_send(existing, sender, number, wording.text)
            return _Pending(
                existing.id,
                existing.public_id,
                existing.environment,
                Status(existing.status),
                created=False,
            )
        environment = environments.active_environment()
        refusal = limits.refusal_for(sender.id, number.e164, limits.current())
        now = utcnow()
        public_id = str(uuid.uuid4())  # here, not by the column's default: the hash needs it
        attempt = Attempt(
            public_id=public_id,
            created_at=now,
            user_id=sender.id,
            environment=environment,
            country_code=number.country_code,
            national_number=number.national_number,
            phone_e164=number.e164,
            phone_reversed=number.reversed_digits,
            message_masked=messages.masked(wording.text),
            template_id=wording.template.id,
            message_edited=wording.edited,
            reason=reason,
            status=Status.PENDING,
            idempotency_key=request.idempotency_key,
            resend_of_id=resend[0] if resend is not None else None,
            number_visible_to_sender=resend is None or resend[1],
            client_ip=client_ip,
        )
        if refusal is None:
            attempt.code_expires_at = now + codes.CODE_LIFETIME
            attempt.code_hash = codes.hash_code(
                code, attempt_public_id=public_id, key=derived_key(codes.HASH_KEY_PURPOSE)
            )
        else:
            attempt.status = Status.BLOCKED
            attempt.response_code = refusal.code
            attempt.response_message = refusal.message
            attempt.retry_at = refusal.retry_at
            attempt.finished_at = now
        db.session.add(attempt)
        db.session.flush()  # the id, for the outcome's UPDATE
        pending = _Pending(
            attempt.id,
            public_id,
            environment,
            Status(attempt.status),
            created=True,
            response_code=attempt.response_code,
        )
    return pending


def _check_same_send(
    existing: Attempt, sender: _Sender, number: MobileNumber, template: str
) -> None:
    """A repeated form key must come with the same send; anything else is a stale form."""
    if (existing.user_id, existing.phone_e164, existing.message_masked) != (
        sender.id,
        number.e164,
        messages.masked(template),
    ):
        raise SendError(
            "This form was already used for another send. Reload the page and try again.",
            field="idempotency_key",
        )


#: Pauses between the tries to record an outcome: a database that refuses a write for a moment
#: (a restart, a lock) must not lose an answer that is known. Three tries, about a second.
OUTCOME_RETRY_PAUSES = (0.25, 0.75)
#: No try starts this long after the first: one that waited out SQLite's busy timeout (10 s)
#: is not repeated, the worker's own timeout is near.
OUTCOME_RETRY_WITHIN = 2.0


def _record_outcome(
    pending: _Pending, outcome: SmsOutcome, version: int | None, latency_ms: int
) -> None:
    """Record the outcome, trying again briefly when the database refuses (OperationalError,
    raised once the tries are spent)."""
    first_try = time.monotonic()
    for pause in OUTCOME_RETRY_PAUSES:
        try:
            return _write_outcome(pending, outcome, version, latency_ms)
        except OperationalError:
            if time.monotonic() + pause - first_try > OUTCOME_RETRY_WITHIN:
                raise
            log.warning(
                "sending.outcome_retry", extra={"attempt_id": pending.attempt_id}, exc_info=True
            )
            time.sleep(pause)
    return _write_outcome(pending, outcome, version, latency_ms)


def _write_outcome(
    pending: _Pending, outcome: SmsOutcome, version: int | None, latency_ms: int
) -> None:
    """One UPDATE of the pending row, by its id: nothing is read back."""
    now = utcnow()
    answered = outcome.http_status is not None
    with write_transaction():
        result = db.session.execute(
            update(Attempt)
            .where(Attempt.id == pending.attempt_id)
            .values(
                provider_version=version,
                status=Status(outcome.status),
                response_code=outcome.code,
                response_message=getattr(outcome, "message", None),
                http_status=outcome.http_status,
                response_debug=getattr(outcome, "debug", None),
                provider_answered_at=now if answered else None,
                finished_at=now,
                latency_ms=latency_ms,
            )
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]  # the purge keeps pending ones
            raise LookupError(f"attempt {pending.attempt_id} is gone")
    log.info(
        "sending.finished",
        extra={"attempt": pending.public_id, "status": outcome.status, "latency_ms": latency_ms},
    )
