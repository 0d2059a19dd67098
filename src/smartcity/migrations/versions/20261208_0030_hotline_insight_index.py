"""The hotline insight's covering index on work orders

Revision ID: 0030
Revises: 0027
Create Date: 2026-12-08 03:00:00

``ix_hotline_order_insight`` (received_at, district_code, street_code, category_code,
handling_department_code, department_code): the hot-spot counts of a period per place,
category and day read only this index, for the city or for one department.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_hotline_order_insight",
        "hotline_order",
        [
            "received_at",
            "district_code",
            "street_code",
            "category_code",
            "handling_department_code",
            "department_code",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_hotline_order_insight", table_name="hotline_order")
