"""Single sign-on with OpenID Connect (issue 19): the routes. The button on the sign-in page
posts to :func:`sso_start` (a form with a CSRF token, rate limited like the other sign-in
forms), which sends the browser to the identity provider; the provider sends it back to
:func:`sso_callback`. The rules are services.single_sign_on's."""

from __future__ import annotations

import time

from flask import abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from ..forms import ButtonForm
from ..security import local_path
from ..services import single_sign_on
from . import bp
from .views import rate_limited, signed_in


@bp.route("/login/sso", methods=["POST"])
@rate_limited
def sso_start() -> Response | tuple[str, int]:
    if not single_sign_on.configured():
        abort(404)
    if not ButtonForm().validate_on_submit():  # CSRFProtect refused a bad token already
        abort(400)
    session[single_sign_on.NEXT] = local_path(request.args.get("next"))
    try:
        return single_sign_on.authorization_redirect(url_for("auth.sso_callback", _external=True))
    except single_sign_on.Refusal as refusal:
        return refused(refusal)


@bp.route("/login/sso/callback", methods=["GET"])
def sso_callback() -> Response | tuple[str, int]:
    """Where the provider sends the browser back, with a code (or an error) and the state."""
    if not single_sign_on.configured():
        abort(404)
    back = session.pop(single_sign_on.NEXT, None)
    try:
        admission = single_sign_on.complete()
    except single_sign_on.Refusal as refusal:
        return refused(refusal)
    user = admission.user
    if admission.second_step:
        # As after a password (views.login): the second step finishes the sign-in.
        session.clear()
        session["second_step"] = {
            "user": user.get_id(),
            "at": time.time(),
            single_sign_on.SIGNED_IN_WITH: admission.logout_hint,
        }
        return redirect(url_for("auth.second_step", next=back))
    return signed_in(user, back=back, logout_hint=admission.logout_hint)


def refused(refusal: single_sign_on.Refusal) -> tuple[str, int]:
    return render_template("auth/sso_refused.html", refusal=refusal), refusal.status
