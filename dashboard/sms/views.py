"""Send a code, show an attempt's result, resend it, and check a code a customer reads back."""

from __future__ import annotations

import uuid
from dataclasses import replace

from flask import (
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from ..domain import messages, outcome_words
from ..domain.capabilities import Capability
from ..domain.phone_numbers import InvalidPhoneNumber
from ..domain.statuses import Status
from ..security import requires
from ..services import (
    attention,
    code_checks,
    environments,
    history,
    limits,
    message_templates,
    runtime_settings,
    send_drafts,
    sending,
)
from ..templating import PRODUCT_NAME, countdown
from . import bp
from .forms import CheckCodeForm, CheckSendCodeForm, ResendForm, RevealForm, SendCodeForm


@bp.route("/send", methods=["GET", "POST"])
@requires(Capability.SEND)
def send() -> str | Response:
    current_limits = limits.current()
    templates = message_templates.all_templates()
    editing = runtime_settings.message_editing_allowed()
    draft = None
    if request.method == "GET":  # back from an expired session (security.keep_send_form)
        draft = send_drafts.unseal(request.args.get("draft"), user_id=current_user.id)
    form = SendCodeForm(data=draft.values if draft else None)
    form.country_code.choices = limits.allowed_countries(current_limits)
    form.template.choices = [(t.id, t.name) for t in templates]
    if form.validate_on_submit():
        send_request = sending.SendRequest(
            country_code=form.country_code.data or "",
            phone_number=form.phone_number.data or "",
            reason=form.reason.data or "",
            template=form.message.data,
            template_id=form.template.data,
            idempotency_key=form.idempotency_key.data or "",
        )
        sent = _send(form, send_request)
        if sent is not None:
            return sent
    kept_edit = draft is not None and editing and draft.values["message"]
    if (request.method == "GET" and not kept_edit) or not editing:  # what would go
        form.message.data = (message_templates.find(form.template.data or "") or templates[0]).text
    page = render_template(
        "sms/send.html",
        form=form,
        templates=templates,
        editing=editing,
        limits=current_limits,
        environment=environments.active_environment(),
        draft=draft,
    )
    return _busy(page) if form.busy else page


@bp.route("/attempts/<public_id>")
def attempt(public_id: str) -> str:
    return _attempt_page(_attempt_or_404(public_id))


@bp.route("/attempts/<public_id>/reveal", methods=["POST"])
@requires(Capability.REVEAL_NUMBER)
def reveal(public_id: str) -> str:
    """Show a masked number in full, for a stated reason (audited)."""
    found = _attempt_or_404(public_id)
    form = RevealForm()
    if not form.validate_on_submit():
        return _attempt_page(found, reveal_form=form)
    history.reveal(found, current_user, reason=form.reason.data or "")
    return _attempt_page(_attempt_or_404(public_id), revealed=True)


def _attempt_page(found, *, revealed: bool = False, reveal_form=None) -> str:
    """The result of a send, its first action following the outcome (outcome_words.first_step):
    check the code, wait for the cooldown, ask the customer, resend, or have an admin fix the
    set-up; then its timeline, details and every check that refers to it."""
    check_form = CheckSendCodeForm(formdata=None, attempt=found.public_id)
    return render_template(
        "sms/attempt.html",
        attempt=found,
        number=history.number_for(found, current_user, revealed=revealed),
        masked=not revealed and not history.may_see_full_number(found, current_user),
        reveal_form=reveal_form or RevealForm(formdata=None),
        headline=outcome_words.HEADLINES[found.status],
        explanation=outcome_words.explain(found.response_code, found.status),
        first_step=outcome_words.first_step(
            found.status,
            found.response_code,
            retry_at_known=found.retry_at is not None,
            setup=attention.is_setup_error(found.response_code),
        ),
        retry_at=countdown(found.retry_at),
        check_form=check_form,
        checks=code_checks.checks_of(found),
        outcome_words=code_checks.OUTCOME_WORDS,
        resends=sending.resends_of(found),
        template=message_templates.find(found.template_id) if found.template_id else None,
    )


@bp.route("/attempts/<public_id>/resend", methods=["GET", "POST"])
@requires(Capability.RESEND)
def resend(public_id: str) -> str | Response:
    """Send a new code to an attempt's number, in the words that attempt said
    (sending.wording_of). The page shows the number as the resender may see it, and so does
    the new attempt (history.may_see_number_of)."""
    original = _attempt_or_404(public_id)
    editing = runtime_settings.message_editing_allowed()
    form = ResendForm()
    send_request = sending.SendRequest(
        country_code=original.country_code,
        phone_number=original.national_number,
        reason=form.reason.data or "",
        template=form.message.data,
        idempotency_key=form.idempotency_key.data or "",
        resend_of=original,
    )
    if form.validate_on_submit():
        sent = _send(form, send_request)
        if sent is not None:
            return sent
    if request.method == "GET" or not editing:  # show what would go, not what was posted
        try:
            form.message.data = sending.wording_of(replace(send_request, template=None)).text
        except sending.SendError as error:  # said before the resender writes a reason
            form.message.data = messages.unmasked(original.message_masked)
            form.message.errors = [str(error)]
    page = render_template(
        "sms/resend.html",
        form=form,
        original=original,
        editing=editing,
        number=history.number_for(original, current_user),
        explanation=outcome_words.explain(original.response_code, original.status),
    )
    return _busy(page) if form.busy else page


@bp.route("/check", methods=["GET", "POST"])
@requires(Capability.CHECK_CODE)
def check() -> str:
    """Check a code a customer reads out: of the number typed, or of the number of the send
    named by ``attempt`` (from its result page), which stays on the server and is shown as
    the viewer may see it. Either way any valid code of the number counts (code_checks)."""
    public_id = request.values.get("attempt")
    if public_id:
        return _check_send(_attempt_or_404(public_id))
    form = CheckCodeForm()
    form.country_code.choices = limits.allowed_countries(limits.current())
    result = None
    if form.validate_on_submit():
        try:
            result = code_checks.check_code(
                current_user,
                form.country_code.data or "",
                form.phone_number.data or "",
                form.code.data or "",
            )
        except InvalidPhoneNumber as error:
            getattr(form, error.field).errors = [str(error)]
        form.code.data = ""  # the next press checks what is typed next, not this again
    return _check_page(form, result, e164=result.e164 if result else None)


def _check_send(found) -> str:  # noqa: ANN001  # an Attempt, as _attempt_or_404 finds it
    form = CheckSendCodeForm()
    result = None
    if form.validate_on_submit():
        result = code_checks.check_code_of(current_user, found, form.code.data or "")
        form.code.data = ""
    form.attempt.data = found.public_id
    return _check_page(
        form,
        result,
        e164=found.phone_e164,
        attempt=found,
        number=history.number_for(found, current_user),
    )


def _check_page(
    form: CheckCodeForm | CheckSendCodeForm,
    result: code_checks.CheckResult | None,
    *,
    e164: str | None,
    attempt=None,  # noqa: ANN001  # the send the page was opened from
    number: str | None = None,
) -> str:
    """The check page: the form, the result, and the latest checks of the number."""
    return render_template(
        "sms/check.html",
        form=form,
        result=result,
        attempt=attempt,
        number=number,
        checks=code_checks.recent_checks_of_number(e164) if e164 else [],
        outcome_words=code_checks.OUTCOME_WORDS,
    )


def _send(
    form: SendCodeForm | ResendForm, send_request: sending.SendRequest
) -> Response | str | None:
    """Send and return where to go: the attempt's page, or a page with the provider's answer
    when it could not be recorded. Return None with the error on the field it concerns, or
    with ``form.busy`` set when the database could not record the attempt (nothing was sent:
    the same form, key included, may go again)."""
    try:
        sent = sending.send_verification_code(
            current_user, send_request, client_ip=request.remote_addr
        )
    except sending.SendError as error:
        field = getattr(form, error.field, None) or form.reason
        field.errors = [str(error)]
        if error.field == "idempotency_key":
            form.idempotency_key.data = str(uuid.uuid4())  # corrected, it is a new send
        return None
    except sending.DatabaseBusy as error:
        form.busy = str(error)
        return None
    except sending.OutcomeNotRecorded as lost:
        return _unrecorded_page(lost)
    return redirect(url_for("sms.attempt", public_id=sent.public_id))


def _unrecorded_page(lost: sending.OutcomeNotRecorded) -> str:
    """What RevenueMonster answered, since the attempt's record will not say it. Rendered
    without the context processors, whose navigation reads the signed-in user again: the
    database that refused the outcome may be gone altogether, and this page must still show."""
    outcome = lost.outcome
    return current_app.jinja_env.get_template("sms/unrecorded.html").render(
        product_name=PRODUCT_NAME,
        lost=lost,
        outcome=outcome,
        message=getattr(outcome, "message", None),
        headline=outcome_words.HEADLINES[Status(outcome.status)],
        explanation=outcome_words.explain(outcome.code, outcome.status),
        unrecorded=outcome_words.UNRECORDED,
    )


def _busy(page: str) -> Response:
    """The form again, with the database's refusal: 503, to be tried again shortly."""
    return make_response(page, 503, {"Retry-After": "5"})


def _attempt_or_404(public_id: str):
    found = sending.find_by_public_id(public_id)
    if found is None:
        abort(404)
    return found
