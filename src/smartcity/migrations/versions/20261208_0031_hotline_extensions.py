"""延期: extensions of a case's limits, and the hotline's requests for them

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08 03:00:00

``case_file`` counts the working days extensions added to its limits (all of them, and those
within the current state for the step limit); ``hotline_extension`` keeps a work order's
requests for 延期 with the 12345 centre's decisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("extended_workdays", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("step_extended_workdays", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "hotline_extension",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["hotline_order.id"],
            name=op.f("fk_hotline_extension_order_id_hotline_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_extension")),
    )
    with op.batch_alter_table("hotline_extension", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hotline_extension_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            "ix_hotline_extension_state_requested", ["state", "requested_at"], unique=False
        )
        batch_op.create_index(
            "uq_hotline_extension_pending",
            ["order_id"],
            unique=True,
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("hotline_extension", schema=None) as batch_op:
        batch_op.drop_index("uq_hotline_extension_pending")
        batch_op.drop_index("ix_hotline_extension_state_requested")
        batch_op.drop_index(batch_op.f("ix_hotline_extension_order_id"))
    op.drop_table("hotline_extension")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_column("step_extended_workdays")
        batch_op.drop_column("extended_workdays")
