"""bilingual data: English names of service items; messages kept as msgid + values

Revision ID: 0019
Revises: 0023
Create Date: 2026-12-07 23:55:00

A message stored before this revision keeps its text (``texts`` stays NULL) and is shown as
written; a new one also carries its msgids and values, so it reads in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_item") as batch:
        batch.add_column(sa.Column("name_en", sa.String(length=200), nullable=True))
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("texts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("texts")
    with op.batch_alter_table("service_item") as batch:
        batch.drop_column("name_en")
