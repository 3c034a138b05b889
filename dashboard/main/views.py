"""Start page (by role) and ``/healthz`` for load balancers."""

from __future__ import annotations

import logging

from flask import g, jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ..domain import statuses
from ..extensions import db
from ..services import overview
from . import bp

log = logging.getLogger(__name__)


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
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("healthz.database_unreachable")
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
