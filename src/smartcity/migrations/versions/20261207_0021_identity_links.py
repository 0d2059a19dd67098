"""unified identity sign-in: links of accounts to the identity provider, started sign-ins

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-07 23:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0021"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = smartcity.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identity_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_identity_link_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_link")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_identity_link_issuer_subject")),
    )
    op.create_index(
        op.f("ix_identity_link_account_id"), "identity_link", ["account_id"], unique=False
    )
    op.create_table(
        "oidc_login",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_path", sa.String(length=300), nullable=False),
        sa.Column("link_account_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["link_account_id"],
            ["account.id"],
            name=op.f("fk_oidc_login_link_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oidc_login")),
    )


def downgrade() -> None:
    op.drop_table("oidc_login")
    op.drop_index(op.f("ix_identity_link_account_id"), table_name="identity_link")
    op.drop_table("identity_link")
