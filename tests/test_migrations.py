"""The migrations: one head, they build the schema on both databases, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from dashboard.extensions import db


def test_one_head(app):
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgraded_database_matches_the_models(app):
    """The fixture upgraded an empty database with the migrations; nothing may differ."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_audit_events_refuse_update_and_delete(app, make_user):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    make_user("agent@example.com", "support")  # writes a user.create event
    with app.app_context():
        for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
