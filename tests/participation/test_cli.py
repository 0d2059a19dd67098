"""`smartcity participation list|show|close|figure` against a real SQLite file."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner

from smartcity.core import clock
from smartcity.core.db import Database, make_engine
from smartcity.participation import service
from smartcity.participation.schemas import DocumentCreate
from tests.cases.factories import person
from tests.participation.factories import OWNER, open_draft


def smartcity(*args: str):  # type: ignore[no-untyped-def]
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": ""})
    from smartcity.cli import app

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


async def _drafts(url: str) -> tuple[str, str]:
    """One draft whose window ended a minute ago (not yet closed), one still open."""
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            _a, officer = await person(session, "staff", OWNER)
            with clock.frozen(clock.now() - timedelta(days=30, minutes=1)):
                ended = await open_draft(session, officer, days=30)
            running = await open_draft(session, officer, days=31)
            return ended.number, running.number
    finally:
        await db.dispose()


async def _record(url: str, number: str) -> None:
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            from sqlalchemy import select

            from smartcity.core.models import Account
            from smartcity.core.security import principal_of

            account = (
                await session.execute(select(Account).where(Account.kind == "staff"))
            ).scalar_one()
            await service.record_document(
                session,
                principal_of(account, "cli"),
                DocumentCreate(
                    title="某办法", kind="regulation", adopted_on=date(2030, 5, 1), draft=number
                ),
            )
    finally:
        await db.dispose()


def test_list_show_close_figure(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'participation.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        ended, running = pool.submit(asyncio.run, _drafts(url)).result()
    listed = smartcity("participation", "list", "--database-url", url)
    assert listed.exit_code == 0 and ended in listed.output and "2 drafts." in listed.output
    closed = smartcity("participation", "close", "--database-url", url)
    assert closed.exit_code == 0 and f"1 drafts closed: {ended}" in closed.output
    shown = smartcity("participation", "show", ended, "--database-url", url)
    assert shown.exit_code == 0 and "state closed" in shown.output and "第四条" in shown.output
    assert "state open" in smartcity("participation", "show", running, "--database-url", url).output
    missing = smartcity("participation", "show", "ZQ2026-9999", "--database-url", url)
    assert missing.exit_code == 1 and "no draft" in missing.output
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _record(url, ended)).result()
    figure = smartcity("participation", "figure", "--year", "2030", "--database-url", url)
    assert figure.exit_code == 0, figure.output
    assert "2030: 1 of 1 open for comment ≥ 30 days (100%)." in figure.output
    assert smartcity("participation", "figure", "--year", "1999").exit_code == 2
    assert (
        smartcity("participation", "list", "--state", "gone", "--database-url", url).exit_code == 2
    )
