"""The history page, open to every role."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from ..security import may_use
from ..services import history, sending
from . import bp
from .forms import HistorySearchForm


@bp.route("/history")
def index() -> str | tuple[str, int]:
    form = HistorySearchForm(request.args)
    if not form.validate():
        return render_template("history/index.html", form=form, rows=[], page=None), 400
    sending.reconcile_stale_attempts()
    page = history.search(form.q.data or "", before=form.before.data)
    rows = [(attempt, history.number_for(attempt, current_user)) for attempt in page.attempts]
    return render_template(
        "history/index.html",
        form=form,
        rows=rows,
        page=page,
        may_resend=may_use(current_user, "sms.resend"),
    )
