"""The audit log (auditors and admins): each event in words, filtered by actor, action and
date; the chain's state, verified a bounded number of events per view
(services.audit.chain_status)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from ..domain import audit_words, cursors
from ..domain.capabilities import Capability
from ..security import may_use, requires
from ..services import audit, audit_reading
from ..templating import local_time
from . import bp
from .forms import AuditFilterForm


@bp.route("/audit")
@requires(Capability.READ_AUDIT_LOG)
def index() -> str | tuple[str, int]:
    form = AuditFilterForm(request.args)
    if not form.validate():
        return _page(form), 400
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
        return _page(form), 400
    next_url = None
    if page.next_cursor:
        args: dict[str, Any] = {**request.args.to_dict(), "after": page.next_cursor}
        next_url = url_for("audit.index", **args)
    viewer = current_user._get_current_object()
    zone = g.viewer_zone
    read = audit_reading.read(page.events, viewer, lambda moment: local_time(moment, zone))
    return _page(
        form,
        events=[(item.event, sentence_html(item)) for item in read],
        repeats=page.repeats,
        next_url=next_url,
        chain=chain,
        verify_limit=audit.PAGE_VERIFY_LIMIT,
        raw_details=viewer.may(Capability.SEE_FULL_NUMBERS),
    )


def _page(form: AuditFilterForm, **context: Any) -> str:
    return render_template(
        "audit_log/index.html", form=form, **{"events": [], "chain": None, **context}
    )


def sentence_html(item: audit_reading.ReadEvent) -> Markup:
    """An event's sentence as HTML: its text escaped, what it names linked to its page when
    the viewer may open it."""
    html = []
    for part in item.words:
        if isinstance(part, str):
            html.append(escape(part))
            continue
        text = _breakable(part.text) if part.kind == audit_words.USER else escape(part.text)
        href = _href(part, item.user_ids)
        html.append(Markup('<a href="{}">{}</a>').format(href, text) if href else text)
    return Markup("").join(html)


def _breakable(text: str) -> Markup:
    """An email that may wrap after its @ and its dots, rather than anywhere."""
    escaped = str(escape(text))
    if "@" not in escaped:
        return Markup(escaped)  # noqa: S704  # nosec B704 # escaped just above
    local, _, domain = escaped.partition("@")
    return Markup(local + "@<wbr>" + domain.replace(".", ".<wbr>"))  # noqa: S704  # nosec B704


#: The page of each kind of link but users' (found by id), and its arguments.
_ENDPOINTS: dict[str, tuple[str, Callable[[audit_words.Link], dict[str, Any]]]] = {
    audit_words.ATTEMPT: ("sms.attempt", lambda link: {"public_id": link.key}),
    audit_words.EXPORT: ("history.export_manifest", lambda link: {"event_id": int(link.key)}),
    audit_words.ENVIRONMENT: ("admin.provider", lambda link: {}),
    audit_words.LIMITS: ("admin.limits_page", lambda link: {}),
    audit_words.TEMPLATES: ("admin.templates_page", lambda link: {}),
    audit_words.SETTINGS: ("admin.settings", lambda link: {}),
}


def _href(link: audit_words.Link, user_ids: dict[str, int]) -> str | None:
    """The page of what ``link`` names, or None: none, or one the viewer may not open."""
    if link.kind == audit_words.USER:
        user_id = user_ids.get(link.key)
        if user_id is None or not may_use(current_user, "admin.user_detail"):
            return None
        return url_for("admin.user_detail", user_id=user_id)
    endpoint, arguments = _ENDPOINTS.get(link.kind, ("", None))
    if arguments is None or not may_use(current_user, endpoint):
        return None
    return url_for(endpoint, **arguments(link))
