"""The history page, open to every role; the attempts it lists are found by services.history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
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
from markupsafe import Markup, escape

from ..domain import cursors
from ..domain.capabilities import Capability
from ..models import utcnow
from ..security import may_use, requires
from ..services import exports, history, sending, users
from ..templating import local_time, relative_to, status_badge
from . import bp
from .forms import HistoryFilterForm


@bp.route("/history")
def index() -> str | tuple[str, int]:
    form = filter_form()
    if not form.validate():
        return page(form, None), 400
    sending.reconcile_now_and_then()
    filters = filters_of(form)
    try:
        found = history.search(
            filters, cursor=form.after.data or None, limit=form.limit.data or history.PAGE_SIZE
        )
    except cursors.BadCursor as error:
        form.after.errors = [str(error)]
        return page(form, None), 400
    return page(form, found)


def filter_form(formdata: Any = None) -> HistoryFilterForm:
    """The filters, read from the URL (or, for an export, from the posted form), as the
    viewer may use them: a number search they may not run is refused before anything is
    searched or counted, whatever page cursor comes with it."""
    form = HistoryFilterForm(formdata if formdata is not None else request.args)
    form.for_viewer(current_user.role)
    form.senders = users.names()
    form.sender.choices = [("", "Anyone")] + [(str(i), n) for i, n in form.senders.items()]
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


def page(
    form: HistoryFilterForm,
    found: history.Page | None,
    *,
    export_fields: dict[str, str] | None = None,
    export_refused: str = "",
) -> str:
    """The page; ``export_fields`` are the filters its export form posts (the URL's, unless
    an export of them was just refused: those it posted), ``export_refused`` why it was."""
    next_url = None
    if found and found.next_cursor:
        args: dict[str, Any] = {**request.args.to_dict(), "after": found.next_cursor}
        next_url = url_for("history.index", **args)
    may_resend = may_use(current_user, "sms.resend")
    return render_template(
        "history/index.html",
        form=form,
        rows=table_rows(found.attempts, form.senders, may_resend) if found else [],
        page=found,
        matching=found.matching if found else 0,
        shown_as_many=history.SHOWN_AS_MANY,
        may_resend=may_resend,
        may_export=may_use(current_user, "history.export"),
        export_fields=export_fields if export_fields is not None else _filter_fields(request.args),
        export_refused=export_refused,
        next_url=next_url,
    )


def table_rows(
    attempts: list[history.AttemptRow], senders: dict[int, str], may_resend: bool
) -> list[Markup]:
    """The table's rows as HTML, each filled in from one format string: like ``status_badge``,
    a function rather than template code, because a page draws up to a hundred rows
    (docs/performance.md). Every value is escaped here, as the template would; the badge is
    markup of our own."""
    viewer, zone = current_user._get_current_object(), g.viewer_zone
    attempt_url, resend_url = _url_maker("sms.attempt"), _url_maker("sms.resend")
    now = datetime.now(UTC)
    rows = []
    for a in attempts:
        day, _, time = local_time(a.created_at, zone).partition(" ")
        number, public_id = escape(history.number_for(a, viewer)), escape(a.public_id)
        html = _ROW.format(
            url=attempt_url(public_id),
            day=escape(day),
            time=escape(time),
            ago=relative_to(a.created_at, now),
            number=number,
            badge=status_badge(a.status),
            response_code=escape(a.response_code or ""),
            environment=escape(a.environment),
            sender=escape(senders.get(a.user_id, "")),
            resend=_RESEND.format(url=resend_url(public_id), number=number) if may_resend else "",
        )
        rows.append(Markup(html))  # noqa: S704  # nosec B704 # every value in it is escaped above
    return rows


#: One row, a table row from md up and a card below (the table is then a flex column, see
#: templates/history/index.html): time and status on the card's first line, the number and
#: Resend on its second (order-*), the other columns left out (d-none).
_ROW = (
    '<tr class="d-flex flex-wrap align-items-center d-md-table-row border rounded-2 mb-2">'
    '<td class="col-7 col-md-auto border-0"><a href="{url}"><span class="text-nowrap">{day}'
    '</span> <span class="text-nowrap">{time}</span></a>'
    ' <span class="small text-body-secondary text-nowrap">({ago})</span></td>'
    '<td class="col-7 col-md-auto border-0 order-2 order-md-0 text-nowrap" data-number>'
    "{number}</td>"
    '<td class="col-5 col-md-auto border-0 order-1 order-md-0 text-end text-md-start">'
    "{badge}</td>"
    '<td class="d-none d-md-table-cell border-0"><code>{response_code}</code></td>'
    '<td class="d-none d-lg-table-cell border-0">{environment}</td>'
    '<td class="d-none d-lg-table-cell border-0">{sender}</td>{resend}</tr>\n'
)
_RESEND = (
    '<td class="col-5 col-md-auto border-0 order-3 order-md-0 text-end">'
    '<a class="btn btn-sm btn-outline-primary" href="{url}">'
    'Resend<span class="visually-hidden"> to {number}</span></a></td>'
)


def _url_maker(endpoint: str) -> Callable[[str], str]:
    """``url_for(endpoint, public_id=…)`` for a page of rows: built once, filled in per row
    (url_for costs more than drawing a row). Public ids are UUIDs: nothing to quote."""
    before, after = url_for(endpoint, public_id=_MARK).split(_MARK)
    return lambda public_id: f"{before}{public_id}{after}"


_MARK = "0-public-id-0"


@bp.route("/history/export", methods=["POST"])
@requires(Capability.EXPORT)
def export() -> Response | tuple[str, int]:
    """The current filters' attempts as CSV or JSON Lines, streamed; refused, on the history
    page, when more match than an export may hold."""
    form = filter_form(request.form)
    fmt = request.form.get("format", "")
    if fmt not in exports.FORMATS or not form.validate():
        return page(form, None), 400
    filters = filters_of(form)
    try:
        chunks = exports.start(filters, fmt, current_user)
    except exports.TooManyRows as refused:
        fields = _filter_fields(request.form)
        return page(
            form, history.search(filters), export_fields=fields, export_refused=str(refused)
        ), 400
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(chunks),
        mimetype=exports.FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="attempts-{stamp}.{fmt}"'},
    )


def _filter_fields(values: Any) -> dict[str, str]:
    """The filters among submitted ``values``, as the export form posts them again."""
    return {
        name: value
        for name, value in values.items()
        if name not in ("after", "limit", "csrf_token", "format")
    }


@bp.route("/history/exports/<id:event_id>/manifest.json")
@requires(Capability.EXPORT)
def export_manifest(event_id: int) -> Response:
    found = exports.manifest(event_id)
    if found is None:
        abort(404)
    return jsonify(found)
