"""`smartcity hotline categories|list|show` against a real SQLite file."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from typer.testing import CliRunner

from smartcity.core.db import Database, make_engine
from smartcity.hotline import service
from tests.hotline.factories import report


def smartcity(*args: str):  # type: ignore[no-untyped-def]
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": ""})
    from smartcity.cli import app

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


async def _anonymous_report(url: str) -> str:
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            order = await service.create_order(session, None, report(), channel="web")
            return order.number
    finally:
        await db.dispose()


def test_categories_list_show(tmp_path: Path) -> None:
    tree = smartcity("hotline", "categories")
    assert tree.exit_code == 0 and "01.01.01  占道经营 (Street vending on the road)  → CGJ" in (
        tree.output
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        number = pool.submit(asyncio.run, _anonymous_report(url)).result()
    listed = smartcity("hotline", "list", "--database-url", url)
    assert listed.exit_code == 0 and number in listed.output and "1 of 1" in listed.output
    shown = smartcity("hotline", "show", number, "--database-url", url)
    assert shown.exit_code == 0, shown.output
    assert "state accepted, with ZWSJJ" in shown.output and "caller anonymous" in shown.output
    missing = smartcity("hotline", "show", "GD-20260101-999999", "--database-url", url)
    assert missing.exit_code == 1 and "no work order" in missing.output
    assert smartcity("hotline", "list", "--limit", "201").exit_code == 2
