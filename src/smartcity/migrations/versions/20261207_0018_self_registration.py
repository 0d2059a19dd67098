"""self-registration: verified contact addresses of accounts and one-time codes

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-07 21:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = smartcity.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "account_contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("verified_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_contact_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_contact")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_account_contact_channel_address")),
    )
    op.create_index(
        op.f("ix_account_contact_account_id"), "account_contact", ["account_id"], unique=False
    )
    op.create_table(
        "one_time_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_code")),
    )
    op.create_index(op.f("ix_one_time_code_address"), "one_time_code", ["address"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_one_time_code_address"), table_name="one_time_code")
    op.drop_table("one_time_code")
    op.drop_index(op.f("ix_account_contact_account_id"), table_name="account_contact")
    op.drop_table("account_contact")
