"""Transactions that writers use: one place that knows how each database serialises them,
and keeps its planner informed."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Table, TextClause, text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import SQLITE_IMMEDIATE, db

log = logging.getLogger(__name__)


@contextmanager
def write_transaction(*lock_keys: str) -> Iterator[None]:
    """Run the block in one transaction and commit it; roll back if it raises.

    Checks made inside the block cannot interleave with another writer holding the same lock
    key, in this process or another: SQLite takes its single write lock up front
    (``BEGIN IMMEDIATE``); PostgreSQL takes a transaction-scoped advisory lock per key.
    A read transaction the request already opened is ended first; changes made outside a
    write transaction are a bug, and refused rather than committed by surprise.
    """
    session = db.session()
    if session.info.get("writing"):
        raise RuntimeError("write_transaction() cannot be nested")
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("changes were made outside a write_transaction()")
    end_read_transaction()
    session.info["writing"] = True
    try:
        connection = session.connection(execution_options={SQLITE_IMMEDIATE: True})
        if connection.dialect.name == "postgresql":
            keys = sorted(set(lock_keys))
            if keys:  # one statement, locks taken left to right (sorted: no deadlock)
                session.execute(
                    _advisory_locks(len(keys)), {f"k{i}": k for i, k in enumerate(keys)}
                )
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info["writing"] = False


@functools.cache
def _advisory_locks(count: int) -> TextClause:
    """``SELECT pg_advisory_xact_lock(…), …`` for ``count`` keys: one round trip for them all."""
    locks = ", ".join(f"pg_advisory_xact_lock(hashtextextended(:k{i}, 0))" for i in range(count))
    return text(f"SELECT {locks}")  # noqa: S608  # only placeholders, no values


def end_read_transaction() -> None:
    """End the read transaction the session may hold (before a slow call such as HTTP, so no
    connection sits "idle in transaction" and no SQLite snapshot is held)."""
    session = db.session()
    if session.in_transaction():
        session.rollback()


def refresh_statistics(table: Table) -> None:
    """ANALYZE ``table`` after a bulk change (a purge), so the planner's estimates follow it:
    SQLite never gathers statistics by itself; PostgreSQL's autovacuum would, some time later.
    Best effort: the change is committed already, and a failure only keeps the old figures."""
    name = db.engine.dialect.identifier_preparer.format_table(table)
    try:
        with write_transaction():
            db.session.execute(text(f"ANALYZE {name}"))
    except SQLAlchemyError:
        log.warning("database.analyze_failed", extra={"table": table.name}, exc_info=True)


#: Search structures kept outside the models (an FTS5 table and its shadow tables on SQLite,
#: trigram indexes on PostgreSQL): created by migrations, left out of model comparisons.
SEARCH_OBJECT_PREFIX = "search_attempts"


def include_in_migrations(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: everything but the search structures."""
    return not (name or "").startswith(SEARCH_OBJECT_PREFIX)
