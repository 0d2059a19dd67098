"""sensor alerts fold flapping repeats and keep their history

Revision ID: 0017
Revises: 0018
Create Date: 2026-12-07 23:45:00

``sensing_alert`` counts how often its rule raised it (``raise_count``) and when it last did
(``last_raised_at``): a rule that raises again soon after its alert cleared by itself reopens
that alert instead of opening another. ``sensing_alert_event`` keeps each step of an alert:
raised, reopened, auto_resolved, acknowledged, resolved, by whom, when, with the value and the
note. Existing alerts were raised once, at their opening; their history is rebuilt from the
times they carry.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0017"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STA_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("sensing_alert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("raise_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("last_raised_at", smartcity.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE sensing_alert SET last_raised_at = opened_at")
    with op.batch_alter_table("sensing_alert", schema=None) as batch_op:
        batch_op.alter_column(
            "last_raised_at",
            existing_type=smartcity.core.db.UTCDateTime(timezone=True),
            nullable=False,
        )
        batch_op.create_index("ix_sensing_alert_last_raised", ["last_raised_at"], unique=False)

    op.create_table(
        "sensing_alert_event",
        sa.Column("id", STA_ID, autoincrement=True, nullable=False),
        sa.Column("alert_id", STA_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", smartcity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reading_time", smartcity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["sensing_alert.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("sensing_alert_event", schema=None) as batch_op:
        batch_op.create_index("ix_sensing_alert_event_alert", ["alert_id", "id"], unique=False)

    # The history of the alerts already there, in the order their steps happened.
    op.execute(
        "INSERT INTO sensing_alert_event (alert_id, kind, at, reading_time, value, actor, note) "
        "SELECT id, 'raised', opened_at, NULL, first_value, 'platform', '' "
        "FROM sensing_alert ORDER BY id"
    )
    op.execute(
        "INSERT INTO sensing_alert_event (alert_id, kind, at, reading_time, value, actor, note) "
        "SELECT id, 'acknowledged', acknowledged_at, NULL, NULL, "
        "COALESCE(acknowledged_by, ''), CASE WHEN resolved_at IS NULL THEN note ELSE '' END "
        "FROM sensing_alert WHERE acknowledged_at IS NOT NULL ORDER BY id"
    )
    op.execute(
        "INSERT INTO sensing_alert_event (alert_id, kind, at, reading_time, value, actor, note) "
        "SELECT id, CASE WHEN resolution = 'auto' THEN 'auto_resolved' ELSE 'resolved' END, "
        "resolved_at, last_time, last_value, COALESCE(resolved_by, ''), note "
        "FROM sensing_alert WHERE resolved_at IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table("sensing_alert_event", schema=None) as batch_op:
        batch_op.drop_index("ix_sensing_alert_event_alert")
    op.drop_table("sensing_alert_event")
    with op.batch_alter_table("sensing_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_sensing_alert_last_raised")
        batch_op.drop_column("last_raised_at")
        batch_op.drop_column("raise_count")
