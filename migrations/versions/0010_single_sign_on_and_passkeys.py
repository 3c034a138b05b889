"""Single sign-on and passkeys (issue 19): the identity provider's issuer and subject an
account is matched to, the random WebAuthn user handle, and the ``passkeys`` table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 00:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.add_column("users", sa.Column("sso_issuer", sa.String(length=255)))
    op.add_column("users", sa.Column("sso_subject", sa.String(length=255)))
    op.add_column("users", sa.Column("webauthn_user_handle", sa.LargeBinary(length=64)))
    op.create_index("ix_users_sso_identity", "users", ["sso_issuer", "sso_subject"], unique=True)
    op.create_index("ix_users_webauthn_user_handle", "users", ["webauthn_user_handle"], unique=True)
    op.create_table(
        "passkeys",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=True),
        sa.Column("user_verified", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_passkeys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
    )
    op.create_index("ix_passkeys_user_id", "passkeys", ["user_id"])
    op.create_index("ix_passkeys_credential_id", "passkeys", ["credential_id"], unique=True)


def downgrade():
    op.drop_index("ix_passkeys_credential_id", table_name="passkeys")
    op.drop_index("ix_passkeys_user_id", table_name="passkeys")
    op.drop_table("passkeys")
    op.drop_index("ix_users_webauthn_user_handle", table_name="users")
    op.drop_index("ix_users_sso_identity", table_name="users")
    # DROP COLUMN as SQL (SQLite 3.35 and later have it), like 0004.
    for column in ("webauthn_user_handle", "sso_subject", "sso_issuer"):
        op.execute(f"ALTER TABLE users DROP COLUMN {column}")
