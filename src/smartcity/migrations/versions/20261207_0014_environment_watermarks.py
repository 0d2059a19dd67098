"""the AQI job's watermark in the environment module's own table

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:00:00

How far the air quality job computed each AQI Datastream was kept in the Datastream's
``properties.aqiComputedThrough``, where every SensorThings client saw it. It moves to
``environment_aqi_watermark``: existing values are copied out and the key removed from the
properties; downgrade puts them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "aqiComputedThrough"
STA_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Light table descriptions for the data step (the models may change after this revision).
datastream = sa.table("sta_datastream", sa.column("id", STA_ID), sa.column("properties", sa.JSON))
watermark = sa.table(
    "environment_aqi_watermark",
    sa.column("datastream_id", STA_ID),
    sa.column("computed_through", sa.String(40)),
)


def _streams_with_key(bind: sa.Connection) -> list[tuple[int, dict[str, Any]]]:
    # The JSON is read and written in Python: one way for both dialects, and the AQI
    # Datastreams are a few per air station.
    rows = bind.execute(sa.select(datastream.c.id, datastream.c.properties)).all()
    return [(int(i), dict(p)) for i, p in rows if isinstance(p, dict) and KEY in p]


def upgrade() -> None:
    op.create_table(
        "environment_aqi_watermark",
        sa.Column("datastream_id", STA_ID, nullable=False),
        sa.Column("computed_through", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["sta_datastream.id"],
            name=op.f("fk_environment_aqi_watermark_datastream_id_sta_datastream"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("datastream_id", name=op.f("pk_environment_aqi_watermark")),
    )
    bind = op.get_bind()
    for stream_id, props in _streams_with_key(bind):
        value = props.pop(KEY)
        if isinstance(value, str):
            bind.execute(
                sa.insert(watermark).values(datastream_id=stream_id, computed_through=value)
            )
        bind.execute(
            sa.update(datastream).where(datastream.c.id == stream_id).values(properties=props)
        )


def downgrade() -> None:
    bind = op.get_bind()
    marks = bind.execute(sa.select(watermark.c.datastream_id, watermark.c.computed_through))
    for stream_id, value in marks.all():
        props = bind.execute(
            sa.select(datastream.c.properties).where(datastream.c.id == stream_id)
        ).scalar()
        merged = {**(props if isinstance(props, dict) else {}), KEY: value}
        bind.execute(
            sa.update(datastream).where(datastream.c.id == stream_id).values(properties=merged)
        )
    op.drop_table("environment_aqi_watermark")
