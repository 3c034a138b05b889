"""The limit check's indexes carry the status (issue 18): counting a user's or a number's
counted sends in a window reads the index alone, without a table lookup per send.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 00:40:00

"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {
    "phone_e164": "ix_attempts_phone_e164_created_at",
    "user_id": "ix_attempts_user_id_created_at",
}


def upgrade():
    for column, old in INDEXES.items():
        op.create_index(f"{old}_status", "attempts", [column, "created_at", "status"])
        op.drop_index(old, table_name="attempts")


def downgrade():
    for column, old in INDEXES.items():
        op.create_index(old, "attempts", [column, "created_at"])
        op.drop_index(f"{old}_status", table_name="attempts")
