"""The Flask extensions, unbound until ``create_app`` binds them, and the engine's set-up."""

from __future__ import annotations

import contextlib
import os

from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

# A naming convention gives every constraint a stable name, which Alembic needs to alter
# tables on SQLite (batch mode) and to compare the models with the migrations.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
login_manager = LoginManager()
csrf = CSRFProtect()
bootstrap = Bootstrap5()  # serves Bootstrap's files from our own origin (BOOTSTRAP_SERVE_LOCAL)
#: Request-rate limits (the sign-in forms: dashboard.auth.views), per client address:
#: request.remote_addr, which werkzeug's ProxyFix takes from exactly DASHBOARD_PROXY_COUNT
#: proxies and from nothing the client itself sends.
#: Counted in RATELIMIT_STORAGE_URI (memory://, each process its own count, by default;
#: redis://… for one count across workers and hosts), falling back to memory when that storage
#: is unreachable rather than failing sign-in. RATELIMIT_ENABLED=False turns the limits off
#: (the tests, which sign in from one address all the time). The 429 answer carries
#: Retry-After and is rendered by errors.http_error with the limit's own message.
limiter = Limiter(
    key_func=get_remote_address,
    key_prefix="rm-sms-dashboard",
    headers_enabled=True,
    in_memory_fallback_enabled=True,
)

#: Execution option that makes SQLite start the transaction with ``BEGIN IMMEDIATE``.
SQLITE_IMMEDIATE = "dashboard_sqlite_immediate"


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite safe for several workers: WAL, a busy timeout, foreign keys, and
    transactions that SQLAlchemy (not the driver) begins, so a write transaction can take
    the write lock up front with ``BEGIN IMMEDIATE`` instead of failing with SQLITE_BUSY
    when it upgrades from reading to writing. A new database file is readable by its owner
    only; SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions."""
    create_private_file(engine.url.database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver must not emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_private_file(path: str | None) -> None:
    """Create ``path`` empty (an empty file is an empty SQLite database), mode 0600, unless it
    exists already or is not a file (``:memory:``)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    # An existing file is left as it is; a missing folder is SQLite's to report.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
