"""督办 on cases and the outcome of a flag's review

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 21:00:00

``case_urge`` holds a supervisor's urging of a department on a case (note, reply deadline in
working days, the department's reply); ``case_flag.review_outcome`` says whether a review
confirmed or dismissed the irregularity (empty on earlier reviews).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_urge",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("urged_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("urged_by", sa.String(length=100), nullable=False),
        sa.Column("urged_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reply_days", sa.Integer(), nullable=False),
        sa.Column("reply_due_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replied_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replied_by", sa.String(length=100), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_urge_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_case_urge_department_id_department"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["urged_by_account_id"],
            ["account.id"],
            name=op.f("fk_case_urge_urged_by_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_urge")),
    )
    with op.batch_alter_table("case_urge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_urge_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_case_urge_open", ["department_id", "replied_at", "reply_due_at"], unique=False
        )
    with op.batch_alter_table("case_flag", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_outcome", sa.String(length=16), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("case_flag", schema=None) as batch_op:
        batch_op.drop_column("review_outcome")
    with op.batch_alter_table("case_urge", schema=None) as batch_op:
        batch_op.drop_index("ix_case_urge_open")
        batch_op.drop_index(batch_op.f("ix_case_urge_case_id"))
    op.drop_table("case_urge")
