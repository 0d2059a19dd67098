"""`smartcity cases sweep|show|flags|urges` against a real SQLite file."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typer.testing import CliRunner

from smartcity.cases import service
from smartcity.cli import app, cli_principal
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.db import Database, make_engine
from smartcity.services.types import BASE_NAME

CST = timezone(timedelta(hours=8))


def smartcity(*args: str):  # type: ignore[no-untyped-def]
    # In a worker thread: the commands run their own event loop.
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": ""})
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


async def _open_refused_case(url: str) -> str:
    """A case opened in September 2026 and refused with an empty formula for a reason."""
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            admin = cli_principal()
            with clock.frozen(datetime(2026, 9, 1, 10, tzinfo=CST)):
                late = await service.open_case(
                    session, admin, case_type=BASE_NAME, title="逾期的申请", department_code="SCJGJ"
                )
                refused = await service.open_case(
                    session, admin, case_type=BASE_NAME, title="被拒的申请", department_code="SCJGJ"
                )
            officer = Principal(
                id=None, kind="staff", name="officer", department_id=refused.department_id
            )
            await service.transition(
                session,
                officer,
                refused.id,
                "not_accept",
                fields={"reason": "无", "opinion": "不予受理"},
            )
            return late.number
    finally:
        await db.dispose()


def test_sweep_show_and_flags(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cases.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        number = pool.submit(asyncio.run, _open_refused_case(url)).result()
    swept = smartcity("cases", "sweep", "--database-url", url)
    # Opened 2026-09-01 and still open: its statutory, promised and step limits all ran out.
    assert swept.exit_code == 0 and "3 warnings raised" in swept.output, swept.output
    again = smartcity("cases", "sweep", "--database-url", url)
    assert "0 warnings raised" in again.output
    shown = smartcity("cases", "show", number, "--database-url", url)
    assert shown.exit_code == 0, shown.output
    assert number in shown.output and "[red]" in shown.output and "warning" in shown.output
    flagged = smartcity("cases", "flags", "--database-url", url)
    assert "refusal_without_reason" in flagged.output and "1 open flags" in flagged.output


def test_show_unknown_case_exits_1(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cases.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    r = smartcity("cases", "show", "SQ-20260101-999999", "--database-url", url)
    assert r.exit_code == 1 and "no case" in r.output


async def _urged_case(url: str) -> str:
    """A case urged in September 2026 whose three working days to reply have long passed."""
    from smartcity.cases.service import urging

    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            with clock.frozen(datetime(2026, 9, 1, 10, tzinfo=CST)):
                case_ = await service.open_case(
                    session,
                    cli_principal(),
                    case_type=BASE_NAME,
                    title="被督办的申请",
                    department_code="SCJGJ",
                )
                supervisor = Principal(id=None, kind="supervisor", name="supervisor")
                await urging.urge(session, supervisor, case_.id, "请说明超期原因", 3)
            return case_.number
    finally:
        await db.dispose()


def test_urges_lists_the_unanswered(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cases.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        number = pool.submit(asyncio.run, _urged_case(url)).result()
    listed = smartcity("cases", "urges", "--database-url", url)
    assert listed.exit_code == 0, listed.output
    assert number in listed.output and "请说明超期原因" in listed.output
    # urged Tue 09-01: due at the end of Fri 09-04, overdue now
    assert "reply due 4 Sep 2026" in listed.output and "OVERDUE" in listed.output
    assert "1 urgings await a reply." in listed.output
