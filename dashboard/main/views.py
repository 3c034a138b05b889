"""Start page (by role) and ``/healthz`` for load balancers."""

from __future__ import annotations

from flask import g, jsonify, render_template
from werkzeug.wrappers import Response

from ..domain import statuses
from ..services import overview, readiness
from . import bp


@bp.route("/")
def index() -> str:
    """The overview: what happened today and this week, at a glance."""
    return render_template(
        "main/overview.html",
        overview=overview.overview(g.viewer_zone),
        statuses=statuses.ALL,
    )


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers, 503 when it does not."""
    if not readiness.database_answers():
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
