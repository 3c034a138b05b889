"""Start page (by role), and the endpoints for machines: ``/healthz`` (liveness),
``/readyz`` (readiness) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, g, jsonify, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from .. import metrics as prometheus
from ..domain import statuses
from ..security import may_use
from ..services import attention, overview, readiness
from . import bp

log = logging.getLogger(__name__)


@bp.route("/")
def index() -> str:
    """The overview: what needs attention, and what happened today and this week."""
    zone = g.viewer_zone
    items = [
        (
            item,
            url_for(item.endpoint, **dict[str, Any](item.args))
            if may_use(current_user, item.endpoint)
            else None,
        )
        for item in attention.needs_attention(zone)
    ]
    return render_template(
        "main/overview.html",
        overview=overview.overview(zone),
        attention=items,
        statuses=statuses.ALL,
    )


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    """The process serves requests: no database work, so a slow or absent database never
    gets a live worker restarted (/readyz is the question for that)."""
    return jsonify(status="ok"), 200


@bp.route("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when the database answers with the schema this code expects; 503 naming what is
    wrong, so a load balancer sends no traffic here and the operator knows where to look."""
    state = readiness.check()
    body = {"database": state.database, "migrations": state.migrations}
    if not state.ready:
        return jsonify(status="error", **body), 503
    return jsonify(status="ok", **body), 200


@bp.route("/metrics")
def metrics() -> Response:
    """The counters in Prometheus's text format, for the holder of DASHBOARD_METRICS_TOKEN
    only; without that setting there is no such page."""
    token = current_app.config["METRICS_TOKEN"]
    if token is None:
        abort(404)
    if not prometheus.bearer_matches(request.headers.get("Authorization"), token):
        log.warning("metrics.unauthorized", extra={"ip": request.remote_addr})
        return Response(
            "A bearer token is needed to read the metrics.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    body, content_type = prometheus.exposition()
    return Response(body, content_type=content_type)
