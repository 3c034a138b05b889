"""Send a code (support and admin) and show an attempt's result."""

from __future__ import annotations

import uuid

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from ..security import roles_required
from ..services import history, provider_settings, sending
from . import bp
from .forms import SendCodeForm


@bp.route("/send", methods=["GET", "POST"])
@roles_required("support", "admin")
def send() -> str | Response:
    form = SendCodeForm()
    if form.validate_on_submit():
        send_request = sending.SendRequest(
            country_code=form.country_code.data or "",
            phone_number=form.phone_number.data or "",
            reason=form.reason.data or "",
            template=form.message.data or "",
            idempotency_key=form.idempotency_key.data or "",
        )
        try:
            attempt = sending.send_verification_code(
                current_user, send_request, client_ip=request.remote_addr
            )
        except sending.SendError as error:
            getattr(form, error.field).errors = [str(error)]
            if error.field == "idempotency_key":
                form.idempotency_key.data = str(uuid.uuid4())  # corrected, it is a new send
        else:
            return redirect(url_for("sms.attempt", public_id=attempt.public_id))
    return render_template(
        "sms/send.html", form=form, environment=provider_settings.active_environment()
    )


@bp.route("/attempts/<public_id>")
def attempt(public_id: str) -> str:
    found = sending.find_by_public_id(public_id)
    if found is None:
        abort(404)
    return render_template(
        "sms/attempt.html", attempt=found, number=history.number_for(found, current_user)
    )
