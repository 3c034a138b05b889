"""An audit log that proves itself (issue 16): events MACed under a key named by ``key_id``,
checkpoints of the verified chain (append-only too), counted repeats of identical refusals,
and on PostgreSQL a trigger that refuses TRUNCATE, which row triggers do not see.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("audit_events", "audit_checkpoints")


def upgrade():
    # Plain ADD COLUMN, no batch mode: a batch copy of audit_events would drop its
    # append-only triggers (migration 0001). Existing rows keep no key id: the legacy chain.
    op.add_column("audit_events", sa.Column("repeats_before", sa.Integer(), nullable=True))
    op.add_column("audit_events", sa.Column("key_id", sa.String(length=32), nullable=True))
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", BigId, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index("ix_audit_checkpoints_event_id", "audit_checkpoints", ["event_id"])
    op.create_table(
        "audit_repeats",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_repeats")),
    )
    op.create_index("ix_audit_repeats_key", "audit_repeats", ["key"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for verb in ("update", "delete"):
        op.execute(
            f"CREATE TRIGGER audit_checkpoints_no_{verb} BEFORE {verb.upper()}"
            " ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
            if postgresql
            else f"CREATE TRIGGER audit_checkpoints_no_{verb} BEFORE {verb.upper()}"
            " ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only');"
            " END"
        )
    if postgresql:
        # Row triggers never see TRUNCATE; a statement trigger does. SQLite has no TRUNCATE (its
        # DELETE without WHERE still runs the row triggers). A superuser may still switch
        # triggers off (session_replication_role): the checkpoints, and those printed outside
        # the database by `audit checkpoint`, are what reveal that.
        op.execute(
            """
            CREATE FUNCTION audit_log_no_truncate() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate()"
            )


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_log_no_truncate()")
    op.drop_index("ix_audit_repeats_key", table_name="audit_repeats")
    op.drop_table("audit_repeats")
    op.drop_index("ix_audit_checkpoints_event_id", table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")  # its row triggers go with it
    # Plain DROP COLUMN (SQLite 3.35+), like 0004: no batch copy of the table.
    for column in ("key_id", "repeats_before"):
        op.execute(f"ALTER TABLE audit_events DROP COLUMN {column}")
