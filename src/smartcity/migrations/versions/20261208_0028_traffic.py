"""The traffic domain: segments, intersections, per-minute state, index history, corridors,
parking facilities and the minute job's mark

Revision ID: 0028
Revises: 0025
Create Date: 2026-12-08 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0028"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = smartcity.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "traffic_segment",
        sa.Column("code", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("road_class", sa.String(length=16), nullable=False),
        sa.Column("lanes", sa.SmallInteger(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("free_flow_kmh", sa.Float(), nullable=False),
        sa.Column("speed_limit_kmh", sa.Float(), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("coordinates", sa.JSON(), nullable=False),
        sa.Column("from_node", sa.String(length=120), nullable=False),
        sa.Column("to_node", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_traffic_segment")),
    )
    op.create_index(op.f("ix_traffic_segment_district_code"), "traffic_segment", ["district_code"])
    op.create_table(
        "traffic_intersection",
        sa.Column("code", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("signal_programs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_traffic_intersection")),
    )
    op.create_table(
        "traffic_segment_state",
        sa.Column("segment_code", sa.String(length=120), nullable=False),
        sa.Column("minute", _TS, nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("flow_vph", sa.Float(), nullable=True),
        sa.Column("occupancy_pct", sa.Float(), nullable=True),
        sa.Column("saturation", sa.Float(), nullable=True),
        sa.Column("tti", sa.Float(), nullable=True),
        sa.Column("tpi", sa.Float(), nullable=True),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("carried", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("segment_code", "minute", name=op.f("pk_traffic_segment_state")),
    )
    op.create_index("ix_traffic_segment_state_minute", "traffic_segment_state", ["minute"])
    op.create_table(
        "traffic_index",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("minute", _TS, nullable=False),
        sa.Column("tpi", sa.Float(), nullable=False),
        sa.Column("tti", sa.Float(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "minute", name=op.f("pk_traffic_index")),
    )
    op.create_table(
        "traffic_corridor",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("segment_codes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_traffic_corridor")),
    )
    op.create_table(
        "traffic_parking",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("free", sa.Integer(), nullable=True),
        sa.Column("free_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_traffic_parking")),
    )
    op.create_table(
        "traffic_job_mark",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("through", _TS, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_traffic_job_mark")),
    )
    op.create_table(
        "traffic_incident",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("segment_code", sa.String(length=120), nullable=False),
        sa.Column("minute", _TS, nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=False),
        sa.Column("baseline_kmh", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traffic_incident")),
    )
    op.create_index("ix_traffic_incident_minute", "traffic_incident", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_traffic_incident_minute", table_name="traffic_incident")
    for table in (
        "traffic_incident",
        "traffic_job_mark",
        "traffic_parking",
        "traffic_corridor",
        "traffic_index",
        "traffic_segment_state",
        "traffic_intersection",
    ):
        op.drop_table(table)
    op.drop_index(op.f("ix_traffic_segment_district_code"), table_name="traffic_segment")
    op.drop_table("traffic_segment")
