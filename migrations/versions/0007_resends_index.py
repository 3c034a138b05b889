"""An index on ``attempts.resend_of_id`` (issue 16): the attempt page lists an attempt's
resends, and deleting an attempt checks that no resend points at it. Without the index both
scan the whole table: a purge of 5,000 rows among 400,000 took 280 s on SQLite, 0.02 s with it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:10:00

"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_attempts_resend_of_id", "attempts", ["resend_of_id"])


def downgrade():
    op.drop_index("ix_attempts_resend_of_id", table_name="attempts")
