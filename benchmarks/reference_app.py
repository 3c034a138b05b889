"""The reference app of the team's PERFORMANCE.md, to calibrate this machine: only what a history
page must do (a login check with the session-version test, a keyset query of 50 rows, a Jinja
table, security headers) over the dashboard's ``attempts`` table, and nothing else.

The targets were set from its figures on another day's machine; measured in the same run as
ours, it tells how much of a gap is the machine and how much is the dashboard. It reads the
dashboard's own session cookie (same secret key and cookie name), so it signs nobody in.
Served by gunicorn:

    PEER_DATABASE_URL=sqlite:////tmp/x.sqlite DASHBOARD_SECRET_KEY=... \\
        gunicorn --pythonpath benchmarks 'reference_app:create_app()'

The table is at /history: ``?before=<id>`` for a deeper page, and an equality filter per column
of ``FILTERS``, each served by the dashboard's own composite index, as a minimal page would use
it (PERFORMANCE.md measured ``/history?status=failed&before=500000``); any other parameter is
refused with 400, so that a benchmark case cannot measure the unfiltered page by mistake.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, Response, abort, request
from flask_login import LoginManager, UserMixin, login_required
from flask_sqlalchemy import SQLAlchemy
from peer_admin import database_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PAGE_SIZE = 50


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    active: Mapped[bool] = mapped_column(sa.Boolean)
    session_version: Mapped[str] = mapped_column(sa.String(32))


attempts = sa.table(
    "attempts",
    sa.column("id", sa.BigInteger),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("phone_e164", sa.String),
    sa.column("status", sa.String),
    sa.column("response_code", sa.String),
    sa.column("environment", sa.String),
    sa.column("user_id", sa.BigInteger),
)

#: The columns /history filters on by equality, and the type of their value.
FILTERS = {
    "status": str,
    "response_code": str,
    "environment": str,
    "phone_e164": str,
    "user_id": int,
}

TABLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>History</title></head><body>
<table><thead><tr><th>Time</th><th>Number</th><th>Status</th><th>Response code</th>
<th>Environment</th></tr></thead><tbody>
{% for row in rows %}<tr><td><a href="/attempts/{{ row.id }}">{{ row.created_at }}</a></td>
<td>{{ row.phone_e164 }}</td><td>{{ row.status }}</td><td>{{ row.response_code or "" }}</td>
<td>{{ row.environment }}</td></tr>
{% endfor %}</tbody></table>
{% if rows %}<a href="/history?before={{ rows[-1].id }}">Older</a>{% endif %}
</body></html>"""

HEADERS = {
    "Content-Security-Policy": "default-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Cache-Control": "no-store",
}


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user and user.active and user.session_version == version else None


def create_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ["DASHBOARD_SECRET_KEY"],
        SESSION_COOKIE_NAME="__Host-session",  # the dashboard's, in production mode
        SQLALCHEMY_DATABASE_URI=database_url(url),
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
    )
    db.init_app(app)
    login_manager.init_app(app)
    table = app.jinja_env.from_string(TABLE)

    @app.get("/history")
    @login_required
    def history() -> str:
        query = sa.select(attempts).order_by(attempts.c.id.desc()).limit(PAGE_SIZE)
        try:
            for name, value in request.args.items():
                if name == "before":
                    query = query.where(attempts.c.id < int(value))
                elif name in FILTERS:
                    query = query.where(attempts.c[name] == FILTERS[name](value))
                else:  # a benchmark case asking for a filter this page does not have
                    abort(400)
        except ValueError:
            abort(400)
        return table.render(rows=db.session.execute(query).all())

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.update(HEADERS)
        return response

    return app
