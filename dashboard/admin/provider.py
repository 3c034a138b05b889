"""The provider page: RevenueMonster credentials per environment, their health, and the switch
between sandbox and production (admins only; changes need a fresh sign-in)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse
from wtforms import Field

from ..domain.capabilities import Capability
from ..forms import ButtonForm
from ..models import ENVIRONMENTS
from ..security import fresh_sign_in_required, requires
from ..services import environments, provider_accounts, provider_health
from . import bp
from .confirmations import confirmation_page
from .forms import CredentialsForm, SwitchEnvironmentForm

CONFIRMATION_WORD = "production"


@bp.route("/provider")
@requires(Capability.MANAGE_PROVIDER)
def provider() -> str:
    return _page(None, SwitchEnvironmentForm())


@bp.route("/provider/<environment>/credentials", methods=["POST"])
@requires(Capability.MANAGE_PROVIDER)
@fresh_sign_in_required("change RevenueMonster credentials", back="admin.provider")
def save_credentials(environment: str) -> str | BaseResponse:
    _check(environment)
    form = CredentialsForm(prefix=environment)
    if form.validate_on_submit():
        upload = form.private_key_file.data
        pem = upload.read() if upload else (form.private_key.data or "").strip().encode()
        try:
            provider_accounts.configure(
                environment,
                current_user,
                client_id=(form.client_id.data or None),
                client_secret=(form.client_secret.data or None),
                private_key_pem=pem or None,
            )
        except provider_accounts.ProviderError as error:
            _field_of(form, str(error)).errors = [str(error)]
        else:
            flash(f"{environment.title()} credentials saved.", "success")
            return redirect(url_for("admin.provider", _anchor=environment))
    return _page(form, SwitchEnvironmentForm())


@bp.route("/provider/<environment>/generate", methods=["GET", "POST"])
@requires(Capability.MANAGE_PROVIDER)
@fresh_sign_in_required("generate a new key pair", back="admin.generate_key")
def generate_key(environment: str) -> str | BaseResponse:
    """Store a new key pair; replacing a stored one asks first (GET: the confirmation page),
    since sends through that environment fail until its new public key is registered."""
    _check(environment)
    if request.method == "GET":
        if provider_accounts.public_key_pem(environment) is None:
            return redirect(url_for("admin.provider", _anchor=environment))
        return confirmation_page(
            f"Replace the {environment} key pair?",
            f"Sends through {environment} fail until you register the new public key with "
            "RevenueMonster; the stored key is discarded.",
            "Replace the key pair",
            cancel=url_for("admin.provider", _anchor=environment),
        )
    if ButtonForm().validate_on_submit():
        provider_accounts.generate_key_pair(environment, current_user)
        flash(
            f"A new key pair is stored for {environment}: register its public key (below) in "
            "RevenueMonster's merchant portal, under Developer › Applications.",
            "success",
        )
    return redirect(url_for("admin.provider", _anchor=environment))


@bp.route("/provider/<environment>/public-key.pem")
@requires(Capability.MANAGE_PROVIDER)
def public_key(environment: str) -> Response:
    _check(environment)
    pem = provider_accounts.public_key_pem(environment)
    if pem is None:
        abort(404)
    return Response(
        pem,
        mimetype="application/x-pem-file",
        headers={
            "Content-Disposition": f'attachment; filename="revenuemonster-{environment}-public.pem"'
        },
    )


@bp.route("/provider/<environment>/test", methods=["POST"])
@requires(Capability.MANAGE_PROVIDER)
def test_connection(environment: str) -> BaseResponse:
    _check(environment)
    if ButtonForm().validate_on_submit():
        ok, words = provider_health.test_connection(environment, current_user)
        flash(words, "success" if ok else "danger")
    return redirect(url_for("admin.provider", _anchor=environment))


@bp.route("/provider/switch", methods=["POST"])
@requires(Capability.MANAGE_PROVIDER)
@fresh_sign_in_required("switch the environment", back="admin.provider")
def switch() -> str | BaseResponse:
    form = SwitchEnvironmentForm()
    if form.validate_on_submit():
        target = form.environment.data or ""
        if target == "production" and (form.confirmation.data or "").strip() != CONFIRMATION_WORD:
            form.confirmation.errors = [f"Type {CONFIRMATION_WORD} to switch to production."]
        else:
            try:
                previous = environments.use_environment(
                    target, current_user, reason=form.reason.data or ""
                )
            except provider_accounts.ProviderError as error:
                form.environment.errors = [str(error)]
            else:
                flash(f"Sends now go through {target} (was {previous}).", "success")
                return redirect(url_for("admin.provider"))
    return _page(None, form)


def _page(submitted: CredentialsForm | None, switch_form: SwitchEnvironmentForm) -> str:
    """The page, with the credentials form that was just submitted (and its errors) kept."""
    active = environments.active_environment()
    if not switch_form.environment.data or switch_form.environment.data == active:
        switch_form.environment.data = "production" if active == "sandbox" else "sandbox"
    cards = [
        {
            "environment": environment,
            "account": provider_accounts.account(environment),
            "public_key": provider_accounts.public_key_pem(environment),
            "health": provider_health.health(environment),
            "form": submitted
            if submitted is not None and submitted._prefix == f"{environment}-"
            else CredentialsForm(formdata=None, prefix=environment),
        }
        for environment in ENVIRONMENTS
    ]
    return render_template(
        "admin/provider.html",
        cards=cards,
        active=active,
        switch_form=switch_form,
        button=ButtonForm(),
    )


def _field_of(form: CredentialsForm, message: str) -> Field:
    """The input a credentials error concerns, named in its message."""
    words = message.lower()
    if "key" in words:
        return form.private_key
    return form.client_secret if "secret" in words and "id" not in words else form.client_id


def _check(environment: str) -> None:
    if environment not in ENVIRONMENTS:
        abort(404)
