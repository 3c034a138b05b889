"""Migration 0008 (code checks) down and up again on both databases: the attempts survive,
the checks' table and the attempts' ``code_ended_at`` go and come back, and the schema then
matches the models again."""

from __future__ import annotations

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from dashboard.database import include_in_migrations
from dashboard.extensions import db


def tables_and_columns(app) -> tuple[set[str], set[str]]:
    with app.app_context():
        inspector = inspect(db.engine)
        return set(inspector.get_table_names()), {
            c["name"] for c in inspector.get_columns("attempts")
        }


def test_0008_downgrades_and_upgrades_keeping_the_attempts(app, make_user):
    user_id = make_user("agent@example.com", "support")
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO attempts (public_id, created_at, user_id, environment, country_code,"
                " national_number, phone_e164, phone_reversed, message_masked, message_edited,"
                " code_failed_checks, reason, status, idempotency_key, number_visible_to_sender,"
                " code_ended_at)"
                " VALUES ('00000000-0000-4000-8000-000000000001', CURRENT_TIMESTAMP, :user,"
                " 'sandbox', '60', '163877652', '+60163877652', '256778361', 'Code ••••••',"
                " FALSE, 2, 'Ticket 1', 'accepted', 'key-1', TRUE, CURRENT_TIMESTAMP)"
            ),
            {"user": user_id},
        )
        db.session.execute(
            text(
                "INSERT INTO code_checks (created_at, user_id, attempt_id, phone_digest, matched,"
                " outcome) SELECT CURRENT_TIMESTAMP, :user, id, 'digest', FALSE, 'wrong'"
                " FROM attempts"
            ),
            {"user": user_id},
        )
        db.session.commit()
        db.engine.dispose()
    try:
        with app.app_context():
            flask_migrate.downgrade(revision="0007")
            db.engine.dispose()
        tables, columns = tables_and_columns(app)
        assert "code_checks" not in tables and "code_ended_at" not in columns
        assert "attempts" in tables and "code_verified_at" in columns
    finally:
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
    tables, columns = tables_and_columns(app)
    assert "code_checks" in tables and "code_ended_at" in columns
    with app.app_context():
        kept = db.session.execute(text("SELECT code_failed_checks FROM attempts")).scalars().all()
        assert kept == [2]
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": include_in_migrations}
            )
            assert compare_metadata(context, db.metadata) == []
