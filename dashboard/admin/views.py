"""Admin pages: the users (create, role, disable, password, two-step, sessions) and settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import BooleanField

from ..domain.capabilities import Capability
from ..domain.messages import InvalidTemplate
from ..forms import ButtonForm
from ..models import User
from ..security import fresh_sign_in_required, requires
from ..services import limits, message_templates, runtime_settings, users
from . import bp
from .confirmations import USER_ACTIONS, confirmation_page
from .forms import (
    CreateUserForm,
    EditTemplateForm,
    LimitsForm,
    RoleForm,
    SettingsForm,
    TemplateForm,
)


@bp.route("/")
@requires(Capability.MANAGE_USERS)
def index() -> Response:
    return redirect(url_for("admin.users_list"))


@bp.route("/users", methods=["GET", "POST"])
@requires(Capability.MANAGE_USERS)
@fresh_sign_in_required("create a user", back="admin.users_list")
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


@bp.route("/users/<id:user_id>")
@requires(Capability.MANAGE_USERS)
def user_detail(user_id: int) -> str:
    user = _user_or_404(user_id)
    return render_template(
        "admin/user.html", user=user, role_form=RoleForm(role=user.role), button=ButtonForm()
    )


@bp.route("/users/<id:user_id>/role", methods=["POST"])
@requires(Capability.MANAGE_USERS)
@fresh_sign_in_required("change a role", back="admin.user_detail")
def change_role(user_id: int) -> Response:
    user = _user_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        _attempt(
            lambda: users.set_role(user, form.role.data or "", current_user),
            f"{user.email} is now {form.role.data}.",
        )
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.route("/users/<id:user_id>/disable", methods=["GET", "POST"])
@requires(Capability.MANAGE_USERS)
@fresh_sign_in_required("disable a user", back="admin.disable")
def disable(user_id: int) -> str | Response:
    return _button(
        user_id,
        lambda user: users.set_active(user, False, current_user),
        "{email} is disabled and signed out everywhere.",
    )


@bp.route("/users/<id:user_id>/enable", methods=["POST"])
@requires(Capability.MANAGE_USERS)
@fresh_sign_in_required("enable a user", back="admin.user_detail")
def enable(user_id: int) -> str | Response:
    return _button(
        user_id,
        lambda user: users.set_active(user, True, current_user),
        "{email} may sign in again.",
    )


@bp.route("/users/<id:user_id>/reset-two-step", methods=["GET", "POST"])
@requires(Capability.MANAGE_USERS)
@fresh_sign_in_required("reset two-step sign-in", back="admin.reset_two_step")
def reset_two_step(user_id: int) -> str | Response:
    return _button(
        user_id,
        lambda user: users.reset_two_step(user, current_user),
        "Two-step sign-in is off for {email}, who is signed out everywhere.",
    )


@bp.route("/users/<id:user_id>/sign-out", methods=["GET", "POST"])
@requires(Capability.MANAGE_USERS)
@fresh_sign_in_required("sign a user out everywhere", back="admin.sign_out_everywhere")
def sign_out_everywhere(user_id: int) -> str | Response:
    return _button(
        user_id,
        lambda user: users.sign_out_everywhere(user, current_user),
        "{email} is signed out on every device.",
    )


@bp.route("/users/<id:user_id>/reset-password", methods=["GET", "POST"])
@requires(Capability.MANAGE_USERS)
@fresh_sign_in_required("reset a password", back="admin.reset_password")
def reset_password(user_id: int) -> str | Response:
    user = _user_or_404(user_id)
    if request.method == "GET":
        return _confirm_user_action(user)
    if not ButtonForm().validate_on_submit():
        abort(400)
    one_time = users.reset_password(user, current_user)
    return render_template("admin/one_time_password.html", user=user, password=one_time)


@bp.get("/settings")
@requires(Capability.MANAGE_SETTINGS)
def settings() -> str:
    form = PolicySettingsForm(
        two_step_for_everyone=runtime_settings.get(runtime_settings.TWO_STEP_FOR_EVERYONE, False),
        passkeys_for_admins=runtime_settings.passkeys_for_admins(),
        message_editing=runtime_settings.message_editing_allowed(),
    )
    return render_template("admin/settings.html", form=form)


@bp.post("/settings")
@requires(Capability.MANAGE_SETTINGS)
@fresh_sign_in_required("change the settings", back="admin.settings")
def save_settings() -> str | Response:
    form = PolicySettingsForm()
    if not form.validate_on_submit():
        return render_template("admin/settings.html", form=form)
    two_step_for_everyone = bool(form.two_step_for_everyone.data)
    if two_step_for_everyone != runtime_settings.get(runtime_settings.TWO_STEP_FOR_EVERYONE, False):
        runtime_settings.require_two_step_for_everyone(two_step_for_everyone, current_user)
    passkeys_for_admins = bool(form.passkeys_for_admins.data)
    if passkeys_for_admins != runtime_settings.passkeys_for_admins():
        runtime_settings.require_passkeys_for_admins(passkeys_for_admins, current_user)
    message_editing = bool(form.message_editing.data)
    if message_editing != runtime_settings.message_editing_allowed():
        runtime_settings.allow_message_editing(message_editing, current_user)
    flash("Settings saved.", "success")
    return redirect(url_for("admin.settings"))


class PolicySettingsForm(SettingsForm):
    """The settings form with the two-step policy's passkey rule (issue 19; it belongs in
    admin.forms.SettingsForm once that file is free to change)."""

    passkeys_for_admins = BooleanField("Admins must use a passkey")


def _user_or_404(user_id: int) -> User:
    user = users.get(user_id)
    if user is None:
        abort(404)
    return user


def _button(user_id: int, change: Callable[[User], object], done: str) -> str | Response:
    """A user action of the user page: its confirmation page first where it has one
    (confirmations.USER_ACTIONS; GET, which changes nothing), the change on POST."""
    user = _user_or_404(user_id)
    if request.method == "GET":
        return _confirm_user_action(user)
    if ButtonForm().validate_on_submit():
        _attempt(lambda: change(user), done.format(email=user.email))
    return redirect(url_for("admin.user_detail", user_id=user_id))


def _confirm_user_action(user: User) -> str:
    action = USER_ACTIONS[request.endpoint or ""]
    return confirmation_page(
        action.question.format(name=user.display_name),
        action.consequence(user),
        action.button,
        cancel=url_for("admin.user_detail", user_id=user.id),
    )


def _attempt(change: Callable[[], object], done: str) -> None:
    try:
        change()
    except users.UserError as error:
        flash(str(error), "danger")
    else:
        flash(done, "success")


@bp.route("/limits", methods=["GET", "POST"])
@requires(Capability.MANAGE_LIMITS)
@fresh_sign_in_required("change the limits", back="admin.limits_page")
def limits_page() -> str | Response:
    saved = limits.current()
    form = LimitsForm(data={**asdict(saved), "allowed_regions": ", ".join(saved.allowed_regions)})
    if form.validate_on_submit():
        try:
            regions = limits.parse_regions(form.allowed_regions.data or "")
        except limits.UnknownRegion as error:
            form.allowed_regions.errors = [str(error)]
        else:
            new = limits.Limits(
                cooldown_seconds=form.cooldown_seconds.data or 0,
                per_number_per_hour=form.per_number_per_hour.data or 0,
                per_number_per_day=form.per_number_per_day.data or 0,
                per_user_per_hour=form.per_user_per_hour.data or 0,
                per_user_per_day=form.per_user_per_day.data or 0,
                allowed_regions=regions,
                paused=bool(form.paused.data),
                paused_reason=(form.paused_reason.data or "").strip(),
            )
            limits.save(new, current_user)
            flash("Limits saved; sending is paused." if new.paused else "Limits saved.", "success")
            return redirect(url_for("admin.limits_page"))
    return render_template("admin/limits.html", form=form)


@bp.route("/templates", methods=["GET", "POST"])
@requires(Capability.MANAGE_TEMPLATES)
@fresh_sign_in_required("add a template", back="admin.templates_page")
def templates_page() -> str | Response:
    form = TemplateForm()
    if form.validate_on_submit():
        try:
            message_templates.add(form.name.data or "", form.text.data or "", current_user)
        except InvalidTemplate as error:
            form.text.errors = [str(error)]
        else:
            flash(f"Template “{(form.name.data or '').strip()}” added.", "success")
            return redirect(url_for("admin.templates_page"))
    return render_template(
        "admin/templates.html",
        form=form,
        templates=message_templates.all_templates(),
        button=ButtonForm(),
    )


@bp.route("/templates/<template_id>/edit", methods=["GET", "POST"])
@requires(Capability.MANAGE_TEMPLATES)
@fresh_sign_in_required("edit a template", back="admin.edit_template")
def edit_template(template_id: str) -> str | Response:
    template = _template_or_404(template_id)
    form = EditTemplateForm(data={"name": template.name, "text": template.text})
    if form.validate_on_submit():
        try:
            edited = message_templates.edit(
                template_id, form.name.data or "", form.text.data or "", current_user
            )
        except InvalidTemplate as error:
            form.text.errors = [str(error)]
        except message_templates.TemplateGone as error:
            flash(str(error), "danger")
            return redirect(url_for("admin.templates_page"))
        else:
            flash(f"Template “{edited.name}” saved.", "success")
            return redirect(url_for("admin.templates_page"))
    return render_template("admin/template_edit.html", form=form, template=template)


@bp.route("/templates/<template_id>/<action>", methods=["GET", "POST"])
@requires(Capability.MANAGE_TEMPLATES)
@fresh_sign_in_required("change the templates", back="admin.template_action")
def template_action(template_id: str, action: str) -> str | Response:
    """Make a template the default, or remove one (after its confirmation page, on GET)."""
    change = {"remove": message_templates.remove, "default": message_templates.make_default}
    template = _template_or_404(template_id)
    if action not in change:
        abort(404)
    if request.method == "GET":
        if action != "remove":
            return redirect(url_for("admin.templates_page"))
        if len(message_templates.all_templates()) == 1:
            flash("This is the only template; add another before removing it.", "danger")
            return redirect(url_for("admin.templates_page"))
        return confirmation_page(
            f"Remove the template “{template.name}”?",
            "Senders can no longer choose it, and codes sent with it can no longer be resent.",
            "Remove",
            cancel=url_for("admin.templates_page"),
        )
    if ButtonForm().validate_on_submit():
        try:
            change[action](template_id, current_user)
        except (InvalidTemplate, message_templates.TemplateGone) as error:
            flash(str(error), "danger")
        else:
            done = "removed" if action == "remove" else "is now the default"
            flash(f"Template “{template.name}” {done}.", "success")
    return redirect(url_for("admin.templates_page"))


def _template_or_404(template_id: str) -> message_templates.Template:
    template = message_templates.find(template_id)
    if template is None:
        abort(404)
    return template
