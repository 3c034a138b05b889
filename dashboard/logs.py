"""Structured logs: one JSON object per line, each with the request id it belongs to.

JSON keeps a value with a line break on one line (no forged log lines). Nothing secret is ever
passed to a log call: the code logs ids, statuses and codes, never passwords, verification
codes, tokens, secrets, keys or cookies.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request

#: The attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
        entry.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def init_app(app: Flask) -> None:
    """Give each request an id (a sane one from a proxy's header, else a new one), send it back,
    and write JSON lines to standard error unless logging is already set up (tests, gunicorn
    with its own configuration)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JSONFormatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    # Alembic announces each of its plugins at INFO on every start: noise to an operator.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    app.before_request(assign_request_id)
    app.after_request(return_request_id)


def assign_request_id() -> None:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _ACCEPTED_REQUEST_ID.match(offered) else uuid.uuid4().hex


def return_request_id(response: Response) -> Response:
    if "request_id" in g:
        response.headers[REQUEST_ID_HEADER] = g.request_id
    return response


def current_request_id() -> str:
    return str(g.get("request_id") or uuid.uuid4().hex)
