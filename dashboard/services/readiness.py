"""Whether the dashboard can serve: what the machines that watch it ask."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db

log = logging.getLogger(__name__)


def database_answers() -> bool:
    """True when the database answers a trivial query (logged when it does not)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("healthz.database_unreachable")
        return False
    return True
