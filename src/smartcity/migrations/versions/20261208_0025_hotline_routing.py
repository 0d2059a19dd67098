"""The hotline's routing: trained classifiers, each order's routing, duplicate proposals

Revision ID: 0025
Revises: 0031
Create Date: 2026-12-08 03:10:00

``hotline_model`` keeps each trained classifier (version, metrics, joblib bytes, shipped when
it beat the majority baseline); ``hotline_routing`` what routing decided for an order (model
version, confidence, auto/queue/manual/none, the top three); ``hotline_duplicate`` the
proposals to merge a new order into an open one, and the merges.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0025"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hotline_model",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trained_on", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("shipped", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_model")),
        sa.UniqueConstraint("version", name=op.f("uq_hotline_model_version")),
    )
    with op.batch_alter_table("hotline_model", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hotline_model_shipped"), ["shipped"], unique=False)
    op.create_table(
        "hotline_routing",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("routed_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["hotline_order.id"],
            name=op.f("fk_hotline_routing_order_id_hotline_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_hotline_routing")),
    )
    op.create_table(
        "hotline_duplicate",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("proposed_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["hotline_order.id"],
            name=op.f("fk_hotline_duplicate_order_id_hotline_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["hotline_order.id"],
            name=op.f("fk_hotline_duplicate_parent_id_hotline_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_duplicate")),
    )
    with op.batch_alter_table("hotline_duplicate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hotline_duplicate_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hotline_duplicate_parent_id"), ["parent_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_hotline_duplicate_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hotline_duplicate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotline_duplicate_state"))
        batch_op.drop_index(batch_op.f("ix_hotline_duplicate_parent_id"))
        batch_op.drop_index(batch_op.f("ix_hotline_duplicate_order_id"))
    op.drop_table("hotline_duplicate")
    op.drop_table("hotline_routing")
    with op.batch_alter_table("hotline_model", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotline_model_shipped"))
    op.drop_table("hotline_model")
