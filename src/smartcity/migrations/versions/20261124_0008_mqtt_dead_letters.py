"""mqtt dead letters

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 04:42:39.076965
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sta_mqtt_dead_letter",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_bytes", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_mqtt_dead_letter")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("sta_mqtt_dead_letter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sta_mqtt_dead_letter_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sta_mqtt_dead_letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sta_mqtt_dead_letter_received_at"))
    op.drop_table("sta_mqtt_dead_letter")
