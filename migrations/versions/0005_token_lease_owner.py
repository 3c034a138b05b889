"""The token renewal lease names its owner (issue 16): only the worker that took it clears it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("provider_accounts", sa.Column("token_lease_owner", sa.String(32), nullable=True))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+), like 0004: no batch copy of the table.
    op.execute("ALTER TABLE provider_accounts DROP COLUMN token_lease_owner")
