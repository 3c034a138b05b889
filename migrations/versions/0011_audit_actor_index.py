"""An index on ``audit_events (actor_label, id)``: the audit page's actor filter walks the
log newest first until it has a page, so an actor with nothing recent (someone who left)
read the whole log; at a million events that page took 252 ms instead of 34 ms
(benchmarks/audit.py, docs/performance.md).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:25:00

"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_audit_events_actor_label_id", "audit_events", ["actor_label", "id"])


def downgrade():
    op.drop_index("ix_audit_events_actor_label_id", table_name="audit_events")
