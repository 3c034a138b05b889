"""What every template may use: the navigation, the active environment, time formatting."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g, request
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from .domain import statuses
from .domain.capabilities import Capability
from .domain.messages import SEGMENT_RULES
from .domain.statuses import Status
from .extensions import db
from .security import may_use
from .services import environments

#: The top navigation, in order. Each person sees the entries whose pages exist and that their
#: role may open (the roles are those the views themselves enforce).
NAVIGATION = (
    ("Overview", "main.index"),
    ("Send code", "sms.send"),
    ("History", "history.index"),
    ("Check a code", "sms.check"),
    ("Audit log", "audit.index"),
    ("Admin", "admin.index"),
)
PRODUCT_NAME = "RM SMS Dashboard"


#: The cookie in which the browser tells its time zone (set by static/js/app.js).
ZONE_COOKIE = "tz"


def init_app(app: Flask) -> None:
    app.before_request(read_viewer_zone)
    app.context_processor(common_context)
    app.add_template_filter(utc_time)
    app.add_template_filter(local_time)
    app.add_template_global(status_badge)
    app.add_template_global(Status, "Status")
    app.add_template_global(Capability, "Capability")


def read_viewer_zone() -> None:
    """The viewer's IANA time zone, as their browser reported it; UTC until it has."""
    try:
        g.viewer_zone = ZoneInfo(request.cookies.get(ZONE_COOKIE, "UTC")[:64])
    except (ZoneInfoNotFoundError, ValueError):
        g.viewer_zone = ZoneInfo("UTC")


def common_context() -> dict[str, Any]:
    context: dict[str, Any] = {
        "product_name": PRODUCT_NAME,
        "segment_rules": SEGMENT_RULES,
        "viewer_zone": g.get("viewer_zone", ZoneInfo("UTC")).key,
    }
    try:
        context["active_environment"] = environments.active_environment()
    except SQLAlchemyError:  # an error page must still render when the database is down
        db.session.rollback()
        context["active_environment"] = "unreadable"
    user = current_user._get_current_object()
    if not user.is_authenticated:
        return context
    return {**context, "navigation": [(lb, ep) for lb, ep in NAVIGATION if may_use(user, ep)]}


def status_badge(status: str) -> Markup:
    """An attempt's status as a coloured badge (a function rather than a macro: a history page
    draws up to a hundred of them)."""
    return _BADGES[status]


_BADGES = {
    status.value: Markup('<span class="badge status-badge status-{}">{}</span>').format(
        status.value, status.word
    )
    for status in statuses.ALL
}


def utc_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def local_time(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """A time in the viewer's zone (or ``zone``, the same looked up once for a page of rows),
    with the zone named ("2026-11-26 14:53:18 +08")."""
    if moment is None:
        return ""
    return moment.astimezone(zone or g.viewer_zone).strftime("%Y-%m-%d %H:%M:%S %Z")
