"""Open311 GeoReport v2: requests' client rows, their photos and the numbered updates

Revision ID: 0024
Revises: 0019
Create Date: 2026-12-08 03:10:00

``open311_request`` keeps what a client application sent beside the work order (its token,
the client, e-mail and references); ``open311_media`` the uploaded photo; ``open311_update``
each step of the order, numbered for FixMyStreet's ``servicerequestupdates``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0024"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = smartcity.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "open311_request",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("account_ref", sa.String(length=100), nullable=False),
        sa.Column("media_url", sa.String(length=500), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["hotline_order.id"],
            name=op.f("fk_open311_request_order_id_hotline_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_open311_request")),
        sa.UniqueConstraint("token", name=op.f("uq_open311_request_token")),
    )
    with op.batch_alter_table("open311_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open311_request_received_at"), ["received_at"], unique=False
        )
    op.create_table(
        "open311_media",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", UTC_TIME, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["hotline_order.id"],
            name=op.f("fk_open311_media_order_id_hotline_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_media")),
    )
    with op.batch_alter_table("open311_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_open311_media_order_id"), ["order_id"], unique=False)
    op.create_table(
        "open311_update",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("rating", sa.String(length=24), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["hotline_order.id"],
            name=op.f("fk_open311_update_order_id_hotline_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_update")),
    )
    with op.batch_alter_table("open311_update", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_open311_update_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_open311_update_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    for table, indexes in (
        ("open311_update", ("ix_open311_update_order_id", "ix_open311_update_at")),
        ("open311_media", ("ix_open311_media_order_id",)),
        ("open311_request", ("ix_open311_request_received_at",)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(batch_op.f(index))
        op.drop_table(table)
