"""Whether the dashboard can serve: what the machines that watch it ask.

``/healthz`` (is the process alive) asks nothing of this module; ``/readyz`` (may traffic
come here) asks whether the database answers and holds the schema this code was written for.

The revision the code expects is read from the migration scripts once, at start-up, without
Alembic: the web workers run without it (docs/performance.md), and a script's ``revision``
and ``down_revision`` lines are all the head needs.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migrations:
    """The revisions of the migration scripts: every one, and the heads (those none revises)."""

    known: frozenset[str]
    heads: frozenset[str]


def read_migrations(versions: Path) -> Migrations:
    """The revisions of the scripts in ``versions`` (a migrations folder's ``versions/``)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in versions.glob("*.py"):
        values = _assignments(script, ("revision", "down_revision"))
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            continue
        revisions.add(revision)
        if isinstance(down, str):
            revised.add(down)
        elif isinstance(down, tuple | list):
            revised.update(down)
    return Migrations(known=frozenset(revisions), heads=frozenset(revisions - revised))


def _assignments(script: Path, names: tuple[str, ...]) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in names:
                found[target.id] = ast.literal_eval(node.value)
    return found


#: Where the app keeps what its migration scripts say.
EXTENSION = "dashboard.migrations"


def init_app(app: Flask, migrations: Path) -> None:
    """Read what this code expects from the ``migrations`` folder once, when the app is built."""
    app.extensions[EXTENSION] = read_migrations(migrations / "versions")


def expected() -> Migrations:
    """The revisions of this app's migration scripts (read by init_app)."""
    migrations: Migrations = current_app.extensions[EXTENSION]
    return migrations


@dataclass(frozen=True)
class Readiness:
    """What /readyz answers: each check's word, ``ok`` or what is wrong."""

    database: str
    migrations: str

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.migrations == "ok"


def check() -> Readiness:
    """Whether the database answers and its migrations are at the head of this code's
    (logged when not: the answer names the problem, the log the revisions)."""
    try:
        applied = frozenset(
            db.session.execute(text("SELECT version_num FROM alembic_version")).scalars()
        )
    except SQLAlchemyError as error:
        db.session.rollback()
        if _answers():
            log.warning("readyz.not_migrated", extra={"error": str(error).splitlines()[0]})
            return Readiness(database="ok", migrations="not applied")
        log.warning("readyz.database_unreachable", extra={"error": str(error).splitlines()[0]})
        return Readiness(database="unreachable", migrations="not checked")
    finally:
        db.session.rollback()
    scripts = expected()
    if applied == scripts.heads:
        return Readiness(database="ok", migrations="ok")
    if not applied:
        word = "not applied"
    elif applied <= scripts.known:
        word = "behind"  # `flask db upgrade` was not run after this release was installed
    else:
        word = "ahead"  # a newer release migrated the database: this code does not know it
    log.warning(
        "readyz.migrations_not_at_head",
        extra={"applied": sorted(applied), "expected": sorted(scripts.heads)},
    )
    return Readiness(database="ok", migrations=word)


def _answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    finally:
        db.session.rollback()
    return True
