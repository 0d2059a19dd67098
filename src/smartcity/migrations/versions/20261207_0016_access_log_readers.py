"""the access log names who read and folds repeats

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07 21:00:00

Each row of ``person_access_log`` now says who read (the officer's display name, or the
system reading), the exchange grant a machine read was made under, and how many reads of
the same kind on the same city day it stands for (with the last one's time), so repeated
views of one application fold into one row. Existing rows stand for one read each.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person_access_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("actor_name", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("grant_name", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("reads", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("last_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("person_access_log", schema=None) as batch_op:
        batch_op.drop_column("last_at")
        batch_op.drop_column("reads")
        batch_op.drop_column("grant_name")
        batch_op.drop_column("actor_name")
