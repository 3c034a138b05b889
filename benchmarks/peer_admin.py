"""The peer a user would otherwise pick: a Flask-Admin ``ModelView`` over a table of its own,
``peer_attempts``, holding the same rows as the dashboard's ``attempts``, with Flask-Admin's own
search (``?search=``, ILIKE on the number) and offset paging (``?page=N``).

The model declares what a Flask-Admin user would write: a primary key, and ``index=True`` on
the columns one sorts or filters by (the phone number, ``created_at``, ``status``, the sender)
and nothing else: no composite, trigram or reversed-number index, which are the dashboard's own
work (issue 18). :func:`create_table` makes the table and these indexes from this model's
metadata, the indexes after the rows are in.

No sign-in: it is only a yardstick for benchmarks/history.py. Served by gunicorn:

    PEER_DATABASE_URL=sqlite:////tmp/x.sqlite \\
        gunicorn --pythonpath benchmarks 'peer_admin:create_app()'

The list is at /admin/attempt/. Column filters (status, environment, response code, sender,
created_at between, reason contains) are there so the benchmark can ask the peer the same
questions as the history page; :func:`filter_args` gives their URL argument names.
"""

from __future__ import annotations

import os
import time

import sqlalchemy as sa
from flask import Flask
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PAGE_SIZE = 50
LIST_URL = "/admin/attempt/"


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Attempt(db.Model):  # type: ignore[name-defined,misc]
    """The columns the benchmark fills in the dashboard's ``attempts``, in a table of the peer's
    own; an integer primary key (a rowid on SQLite), indexes only where ``index=True``."""

    __tablename__ = "peer_attempts"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(36))
    created_at = mapped_column(sa.DateTime(timezone=True), index=True)
    provider_answered_at = mapped_column(sa.DateTime(timezone=True))
    finished_at = mapped_column(sa.DateTime(timezone=True))
    user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    environment: Mapped[str] = mapped_column(sa.String(16))
    provider_version = mapped_column(sa.Integer)
    country_code: Mapped[str] = mapped_column(sa.String(4))
    national_number: Mapped[str] = mapped_column(sa.String(17))
    phone_e164: Mapped[str] = mapped_column(sa.String(16), index=True)
    phone_reversed: Mapped[str] = mapped_column(sa.String(16))
    message_masked: Mapped[str] = mapped_column(sa.Text)
    code_hash = mapped_column(sa.String(64))
    code_expires_at = mapped_column(sa.DateTime(timezone=True))
    code_failed_checks = mapped_column(sa.Integer)
    code_verified_at = mapped_column(sa.DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    response_code = mapped_column(sa.String(64))
    response_message = mapped_column(sa.Text)
    response_debug = mapped_column(sa.JSON)
    http_status = mapped_column(sa.Integer)
    retry_at = mapped_column(sa.DateTime(timezone=True))
    latency_ms = mapped_column(sa.Integer)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    resend_of_id = mapped_column(sa.BigInteger)
    client_ip = mapped_column(sa.String(45))


class AttemptView(ModelView):
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    page_size = PAGE_SIZE
    column_default_sort = ("id", True)  # newest first, like the history page
    column_list = (
        "created_at",
        "phone_e164",
        "status",
        "response_code",
        "environment",
        "user_id",
        "reason",
    )
    column_searchable_list = ("phone_e164",)
    column_filters = ("status", "environment", "response_code", "user_id", "created_at", "reason")
    named_filter_urls = True


TABLE = Attempt.__table__


def create_table(connection: sa.Connection, source: str = "attempts") -> dict[str, float]:
    """(Re)create ``peer_attempts`` from this model's metadata, fill it with the rows of
    ``source`` (INSERT ... SELECT), then build the model's indexes and analyze it; return the
    seconds each step took."""
    times: dict[str, float] = {}
    TABLE.drop(connection, checkfirst=True)
    connection.execute(sa.schema.CreateTable(TABLE))
    columns = ", ".join(c.name for c in TABLE.columns)
    started = time.perf_counter()
    copy = f"INSERT INTO {TABLE.name} ({columns}) SELECT {columns} FROM {source}"  # noqa: S608
    connection.execute(sa.text(copy))
    times["peer copy"] = time.perf_counter() - started
    started = time.perf_counter()
    for index in sorted(TABLE.indexes, key=lambda i: str(i.name)):
        index.create(connection)
    times["peer indexes"] = time.perf_counter() - started
    return times


def index_names() -> list[str]:
    """What the peer's table is indexed by (for the report)."""
    return sorted(f"{i.name} ({', '.join(c.name for c in i.columns)})" for i in TABLE.indexes)


def filter_args(view: AttemptView) -> dict[tuple[str, str], str]:
    """``{(column, operation): URL argument}``, e.g. ``("status", "equals")`` gives
    ``"flt2_status_equals"``."""
    view._refresh_filters_cache()
    found = {}
    for index, flt in enumerate(view._filters or []):
        operation = flt.operation()
        operation = getattr(operation, "_args", [operation])[0]
        key = (flt.column.key, str(operation))
        found.setdefault(key, f"flt{len(found)}_{view.get_filter_arg(index, flt)}")
    return found


def database_url(given: str | None = None) -> str:
    """The benchmark's database (``PEER_DATABASE_URL`` unless given), with psycopg 3 named."""
    url = given or os.environ["PEER_DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def create_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("PEER_SECRET_KEY", "peer-admin-benchmark-only"),
        SQLALCHEMY_DATABASE_URI=database_url(url),
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
    )
    db.init_app(app)
    admin = Admin(app, name="Attempts (Flask-Admin)")
    view = AttemptView(Attempt, db.session, endpoint="attempt")
    admin.add_view(view)
    app.extensions["peer_view"] = view
    return app
