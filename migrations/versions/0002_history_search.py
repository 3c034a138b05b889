"""History search by substring: an FTS5 trigram index on SQLite, pg_trgm GIN indexes on
PostgreSQL, over the number and the reason of each attempt.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:45:00

"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in ("phone_e164", "reason"):
            op.execute(
                f"CREATE INDEX search_attempts_{column}_trgm ON attempts"
                f" USING gin ({column} gin_trgm_ops)"
            )
        return
    # An external-content FTS5 table: the text stays in attempts; triggers keep the index
    # in step with every insert, update and delete.
    op.execute(
        "CREATE VIRTUAL TABLE search_attempts USING fts5("
        "phone_e164, reason, content='attempts', content_rowid='id', tokenize='trigram')"
    )
    op.execute(
        "CREATE TRIGGER search_attempts_insert AFTER INSERT ON attempts BEGIN"
        " INSERT INTO search_attempts(rowid, phone_e164, reason)"
        " VALUES (new.id, new.phone_e164, new.reason); END"
    )
    op.execute(
        "CREATE TRIGGER search_attempts_delete AFTER DELETE ON attempts BEGIN"
        " INSERT INTO search_attempts(search_attempts, rowid, phone_e164, reason)"
        " VALUES ('delete', old.id, old.phone_e164, old.reason); END"
    )
    op.execute(
        "CREATE TRIGGER search_attempts_update AFTER UPDATE OF phone_e164, reason ON attempts"
        " BEGIN"
        " INSERT INTO search_attempts(search_attempts, rowid, phone_e164, reason)"
        " VALUES ('delete', old.id, old.phone_e164, old.reason);"
        " INSERT INTO search_attempts(rowid, phone_e164, reason)"
        " VALUES (new.id, new.phone_e164, new.reason); END"
    )
    op.execute("INSERT INTO search_attempts(search_attempts) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for column in ("phone_e164", "reason"):
            op.execute(f"DROP INDEX IF EXISTS search_attempts_{column}_trgm")
        return
    for verb in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS search_attempts_{verb}")
    op.execute("DROP TABLE IF EXISTS search_attempts")
