"""Migration 0014: the AQI job's watermark leaves the Datastream's SensorThings properties for
the environment's own table, and an upgraded database keeps it (downgrade puts it back)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from smartcity.core import migrate
from smartcity.core.db import make_engine
from tests.conftest import (
    BACKENDS,
    POSTGRES_URL,
    _recreate_postgres_database,
    postgres_database_name,
)

HOUR_MARK = "2026-03-05T05:00:00+00:00"


def _database(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"
    name = postgres_database_name("watermark")
    return asyncio.run(_recreate_postgres_database(POSTGRES_URL, name))


def _run(url: str, *statements: tuple[str, dict[str, Any]]) -> list[list[Any]]:
    """Run statements on the database at ``url`` in one transaction; the rows of each."""

    async def go() -> list[list[Any]]:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                results = [await conn.execute(text(sql), params) for sql, params in statements]
                return [list(r.all()) if r.returns_rows else [] for r in results]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _props(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_moves_the_watermark_and_downgrade_restores_it(
    backend: str, tmp_path: Path
) -> None:
    url = _database(backend, tmp_path)
    migrate.upgrade(url, "0013")
    streams = (
        (1, {"aqi": "1h", "aqiComputedThrough": HOUR_MARK}),
        (2, {"aqi": "24h", "aqiComputedThrough": "2026-03-04"}),
        (3, {"colour": "green"}),
    )
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
            "VALUES (1, 'AQI', 'urn:aqi', '')",
            {},
        ),
        *(
            (
                "INSERT INTO sta_datastream (id, name, description, observation_type, "
                "unit_of_measurement, thing_id, sensor_id, observed_property_id, properties) "
                "VALUES (:id, 'd', '', 'm', '{}', 1, 1, 1, :props)",
                {"id": stream_id, "props": json.dumps(props)},
            )
            for stream_id, props in streams
        ),
    )
    migrate.upgrade(url)
    marks, rows = _run(
        url,
        ("SELECT datastream_id, computed_through FROM environment_aqi_watermark", {}),
        ("SELECT id, properties FROM sta_datastream", {}),
    )
    assert dict(marks) == {1: HOUR_MARK, 2: "2026-03-04"}
    assert {i: _props(p) for i, p in rows} == {
        1: {"aqi": "1h"},
        2: {"aqi": "24h"},
        3: {"colour": "green"},
    }

    command.downgrade(migrate.alembic_config(url), "0013")
    (rows,) = _run(url, ("SELECT id, properties FROM sta_datastream", {}))
    assert {i: _props(p) for i, p in rows} == dict(streams)
