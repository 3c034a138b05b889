"""Who may see and do what (issue 15): a resend keeps its original's masking, attempts name
the template their text came from, one-time passwords expire, and sign-in throttle keys hold
keyed digests instead of the emails typed (the old rows, keyed by email, are dropped).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch mode): on SQLite a batch copy of ``attempts`` would drop the
    # triggers that keep its search index (migration 0002) in step.
    op.add_column(
        "attempts",
        sa.Column(
            "number_visible_to_sender", sa.Boolean(), nullable=False, server_default=sa.true()
        ),
    )
    op.add_column("attempts", sa.Column("template_id", sa.String(36), nullable=True))
    op.add_column(
        "attempts",
        sa.Column("message_edited", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("users", sa.Column("password_expires_at", sa.DateTime(timezone=True)))
    op.execute("DELETE FROM sign_in_throttles")


def downgrade():
    # DROP COLUMN as SQL (SQLite 3.35 and later have it) for the same reason as above.
    op.execute("ALTER TABLE users DROP COLUMN password_expires_at")
    for column in ("message_edited", "template_id", "number_visible_to_sender"):
        op.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
