"""sensing: computed datastreams; SensorThings ids never reused on SQLite

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The AQI Datastreams environment made before this flag existed: marked by their Sensor.
_AQI_SENSOR = "HJ 633 AQI calculation"
# Tables whose integer ids SensorThings clients see. 0007 rebuilt sta_thing in batch mode and
# lost its AUTOINCREMENT, so SQLite handed a deleted Thing's id out again.
_STA_TABLES = (
    "sta_thing",
    "sta_location",
    "sta_historical_location",
    "sta_sensor",
    "sta_observed_property",
    "sta_datastream",
    "sta_multi_datastream",
    "sta_feature_of_interest",
    "sta_observation",
    "sta_mqtt_dead_letter",
)
_PLAIN_ID = "\tid INTEGER NOT NULL, \n"
_TABLE_PK = "\tPRIMARY KEY (id), \n"


def _autoincrement_on_sqlite() -> None:
    """AUTOINCREMENT by editing the stored CREATE TABLE, as SQLite's own ALTER TABLE page
    describes for changes that leave the stored rows as they are (an INTEGER PRIMARY KEY is
    the rowid with or without it). Rebuilding the table instead would DROP it, and with
    foreign keys on (they cannot be turned off inside the migration's transaction) that
    deletes every Datastream and Observation by cascade."""
    bind = op.get_bind()
    fixed = []
    for table in _STA_TABLES:
        sql = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar()
        if sql is None or "AUTOINCREMENT" in sql.upper():
            continue
        if sql.count(_PLAIN_ID) != 1 or sql.count(_TABLE_PK) != 1:
            raise RuntimeError(f"{table}: unexpected table definition, not changed:\n{sql}")
        new_sql = sql.replace(_PLAIN_ID, "\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \n")
        fixed.append((table, new_sql.replace(_TABLE_PK, "")))
    if not fixed:
        return
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for table, new_sql in fixed:
            bind.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (new_sql, table),
            )
        bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = [row[0] for row in bind.exec_driver_sql("PRAGMA integrity_check").all()]
    if problems != ["ok"]:
        raise RuntimeError(f"integrity check after adding AUTOINCREMENT: {problems}")
    for table, _sql in fixed:
        # The high-water mark starts at the largest id there is (deleted larger ones are gone).
        bind.exec_driver_sql(
            f"INSERT INTO sqlite_sequence (name, seq) SELECT ?, COALESCE(MAX(id), 0) FROM {table}",  # noqa: S608 (a name from _STA_TABLES)
            (table,),
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _autoincrement_on_sqlite()
    # PostgreSQL: the ids are BIGSERIAL (sequences), which never hand a value out twice.
    # A plain ADD COLUMN, never batch mode: batch copies sta_datastream, drops the original
    # (deleting its Observations by cascade, foreign keys being on) and loses AUTOINCREMENT.
    op.add_column(
        "sta_datastream",
        sa.Column("computed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(
        sa.text(
            "UPDATE sta_datastream SET computed = :yes WHERE sensor_id IN "
            "(SELECT id FROM sta_sensor WHERE name = :sensor)"
        ).bindparams(yes=True, sensor=_AQI_SENSOR)
    )


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place; AUTOINCREMENT is kept (it does no harm).
    op.drop_column("sta_datastream", "computed")
