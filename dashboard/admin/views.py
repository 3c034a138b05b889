"""Admin pages: the users (create, role, disable, password, two-step, sessions) and settings."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from ..auth.forms import ButtonForm
from ..database import write_transaction
from ..models import User
from ..security import fresh_sign_in_required, roles_required
from ..services import audit, runtime_settings, users
from . import bp
from .forms import CreateUserForm, RoleForm, SettingsForm


@bp.route("/")
@roles_required("admin")
def index() -> Response:
    return redirect(url_for("admin.users_list"))


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users_list() -> str | Response:
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            user, one_time = users.create_user(
                form.email.data or "", form.role.data or "", current_user, name=form.name.data or ""
            )
        except users.UserError as error:
            form.email.errors = [str(error)]
        else:
            # Shown once, on this answer only: never stored, never in a redirect or a cookie.
            return render_template("admin/one_time_password.html", user=user, password=one_time)
    return render_template("admin/users.html", form=form, users=users.all_users())


@bp.route("/users/<int:user_id>")
@roles_required("admin")
def user_detail(user_id: int) -> str:
    user = _user_or_404(user_id)
    return render_template(
        "admin/user.html", user=user, role_form=RoleForm(role=user.role), button=ButtonForm()
    )


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@roles_required("admin")
@fresh_sign_in_required
def change_role(user_id: int) -> Response:
    user = _user_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        _attempt(
            lambda: users.set_role(user, form.role.data or "", current_user),
            f"{user.email} is now {form.role.data}.",
        )
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@roles_required("admin")
@fresh_sign_in_required
def disable(user_id: int) -> Response:
    return _button(
        user_id,
        lambda user: users.set_active(user, False, current_user),
        "{email} is disabled and signed out everywhere.",
    )


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@roles_required("admin")
@fresh_sign_in_required
def enable(user_id: int) -> Response:
    return _button(
        user_id,
        lambda user: users.set_active(user, True, current_user),
        "{email} may sign in again.",
    )


@bp.route("/users/<int:user_id>/reset-two-step", methods=["POST"])
@roles_required("admin")
@fresh_sign_in_required
def reset_two_step(user_id: int) -> Response:
    return _button(
        user_id,
        lambda user: users.reset_two_step(user, current_user),
        "{email} sets up two-step sign-in again at the next sign-in.",
    )


@bp.route("/users/<int:user_id>/sign-out", methods=["POST"])
@roles_required("admin")
def sign_out_everywhere(user_id: int) -> Response:
    return _button(
        user_id,
        lambda user: users.sign_out_everywhere(user, current_user),
        "{email} is signed out on every device.",
    )


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@roles_required("admin")
@fresh_sign_in_required
def reset_password(user_id: int) -> str | Response:
    user = _user_or_404(user_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    one_time = users.reset_password(user, current_user)
    return render_template("admin/one_time_password.html", user=user, password=one_time)


@bp.route("/settings", methods=["GET", "POST"])
@roles_required("admin")
def settings() -> str | Response:
    key = runtime_settings.TWO_STEP_FOR_EVERYONE
    form = SettingsForm(two_step_for_everyone=runtime_settings.get(key, False))
    if form.validate_on_submit():
        return _save_settings(bool(form.two_step_for_everyone.data))
    return render_template("admin/settings.html", form=form)


@fresh_sign_in_required
def _save_settings(two_step_for_everyone: bool) -> Response:
    key = runtime_settings.TWO_STEP_FOR_EVERYONE
    with write_transaction(audit.CHAIN_LOCK, key):
        old = runtime_settings.put(key, two_step_for_everyone, current_user)
        audit.record("setting.change", current_user, target=key, old=old, new=two_step_for_everyone)
    flash("Settings saved.", "success")
    return redirect(url_for("admin.settings"))


def _user_or_404(user_id: int) -> User:
    user = users.get(user_id)
    if user is None:
        abort(404)
    return user


def _button(user_id, change, done: str) -> Response:  # type: ignore[no-untyped-def]
    user = _user_or_404(user_id)
    if ButtonForm().validate_on_submit():
        _attempt(lambda: change(user), done.format(email=user.email))
    return redirect(url_for("admin.user_detail", user_id=user_id))


def _attempt(change, done: str) -> None:  # type: ignore[no-untyped-def]
    try:
        change()
    except users.UserError as error:
        flash(str(error), "danger")
    else:
        flash(done, "success")
