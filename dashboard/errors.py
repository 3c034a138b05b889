"""Error pages in the dashboard's style: a clear sentence, a reference id, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError
from werkzeug.wrappers import Response

from .extensions import db
from .logs import current_request_id
from .security import keep_send_form
from .services import send_drafts

log = logging.getLogger(__name__)

EXPLANATIONS = {
    400: "The request could not be understood.",
    403: "Your role does not allow this page or action.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    413: "What was sent is too large.",
}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(Exception, unexpected_error)


def csrf_error(error: CSRFError) -> tuple[str, int] | Response:
    if "referrer" in (error.description or ""):
        # Over HTTPS Flask-WTF also wants a Referer of this site (README › Security notes).
        title = "The form could not be checked"
        explanation = (
            "Your browser did not say that the form came from this site (its Referer "
            "header), which the dashboard needs over HTTPS. Allow referrers for this site, "
            "reload the page and submit it again."
        )
    elif kept := keep_send_form(
        send_drafts.FORM_EXPIRED if current_user.is_authenticated else send_drafts.SIGNED_OUT
    ):
        return kept
    else:
        title = "The form expired"
        explanation = (
            "The form was missing its security token or it had expired. "
            "Go back, reload the page and submit it again."
        )
    return render_template("error.html", code=400, title=title, explanation=explanation), 400


def http_error(error: HTTPException) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    if isinstance(error, InternalServerError):
        return unexpected_error(error)
    if isinstance(error, SecurityError):
        # A Host outside DASHBOARD_TRUSTED_HOSTS: no page of ours, whose links need a host.
        plain = {"Content-Type": "text/plain; charset=utf-8"}
        return "This dashboard does not answer to that host name.\n", 400, plain
    code = error.code or 500
    specific = error.description != type(error).description  # raised with its own words
    explanation = error.description if specific else EXPLANATIONS.get(code, error.description)
    return render_template("error.html", code=code, title=error.name, explanation=explanation), code


def unexpected_error(error: BaseException) -> tuple[str, int]:
    db.session.rollback()
    reference = current_request_id()
    log.error("request.failed", exc_info=error, extra={"reference": reference})
    return render_template(
        "error.html",
        code=500,
        title="Something went wrong",
        explanation="The dashboard failed to complete this request. Nothing more was done. "
        "If it happens again, give this reference to whoever runs the dashboard.",
        reference=reference,
    ), 500


def database_error(error: DBAPIError) -> tuple[str, int]:
    """The database is unreachable or refused the work (down, restarting, locked past the busy
    timeout): a 503 that says to try again, not "something went wrong". Nothing here may read
    the database: the page renders as for a visitor when the user cannot be loaded."""
    if not error.connection_invalidated and not _unavailable(error):
        return unexpected_error(error)
    db.session.rollback()
    # Flask-Login keeps the request's user in g._login_user; the visitor's user stands in, so
    # that rendering the page does not try to load the signed-in one from the database again.
    g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    reference = current_request_id()
    log.error("request.database_unavailable", exc_info=error, extra={"reference": reference})
    return render_template(
        "error.html",
        code=503,
        title="The database did not answer",
        explanation="The dashboard could not reach its database, so this request was not "
        "completed. Try again in a minute. If you were sending a code, look for it in History "
        "first, so that it is not sent twice.",
        reference=reference,
    ), 503


def _unavailable(error: DBAPIError) -> bool:
    """An OperationalError is the database's state (connection lost, server shutting down,
    SQLite busy), not a bug in a statement."""
    return isinstance(error, OperationalError)
