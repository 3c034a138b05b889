"""Checking codes the way a call goes (issue 17): every check of a code is recorded in
``code_checks`` (the number as a keyed digest, never the code typed), and an attempt's code
can be ended unused (``attempts.code_ended_at``) when another code of its number is used or
the number's wrong tries run out.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 20:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    # Plain ADD COLUMN (no batch mode): on SQLite a batch copy of ``attempts`` would drop the
    # triggers that keep its search index (migration 0002) in step.
    op.add_column("attempts", sa.Column("code_ended_at", sa.DateTime(timezone=True)))
    op.create_table(
        "code_checks",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=True),
        sa.Column("phone_digest", sa.String(length=64), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('right', 'wrong', 'last_try', 'earlier', 'none_valid', 'none_sent')",
            name=op.f("ck_code_checks_outcome_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_code_checks_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_code_checks_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_checks")),
    )
    op.create_index("ix_code_checks_phone_digest_id", "code_checks", ["phone_digest", "id"])
    op.create_index("ix_code_checks_attempt_id_id", "code_checks", ["attempt_id", "id"])


def downgrade():
    op.drop_index("ix_code_checks_attempt_id_id", table_name="code_checks")
    op.drop_index("ix_code_checks_phone_digest_id", table_name="code_checks")
    op.drop_table("code_checks")
    # DROP COLUMN as SQL (SQLite 3.35 and later have it), like 0004.
    op.execute("ALTER TABLE attempts DROP COLUMN code_ended_at")
