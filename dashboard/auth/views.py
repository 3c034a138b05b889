"""Sign-in (password, then the second step where it is on), sign-out, password change,
two-step enrolment, and confirming one's identity again before a sensitive change. Single
sign-on's own routes are in :mod:`.single_sign_on`; its sessions end here too (at the
provider as well, where it offers that).

Every form here that takes a password or a code is throttled per account (services.sign_in)
and, per client address, by a request-rate limit (:data:`rate_limited`)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from ..extensions import limiter
from ..forms import ButtonForm
from ..models import User
from ..security import (
    change_named,
    end_session,
    fresh_sign_in_required,
    mark_fresh,
    restart_session,
    safe_next,
    start_session,
)
from ..services import sign_in, single_sign_on, two_step, users
from . import bp
from .forms import (
    ChangePasswordForm,
    ReauthenticateForm,
    SecondStepForm,
    SignInForm,
    TwoStepSetupForm,
)

#: How long the second step may follow the first.
SECOND_STEP_SECONDS = 5 * 60
WRONG = "The email or the password is wrong."
EXPIRED = (
    "This one-time password has expired. Ask an admin for a new one; then choose your own "
    "password when you sign in with it."
)
#: The session's mark of the two-step set-up it started (services.two_step.enrolment_marker).
ENROLMENT = "two_step_enrolment"

#: Requests one client address may send to each of these forms: an office behind one NAT
#: address signs in through it, so it is generous; failures are what the per-account
#: throttle counts. Per worker with the default memory:// storage (RATELIMIT_STORAGE_URI).
SIGN_IN_RATE = "30 per minute"
TOO_FAST = (
    "Too many sign-in attempts came from your network address in the last minute. "
    "Wait a minute, then try again."
)
rate_limited = limiter.limit(SIGN_IN_RATE, methods=["POST"], error_message=TOO_FAST)
PASSWORDS_OFF = "Signing in with a password is turned off here: use “Sign in with single sign-on”."


@bp.route("/login", methods=["GET", "POST"])
@rate_limited
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))  # a draft's way back, too
    form = SignInForm()
    if not current_app.config["PASSWORD_SIGN_IN"]:
        # DASHBOARD_PASSWORD_SIGN_IN=off: the form is not shown, and a password posted anyway
        # is not even looked at.
        refused = request.method == "POST"
        if refused:
            flash(PASSWORDS_OFF, "danger")
        return render_template("auth/login.html", form=form, **_sign_in_choices()), (
            403 if refused else 200
        )
    if form.validate_on_submit():
        outcome = sign_in.check_password(
            form.email.data or "", form.password.data or "", request.remote_addr
        )
        if outcome.user is not None and outcome.user.two_step_enabled:
            session.clear()
            session["second_step"] = {"user": outcome.user.get_id(), "at": time.time()}
            return redirect(url_for("auth.second_step", next=request.args.get("next")))
        if outcome.user is not None:
            return signed_in(outcome.user)
        form.password.errors = [_refusal(outcome)]
    return render_template("auth/login.html", form=form, **_sign_in_choices())


def _sign_in_choices() -> dict[str, object]:
    """What the sign-in page offers besides what it always has."""
    return {
        "password_sign_in": current_app.config["PASSWORD_SIGN_IN"],
        "single_sign_on": single_sign_on.configured(),
        "single_sign_on_form": ButtonForm(),
    }


@bp.route("/login/two-step", methods=["GET", "POST"])
@rate_limited
def second_step() -> str | Response:
    pending = session.get("second_step")
    if not pending or time.time() - pending["at"] > SECOND_STEP_SECONDS:
        session.pop("second_step", None)
        flash("Sign in again: the second step took too long.", "info")
        return redirect(url_for("auth.login"))
    user_id, _, version = pending["user"].partition(":")
    form = SecondStepForm()
    if form.validate_on_submit():
        user = users.get(int(user_id))
        if user is None or user.session_version != version:
            abort(400)
        hint = pending.get(single_sign_on.SIGNED_IN_WITH)  # after single sign-on
        outcome = sign_in.check_second_step(
            user.id,
            form.code.data or "",
            request.remote_addr,
            first_step="single_sign_on" if isinstance(hint, str) else "password",
        )
        if outcome.user is not None:
            return signed_in(outcome.user, logout_hint=hint if isinstance(hint, str) else None)
        form.code.errors = [
            _refusal(outcome, wrong="That code is not right, or it was already used.")
        ]
    return render_template("auth/second_step.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """End the session here; after a single sign-on, send the browser to end it at the
    provider too (when it offers that), which sends it back to the sign-in page."""
    logout_hint = session.get(single_sign_on.SIGNED_IN_WITH)
    users.sign_out(current_user)
    end_session()
    flash("You are signed out.", "info")
    if isinstance(logout_hint, str):
        at_provider = single_sign_on.end_session_url(
            logout_hint, url_for("auth.login", _external=True)
        )
        if at_provider is not None:
            return redirect(at_provider)
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET"])
def account() -> str:
    return render_template("auth/account.html", sign_out_everywhere_form=ButtonForm())


@bp.route("/account/sign-out-everywhere", methods=["POST"])
def sign_out_everywhere() -> Response:
    if ButtonForm().validate_on_submit():
        users.sign_out_everywhere(current_user, current_user)
    end_session()
    flash("You are signed out on every device.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@rate_limited
def change_password() -> str | Response:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        checked = sign_in.check_current_password(
            current_user, form.current_password.data or "", request.remote_addr
        )
        if checked.user is None:
            form.current_password.errors = [
                _refusal(checked, wrong="That is not your current password.")
            ]
        else:
            try:
                users.change_password(current_user, form.new_password.data or "")
            except users.UserError as error:
                form.new_password.errors = [str(error)]
            else:
                restart_session(users.reload(current_user))
                flash("Your password is changed. Your other sessions were signed out.", "success")
                return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/account/two-step", methods=["GET", "POST"])
@fresh_sign_in_required("turn on two-step sign-in", back="auth.two_step_setup")
def two_step_setup() -> str | Response:
    """Enrolment: "Start" stores a new secret (a POST), then the QR code and a code to confirm,
    both for the session that started it only."""
    user: User = current_user
    if user.totp_enabled:
        return render_template("auth/two_step_on.html")
    form = TwoStepSetupForm()
    if form.validate_on_submit():
        try:
            recovery_codes = users.confirm_two_step(
                user, form.code.data or "", marker=session.get(ENROLMENT, "")
            )
        except users.UserError as error:
            form.code.errors = [str(error)]
        else:
            # Every other session was ended; this one starts again, with two steps behind it.
            restart_session(users.reload(user))
            return render_template("auth/recovery_codes.html", recovery_codes=recovery_codes)
    secret = two_step.pending_secret(user, session.get(ENROLMENT))
    return render_template(
        "auth/two_step_setup.html",
        form=form,
        start_form=ButtonForm(),
        secret=secret,
        started_elsewhere=secret is None and two_step.enrolment_pending(user),
        started_elsewhere_message=two_step.STARTED_ELSEWHERE,
        required=users.two_step_required(user),
    )


@bp.route("/account/two-step/start", methods=["POST"])
@fresh_sign_in_required("set up two-step sign-in", back="auth.two_step_setup")
def two_step_start() -> Response:
    if ButtonForm().validate_on_submit():
        try:
            secret = users.begin_two_step(current_user)
        except users.UserError as error:
            flash(str(error), "info")
        else:
            session[ENROLMENT] = two_step.enrolment_marker(current_user, secret)
    return redirect(url_for("auth.two_step_setup"))


@bp.route("/account/two-step/qr.svg")
def two_step_qr() -> Response:
    """The enrolment QR code, drawn on our origin (the secret never goes to a third party),
    for the session that started the set-up only."""
    user: User = current_user
    secret = two_step.pending_secret(user, session.get(ENROLMENT))
    if secret is None:
        abort(404)
    svg = two_step.qr_svg(two_step.provisioning_uri(user, secret))
    return Response(svg, mimetype="image/svg+xml")


@bp.route("/account/confirm", methods=["GET", "POST"])
@rate_limited
def reauthenticate() -> str | Response:
    """Ask for the password (and second step) again before a sensitive change, named by the
    endpoint in ``change``; then go back to ``next``, the page the change is made on."""
    change = change_named(request.args.get("change"))
    back = safe_next(request.args.get("next"))
    form = ReauthenticateForm()
    if form.validate_on_submit():
        # The same checks as signing in: throttled, audited, the second step where it is on.
        address = request.remote_addr
        outcome = sign_in.check_password(current_user.email, form.password.data or "", address)
        if outcome.user is not None and outcome.user.two_step_enabled:
            outcome = sign_in.check_second_step(outcome.user.id, form.code.data or "", address)
        if outcome.user is not None:
            mark_fresh()
            flash(f"Confirmed. You can {change or 'make the change'} now.", "success")
            return redirect(back)
        form.password.errors = [_refusal(outcome, wrong="The password or the code is wrong.")]
    return render_template("auth/reauthenticate.html", form=form, change=change, back=back)


def signed_in(user: User, *, back: str | None = None, logout_hint: str | None = None) -> Response:
    """Start ``user``'s session (``logout_hint``: as security.start_session) and go on to
    ``back`` (else this request's ``next``)."""
    start_session(user, logout_hint=logout_hint)
    if user.must_change_password:
        flash("Choose your own password before you continue.", "info")
        return redirect(url_for("auth.change_password"))
    return redirect(safe_next(back or request.args.get("next")))


_signed_in = signed_in  # its former name (the passkey sign-in may use it)


def _refusal(outcome: sign_in.Outcome, *, wrong: str = WRONG) -> str:
    if outcome.passkey_required:
        return sign_in.PASSKEY_REQUIRED
    if outcome.expired:
        return EXPIRED
    if outcome.locked_until is None:
        return wrong
    minutes = max(1, round((outcome.locked_until.timestamp() - time.time()) / 60))
    return (
        f"Too many failed sign-ins. Sign-in is paused for {minutes} minute"
        f"{'s' if minutes != 1 else ''}; try again after "
        f"{minute_after(outcome.locked_until).strftime('%H:%M')} UTC."
    )


def minute_after(moment: datetime) -> datetime:
    """The first whole minute at or after ``moment`` (a time to retry must not be too early)."""
    return (moment + timedelta(minutes=1, microseconds=-1)).replace(second=0, microsecond=0)
