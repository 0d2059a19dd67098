"""sensing access and retention

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 04:35:36.502493
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sta_datastream", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))

    with op.batch_alter_table("sta_multi_datastream", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))

    # A plain ADD COLUMN, never batch mode: on SQLite batch mode copied sta_thing and dropped
    # the original, which (foreign keys on) deleted every Datastream and Observation by
    # cascade, and lost the table's AUTOINCREMENT.
    op.add_column(
        "sta_thing", sa.Column("public", sa.Boolean(), server_default=sa.true(), nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("sta_thing", schema=None) as batch_op:
        batch_op.drop_column("public")

    with op.batch_alter_table("sta_multi_datastream", schema=None) as batch_op:
        batch_op.drop_column("retention_days")

    with op.batch_alter_table("sta_datastream", schema=None) as batch_op:
        batch_op.drop_column("retention_days")
