"""Passkeys (WebAuthn): adding and removing one's own (after a fresh sign-in), and using one
to sign in without a password, as the second step, or to confirm it is you.

The ceremonies are JSON exchanges with static/js/passkeys.js: the page asks for options, the
browser's authenticator answers them, the answer is posted back; every POST carries the CSRF
token (header ``X-CSRFToken``). Answers are ``{"redirect": url}`` or, refused,
``{"message": text}`` with status 400: never a 500, whatever is posted."""

from __future__ import annotations

import time
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from ..forms import ButtonForm
from ..models import User
from ..security import (
    PUBLIC_ENDPOINTS,
    SETUP_ENDPOINTS,
    fresh_sign_in_required,
    mark_fresh,
    safe_next,
    start_session,
)
from ..services import passkeys, sign_in, single_sign_on, two_step, users
from . import bp
from .views import SECOND_STEP_SECONDS, rate_limited

#: What an admin who must use a passkey and has none may still reach (besides SETUP_ENDPOINTS).
ADD_A_PASSKEY_ENDPOINTS = frozenset(
    {"auth.passkeys", "auth.passkey_add_options", "auth.passkey_add", "auth.passkey_options"}
)
SIGNED_IN_ELSEWHERE = "Sign in again: the second step took too long."


@bp.get("/account/passkeys", endpoint="passkeys")
def passkeys_page() -> str:
    return render_template(
        "auth/passkeys.html",
        required=_must_add_a_passkey(current_user),
        remove_form=ButtonForm(),
    )


@bp.post("/account/passkeys/options")
@fresh_sign_in_required("add a passkey", back="auth.passkeys")
def passkey_add_options() -> tuple[Response, int] | Response:
    body = _body()
    try:
        options = passkeys.registration_options(current_user, str(body.get("name") or ""))
    except passkeys.PasskeyError as error:
        return _refused(str(error))
    return _options(options)


@bp.post("/account/passkeys/add")
@fresh_sign_in_required("add a passkey", back="auth.passkeys")
def passkey_add() -> tuple[Response, int] | Response:
    try:
        added = passkeys.add(current_user, _body().get("credential"))
    except passkeys.PasskeyError as error:
        return _refused(str(error))
    flash(f"The passkey “{added.name}” is added. You can sign in with it now.", "success")
    return jsonify(redirect=url_for("auth.passkeys"))


@bp.post("/account/passkeys/remove")
@fresh_sign_in_required("remove a passkey", back="auth.passkeys")
def passkey_remove() -> Response:
    """Remove the passkey named by the form's ``passkey`` (an id of one's own passkeys)."""
    chosen = request.form.get("passkey", "")
    if ButtonForm().validate_on_submit():
        try:
            if not chosen.isdigit() or len(chosen) > 19:
                raise passkeys.PasskeyError(passkeys.NOT_YOURS)
            name = passkeys.remove(current_user, int(chosen), current_user)
        except passkeys.PasskeyError as error:
            flash(str(error), "danger")
        else:
            flash(f"The passkey “{name}” is removed: it no longer signs in.", "success")
    return redirect(url_for("auth.passkeys"))


@bp.post("/passkeys/options")
@rate_limited
def passkey_options() -> tuple[Response, int] | Response:
    """Options for using a passkey: ``{"purpose": "sign_in"}`` (anyone),
    ``"second_step"`` (after the right password) or ``"confirm"`` (signed in)."""
    purpose = str(_body().get("purpose") or "")
    user: User | None = None
    if purpose == "second_step":
        user = _pending_user()
        if user is None:
            return _refused(SIGNED_IN_ELSEWHERE)
    elif purpose == "confirm":
        if not current_user.is_authenticated:
            return _refused(passkeys.EXPIRED)
        user = current_user
    elif purpose != "sign_in":
        return _refused(passkeys.REFUSED)
    try:
        return _options(passkeys.authentication_options(purpose, user))
    except passkeys.PasskeyError as error:
        return _refused(str(error))


@bp.post("/login/passkey")
@rate_limited
def passkey_sign_in() -> tuple[Response, int] | Response:
    """Signing in with a discoverable passkey and user verification: both factors at once."""
    body = _body()
    outcome = sign_in.check_passkey("sign_in", body.get("credential"), request.remote_addr)
    return _finish(outcome, body)


@bp.post("/login/two-step/passkey")
@rate_limited
def passkey_second_step() -> tuple[Response, int] | Response:
    """A passkey instead of the TOTP code, after the right password (``session["second_step"]``,
    as auth.views.second_step)."""
    user = _pending_user()
    if user is None:
        session.pop("second_step", None)
        return _refused(SIGNED_IN_ELSEWHERE)
    hint = session["second_step"].get(single_sign_on.SIGNED_IN_WITH)  # after single sign-on
    body = _body()
    after_sso = isinstance(hint, str)
    outcome = sign_in.check_passkey(
        "second_step",
        body.get("credential"),
        request.remote_addr,
        user_id=user.id,
        first_step="single_sign_on" if after_sso else "password",
    )
    return _finish(outcome, body, logout_hint=hint if after_sso else None)


@bp.post("/account/confirm/passkey")
@rate_limited
def passkey_confirm() -> tuple[Response, int] | Response:
    """Confirming it is you with a passkey (user verification required), as the password and
    code of auth.views.reauthenticate do; then back to ``next``."""
    body = _body()
    outcome = sign_in.check_passkey(
        "confirm", body.get("credential"), request.remote_addr, user_id=current_user.id
    )
    if outcome.user is None:
        return _refused(_refusal(outcome))
    mark_fresh()
    flash("Confirmed. You can make the change now.", "success")
    return jsonify(redirect=safe_next(str(body.get("next") or "")))


@bp.before_app_request
def send_admins_to_add_a_passkey() -> Response | None:
    """The policy "admins must use a passkey": an admin without one reaches nothing but the
    page to add one (and what setting up an account needs), like the two-step rule."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS | SETUP_ENDPOINTS | ADD_A_PASSKEY_ENDPOINTS:
        return None
    if current_user.is_authenticated and _must_add_a_passkey(current_user):
        flash("Admins must use a passkey: add one to continue.", "info")
        return redirect(url_for("auth.passkeys"))
    return None


@bp.app_context_processor
def passkey_pages() -> dict[str, Any]:
    """What the second-step page shows: "Use a passkey" when the account signing in has one,
    the code form unless a passkey is required (or the account has no authenticator app)."""

    def second_step_choices() -> dict[str, bool]:
        user = _pending_user()
        if user is None:
            return {"passkey": False, "code": True, "passkey_required": False}
        required = two_step.passkey_required(user) and bool(user.passkeys)
        return {
            "passkey": bool(user.passkeys),
            "code": user.totp_enabled and not required,
            "passkey_required": required,
        }

    return {"second_step_choices": second_step_choices}


def _must_add_a_passkey(user: Any) -> bool:
    return bool(user.is_authenticated and two_step.passkey_required(user) and not user.passkeys)


def _pending_user() -> User | None:
    """The account whose password was right and whose second step is awaited, if still in time
    (the same session data and limit as auth.views.second_step)."""
    pending = session.get("second_step")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > SECOND_STEP_SECONDS:
        return None
    user_id, _, version = str(pending.get("user", "")).partition(":")
    user = users.get(int(user_id)) if user_id.isdigit() else None
    if user is None or user.session_version != version or not user.active:
        return None
    return user


def _finish(
    outcome: sign_in.Outcome, body: dict[str, Any], *, logout_hint: str | None = None
) -> tuple[Response, int] | Response:
    """The end of a successful sign-in, as auth.views' own: a brand-new session, then the
    password change a one-time password asks for, or the page asked for."""
    if outcome.user is None:
        return _refused(_refusal(outcome))
    start_session(outcome.user, logout_hint=logout_hint)
    if outcome.user.must_change_password:
        flash("Choose your own password before you continue.", "info")
        return jsonify(redirect=url_for("auth.change_password"))
    return jsonify(redirect=safe_next(str(body.get("next") or "")))


def _refusal(outcome: sign_in.Outcome) -> str:
    if outcome.locked_until is not None:
        return "Too many failed sign-ins: sign-in is paused for a while. Try again later."
    return outcome.message or passkeys.REFUSED


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _options(options_json: str) -> Response:
    return Response(options_json, mimetype="application/json")


def _refused(message: str) -> tuple[Response, int]:
    return jsonify(message=message), 400
