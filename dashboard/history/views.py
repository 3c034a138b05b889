"""The history page, open to every role; the attempts it lists are found by services.history."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    abort,
    g,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from ..models import utcnow
from ..security import may_use, roles_required
from ..services import cursors, exports, history, sending, users
from . import bp
from .forms import HistoryFilterForm


@bp.route("/history")
def index() -> str | tuple[str, int]:
    form = filter_form()
    if not form.validate():
        return page(form, None, 0), 400
    sending.reconcile_stale_attempts()
    filters = filters_of(form)
    try:
        found = history.search(
            filters, cursor=form.after.data or None, limit=form.limit.data or history.PAGE_SIZE
        )
    except cursors.BadCursor as error:
        form.after.errors = [str(error)]
        return page(form, None, 0), 400
    return page(form, found, history.count_up_to(filters))


def filter_form(formdata: Any = None) -> HistoryFilterForm:
    """The filters, read from the URL (or, for an export, from the posted form)."""
    form = HistoryFilterForm(formdata if formdata is not None else request.args)
    form.sender.choices = [("", "Anyone")] + [
        (str(u.id), u.display_name) for u in users.all_users()
    ]
    return form


def filters_of(form: HistoryFilterForm) -> history.Filters:
    return history.Filters(
        number=form.q.data or "",
        match=form.match.data or "ends",
        status=form.status.data or "",
        response_code=form.response_code.data or "",
        environment=form.environment.data or "",
        sender=int(form.sender.data) if form.sender.data else None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        reason=form.reason.data or "",
        zone=g.viewer_zone,
    )


def page(form: HistoryFilterForm, found: history.Page | None, matching: int) -> str:
    rows = [(a, history.number_for(a, current_user)) for a in found.attempts] if found else []
    next_url = None
    if found and found.next_cursor:
        args: dict[str, Any] = {**request.args.to_dict(), "after": found.next_cursor}
        next_url = url_for("history.index", **args)
    return render_template(
        "history/index.html",
        form=form,
        rows=rows,
        page=found,
        matching=matching,
        shown_as_many=history.SHOWN_AS_MANY,
        may_resend=may_use(current_user, "sms.resend"),
        may_export=may_use(current_user, "history.export"),
        next_url=next_url,
    )


@bp.route("/history/export", methods=["POST"])
@roles_required("auditor", "admin")
def export() -> Response | tuple[str, int]:
    """The current filters' attempts as CSV or JSON Lines, streamed."""
    form = filter_form(request.form)
    fmt = request.form.get("format", "")
    if fmt not in exports.FORMATS or not form.validate():
        return page(form, None, 0), 400
    filters = filters_of(form)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(exports.stream(filters, fmt, current_user)),
        mimetype=exports.FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="attempts-{stamp}.{fmt}"'},
    )


@bp.route("/history/exports/<int:event_id>/manifest.json")
@roles_required("auditor", "admin")
def export_manifest(event_id: int) -> Response:
    found = exports.manifest(event_id)
    if found is None:
        abort(404)
    return jsonify(found)
