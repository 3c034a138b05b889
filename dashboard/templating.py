"""What every template may use: the navigation, the active environment, time formatting."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import cache
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, available_timezones

from flask import Flask, g, request
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from .domain import codes, statuses
from .domain.capabilities import Capability
from .domain.messages import SEGMENT_RULES
from .domain.statuses import Status
from .extensions import db
from .security import may_use
from .services import attention, code_checks, environments

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
    app.add_template_global(when)
    app.add_template_global(countdown)
    app.add_template_global(status_badge)
    app.add_template_global(Status, "Status")
    app.add_template_global(Capability, "Capability")


def read_viewer_zone() -> None:
    """The viewer's IANA time zone, as their browser reported it; UTC until it has, or when
    it names no zone this server knows. (Browsers before this one wrote the name URL-encoded,
    ``Asia%2FKuala_Lumpur``: decoded, those still count.)"""
    name = unquote(request.cookies.get(ZONE_COOKIE, "UTC")[:64])
    g.viewer_zone = ZoneInfo(name if name in _known_zones() else "UTC")


@cache
def _known_zones() -> frozenset[str]:
    """The names ZoneInfo accepts, checked before it is given one: ZoneInfo itself would also
    take a path of the server's zoneinfo directory that is no zone (``posixrules``, a
    directory name) and fail later."""
    return frozenset(available_timezones())


def common_context() -> dict[str, Any]:
    context: dict[str, Any] = {
        "product_name": PRODUCT_NAME,
        "segment_rules": SEGMENT_RULES,
        # How long a code lives and how many wrong tries a number has, as the pages say it.
        "code_minutes": int(codes.CODE_LIFETIME.total_seconds() // 60),
        "code_tries": code_checks.MAX_WRONG_TRIES,
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
    context["navigation"] = [(lb, ep) for lb, ep in NAVIGATION if may_use(user, ep)]
    try:
        context["site_notices"] = attention.site_notices()
    except SQLAlchemyError:  # the page still renders; its own content says what failed
        db.session.rollback()
        context["site_notices"] = []
    return context


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


def when(moment: datetime | None, now: datetime | None = None) -> Markup:
    """A time for people: absolute, in the viewer's zone, with how long ago (or how soon) it
    is beside it: ``<time>2026-11-26 14:53:18 +08</time> (3 min ago)``. The page's script
    keeps the relative part current (``data-relative``), so a cooldown counts down."""
    return _time_for_people(moment, now, _RELATIVE)


def countdown(moment: datetime | None, now: datetime | None = None) -> Markup:
    """A time still to come, written as `when` writes it, whose relative part the page's
    script counts down to "(now)" and stops there (``data-countdown``): a cooldown's end."""
    return _time_for_people(moment, now, _COUNTDOWN)


_RELATIVE = Markup('<time datetime="{}" data-relative>{}</time>')
_COUNTDOWN = Markup('<time datetime="{}" data-countdown>{}</time>')


def _time_for_people(moment: datetime | None, now: datetime | None, time_tag: Markup) -> Markup:
    if moment is None:
        return Markup("")
    now = now or datetime.now(UTC)
    return time_tag.format(
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), local_time(moment)
    ) + Markup(' <span class="text-body-secondary" data-relative-text>({})</span>').format(
        relative_to(moment, now)
    )


def relative_to(moment: datetime, now: datetime) -> str:
    """``moment`` as a distance from ``now``: "in 47 s", "3 min ago", "2 h ago", "5 days ago".
    The same steps as static/js/app.js, which updates it in the page."""
    seconds = round((moment - now).total_seconds())
    if abs(seconds) < 5:
        return "just now"
    size = abs(seconds)
    if size < 90:
        amount = f"{size} s"
    elif size < 90 * 60:
        amount = f"{round(size / 60)} min"
    elif size < 48 * 3600:
        amount = f"{round(size / 3600)} h"
    else:
        amount = f"{round(size / 86400)} days"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"
