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
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(
            sa.Column(
                "number_visible_to_sender", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
        batch.add_column(sa.Column("template_id", sa.String(36), nullable=True))
        batch.add_column(
            sa.Column("message_edited", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_expires_at", sa.DateTime(timezone=True)))
    op.execute("DELETE FROM sign_in_throttles")


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_expires_at")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("message_edited")
        batch.drop_column("template_id")
        batch.drop_column("number_visible_to_sender")
