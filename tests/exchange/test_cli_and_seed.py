"""`smartcity exchange verify-log` and `seed-demo` against a real SQLite file, and the demo
catalog's seeding rules."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from smartcity.cli import app
from smartcity.core import seed
from smartcity.core.authz import Principal
from smartcity.core.db import Database, make_engine
from smartcity.core.errors import NotFound
from smartcity.core.models import Department
from smartcity.exchange import evidence
from smartcity.exchange.models import Grant, Resource
from smartcity.exchange.schemas import ExchangeQuery
from smartcity.exchange.seed import DEMO_CATALOG, PERSONS_BASIC, seed_demo_catalog
from tests.core.factories import ROOT


def smartcity(*args: str):
    # In a worker thread: the commands run their own event loop.
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": ""})
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


async def refused_calls(url: str, n: int) -> None:
    """Calls by a department without a grant: refused, and logged all the same."""
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            rsj = (
                await session.execute(select(Department).where(Department.code == "RSJ"))
            ).scalar_one()
            caller = Principal(id=None, kind="system", name="system.rsj", department_id=rsj.id)
            for _ in range(n):
                answer = await evidence.query_resource(
                    session,
                    caller,
                    PERSONS_BASIC,
                    ExchangeQuery(purpose="测试"),
                    call=evidence.CallHeaders(),
                    method="POST",
                    path="/x",
                    body=b"{}",
                )
                assert answer.status == 403
    finally:
        await db.dispose()


def test_verify_log_finds_an_edited_message(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'exchange.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    seeded = smartcity("exchange", "seed-demo", "--database-url", url)
    assert seeded.exit_code == 0 and "5 catalog entries" in seeded.output, seeded.output
    r = smartcity("exchange", "verify-log", "--database-url", url)
    assert r.exit_code == 0 and "intact" in r.output and "0 exchange messages" in r.output
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, refused_calls(url, 3)).result()
    r = smartcity("exchange", "verify-log", "--database-url", url)
    assert r.exit_code == 0 and "3 exchange messages" in r.output
    with sqlite3.connect(tmp_path / "exchange.db") as conn:
        conn.execute("UPDATE exchange_message SET consumer = 'someone else' WHERE seq = 2")
    r = smartcity("exchange", "verify-log", "--database-url", url)
    assert r.exit_code == 1 and "BROKEN at message 2" in r.output


class TestSeedDemoCatalog:
    async def test_seeds_once_with_the_demo_grant(self, session):
        await seed.seed_departments(session, ROOT)
        assert await seed_demo_catalog(session, ROOT) == len(DEMO_CATALOG) + 1
        assert await seed_demo_catalog(session, ROOT) == 0
        classes = dict((await session.execute(select(Resource.code, Resource.sharing_class))).all())
        assert set(classes.values()) == {"unconditional", "conditional", "none"}
        grant = (await session.execute(select(Grant))).scalar_one()
        assert grant.status == "approved" and "id_number" in grant.granted_fields
        opened = (await session.execute(select(Resource).where(Resource.open_data))).scalars()
        assert sorted(r.source_registry for r in opened) == ["organization", "place"]

    async def test_needs_the_departments(self, session):
        with pytest.raises(NotFound, match="GAJ"):
            await seed_demo_catalog(session, ROOT)
