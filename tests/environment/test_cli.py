"""`smartcity environment air|reports|alert-rules` against a real SQLite file."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from smartcity.cli import app
from smartcity.core.db import Database, make_engine
from smartcity.environment.aqi import Pollutant as P
from tests.environment.factories import air_station, report, steady


def smartcity(*args: str) -> Any:
    # In a worker thread: the commands run their own event loop.
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": ""})
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


async def _seed(url: str) -> None:
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            station = await air_station(session, "西乡监测站")
            first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            first -= timedelta(hours=30)
            values = {P.PM2_5: 80.0, P.PM10: 140.0, P.SO2: 10.0, P.NO2: 50.0, P.CO: 1.2, P.O3: 9.0}
            await report(session, station, steady(first, 28, values))
    finally:
        await db.dispose()


def test_bad_dates_exit_2() -> None:
    bad = smartcity("environment", "reports", "--from", "2026-02-30", "--to", "2026-03-01")
    assert bad.exit_code == 2
    assert "--from must be a date" in bad.output
    reversed_ = smartcity("environment", "reports", "--from", "2026-03-05", "--to", "2026-03-01")
    assert reversed_.exit_code == 2
    assert "must not be after" in reversed_.output
    missing = smartcity("environment", "reports", "--from", "2026-03-01")
    assert missing.exit_code == 2


def test_reports_air_and_alert_rules(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'air.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    empty = smartcity("environment", "air", "--database-url", url)
    assert empty.exit_code == 0 and "No air stations yet." in empty.output
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _seed(url)).result()
    today = datetime.now(UTC).date()
    since = (today - timedelta(days=3)).isoformat()
    ran = smartcity(
        "environment", "reports", "--from", since, "--to", today.isoformat(), "--database-url", url
    )
    assert ran.exit_code == 0, ran.output
    assert "hourly and" in ran.output and "for 1 stations" in ran.output
    again = smartcity(
        "environment", "reports", "--from", since, "--to", today.isoformat(), "--database-url", url
    )
    assert again.output.startswith("0 hourly and 0 daily"), again.output
    table = smartcity("environment", "air", "--database-url", url)
    assert table.exit_code == 0
    assert "西乡监测站: AQI 119 轻度污染" in table.output
    # The rules were made with the AQI property; ensuring again makes none.
    rules = smartcity("environment", "alert-rules", "--database-url", url)
    assert rules.exit_code == 0 and "in place" in rules.output
