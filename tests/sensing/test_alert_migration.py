"""Migration 0017: alerts count their raises and keep a history. Existing alerts were raised
once, at their opening, and their history is rebuilt from the times they carry; downgrade
drops both again. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from smartcity.core import migrate
from smartcity.core.db import make_engine
from tests.conftest import (
    BACKENDS,
    POSTGRES_URL,
    _recreate_postgres_database,
    postgres_database_name,
)

OPENED = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _database(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"
    name = postgres_database_name("alertfold")
    return asyncio.run(_recreate_postgres_database(POSTGRES_URL, name))


def _run(url: str, *statements: tuple[str, dict[str, Any]]) -> list[list[Any]]:
    async def go() -> list[list[Any]]:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                results = [await conn.execute(text(sql), params) for sql, params in statements]
                return [list(r.all()) if r.returns_rows else [] for r in results]
        finally:
            await engine.dispose()

    return asyncio.run(go())


ALERT = (
    "INSERT INTO sensing_alert (id, rule_id, datastream_id, status, severity, opened_at, "
    "first_value, last_value, last_time, breach_count, message, acknowledged_at, "
    "acknowledged_by, resolved_at, resolved_by, resolution, note) VALUES (:id, 1, :stream, "
    ":status, 'warning', :opened, 120, 80, :opened, 3, '120 高于阈值', :ack, :ack_by, "
    ":resolved, :by, :resolution, :note)"
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_existing_alerts_are_carried_over_and_downgrade_drops_the_history(
    backend: str, tmp_path: Path
) -> None:
    url = _database(backend, tmp_path)
    migrate.upgrade(url, "0018")
    rows = [
        # open; acknowledged; cleared by itself; resolved by hand after acknowledging
        {"id": 1, "status": "open", "ack": None, "ack_by": None, "resolved": None, "by": None,
         "resolution": None, "note": ""},
        {"id": 2, "status": "acknowledged", "ack": LATER, "ack_by": "李工", "resolved": None,
         "by": None, "resolution": None, "note": "在查"},
        {"id": 3, "status": "resolved", "ack": None, "ack_by": None, "resolved": LATER,
         "by": "platform", "resolution": "auto", "note": "回落"},
        {"id": 4, "status": "resolved", "ack": LATER, "ack_by": "李工", "resolved": LATER,
         "by": "李工", "resolution": "manual", "note": "已更换"},
    ]  # fmt: skip
    _run(
        url,
        ("INSERT INTO sta_thing (id, name, description) VALUES (1, 'station', '')", {}),
        (
            "INSERT INTO sta_sensor (id, name, description, encoding_type, metadata) "
            "VALUES (1, 's', '', 'text/html', '\"x\"')",
            {},
        ),
        (
            "INSERT INTO sta_observed_property (id, name, definition, description) "
            "VALUES (1, 'PM2.5', 'urn:pm25', '')",
            {},
        ),
        (
            "INSERT INTO sta_datastream (id, name, description, observation_type, "
            "unit_of_measurement, thing_id, sensor_id, observed_property_id, properties) "
            "VALUES (:id, 'd', '', 'm', '{}', 1, 1, 1, '{}')",
            {"id": 1},
        ),
        (
            "INSERT INTO sta_datastream (id, name, description, observation_type, "
            "unit_of_measurement, thing_id, sensor_id, observed_property_id, properties) "
            "VALUES (:id, 'd', '', 'm', '{}', 1, 1, 1, '{}')",
            {"id": 2},
        ),
        (
            "INSERT INTO sensing_rule (id, name, kind, params, severity, datastream_id, active, "
            "created_at, updated_at) VALUES (1, 'r', 'threshold', "
            '\'{"op": "above", "value": 100, "hysteresis": 10}\', \'warning\', 1, :yes, '
            ":at, :at)",
            {"at": OPENED, "yes": True},
        ),
        *((ALERT, {"stream": 2 if row["id"] == 2 else 1, **row, "opened": OPENED}) for row in rows),
    )
    migrate.upgrade(url)
    counts, same, events = _run(
        url,
        ("SELECT id, raise_count FROM sensing_alert ORDER BY id", {}),
        ("SELECT count(*) FROM sensing_alert WHERE last_raised_at = opened_at", {}),
        ("SELECT alert_id, kind, actor, note FROM sensing_alert_event ORDER BY alert_id, id", {}),
    )
    assert counts == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert same == [(4,)]
    assert [tuple(e) for e in events] == [
        (1, "raised", "platform", ""),
        (2, "raised", "platform", ""),
        (2, "acknowledged", "李工", "在查"),
        (3, "raised", "platform", ""),
        (3, "auto_resolved", "platform", "回落"),
        (4, "raised", "platform", ""),
        (4, "acknowledged", "李工", ""),
        (4, "resolved", "李工", "已更换"),
    ]
    # The partial unique index still holds one unresolved alert per rule and stream.
    with pytest.raises(IntegrityError):
        _run(
            url,
            (
                "INSERT INTO sensing_alert (id, rule_id, datastream_id, status, severity, "
                "opened_at, last_time, breach_count, raise_count, last_raised_at, message, "
                "note) VALUES (5, 1, 1, 'open', 'warning', :at, :at, 1, 1, :at, '', '')",
                {"at": LATER},
            ),
        )

    command.downgrade(migrate.alembic_config(url), "0018")
    (columns,) = _run(url, ("SELECT * FROM sensing_alert WHERE id = 1", {}))
    assert len(columns) == 1 and "raise_count" not in dict(columns[0]._mapping)
    with pytest.raises(DBAPIError, match=r"(?i)sensing_alert_event"):
        _run(url, ("SELECT count(*) FROM sensing_alert_event", {}))
