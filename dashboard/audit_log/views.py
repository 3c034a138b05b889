"""The audit log (auditors and admins): filter by actor, action and date; the chain's state,
verified a bounded number of events per view (services.audit.chain_status)."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request, url_for

from ..domain import cursors
from ..domain.capabilities import Capability
from ..security import requires
from ..services import audit
from . import bp
from .forms import AuditFilterForm


@bp.route("/audit")
@requires(Capability.READ_AUDIT_LOG)
def index() -> str | tuple[str, int]:
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template("audit_log/index.html", form=form, events=[], chain=None), 400
    # First: recording its progress commits, which would expire the events of the page.
    chain = audit.chain_status()
    filters = audit.EventFilters(
        zone=g.viewer_zone,
        actor=form.actor.data or "",
        action=form.action.data or "",
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )
    try:
        page = audit.search(filters, cursor=form.after.data or None)
    except cursors.BadCursor as error:
        form.after.errors = [str(error)]
        return render_template("audit_log/index.html", form=form, events=[], chain=None), 400
    next_url = None
    if page.next_cursor:
        args: dict[str, Any] = {**request.args.to_dict(), "after": page.next_cursor}
        next_url = url_for("audit.index", **args)
    return render_template(
        "audit_log/index.html",
        form=form,
        events=page.events,
        repeats=page.repeats,
        next_url=next_url,
        chain=chain,
        verify_limit=audit.PAGE_VERIFY_LIMIT,
    )
