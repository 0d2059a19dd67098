"""sensing: computed datastreams

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The AQI Datastreams environment made before this flag existed: marked by their Sensor.
_AQI_SENSOR = "HJ 633 AQI calculation"


def upgrade() -> None:
    # ADD COLUMN in place (batch mode copies the table only when it must): the table keeps
    # its AUTOINCREMENT on SQLite.
    with op.batch_alter_table('sta_datastream', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('computed', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        sa.text(
            "UPDATE sta_datastream SET computed = :yes WHERE sensor_id IN "
            "(SELECT id FROM sta_sensor WHERE name = :sensor)"
        ).bindparams(yes=True, sensor=_AQI_SENSOR)
    )


def downgrade() -> None:
    with op.batch_alter_table('sta_datastream', schema=None) as batch_op:
        batch_op.drop_column('computed')
