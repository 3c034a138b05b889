"""Start page (by role) and ``/healthz`` for load balancers."""

from __future__ import annotations

import logging

from flask import jsonify, redirect, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ..extensions import db
from . import bp

log = logging.getLogger(__name__)


@bp.route("/")
def index() -> Response:
    if current_user.has_role("support", "admin"):
        return redirect(url_for("sms.send"))
    return redirect(url_for("history.index"))


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
