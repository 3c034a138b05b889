"""Sign-in, sign-out and password change views."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from ..services import users
from ..services.passwords import verify_password
from . import bp
from .forms import ChangePasswordForm, SignInForm


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = SignInForm()
    if form.validate_on_submit():
        user = users.authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            session.clear()  # a new session at sign-in: nothing from before carries over
            login_user(user)
            if user.must_change_password:
                flash("Choose your own password before you continue.", "info")
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors = ["The email or the password is wrong."]
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    users.sign_out(current_user)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> str | Response:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data or ""):
            form.current_password.errors = ["That is not your current password."]
        else:
            try:
                users.change_password(current_user, form.new_password.data or "")
            except users.UserError as error:
                form.new_password.errors = [str(error)]
            else:
                session.clear()
                login_user(users.find_by_email(current_user.email))
                flash("Your password is changed. Other sessions were signed out.", "success")
                return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form)


def _safe_next(target: str | None) -> str:
    """Only a path on this site; anything else goes to the start page."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and "\\" not in target:
            return target
    return url_for("main.index")
