"""The warning sweep (时限预警) over 100,000 and 1,000,000 open cases, on SQLite and
PostgreSQL: `cases.clocks.sweep_warnings` as the job runs it, once just after midnight (when
the day's limits end and a realistic share of cases crosses a threshold) and once a minute
later (nothing new: the cost of looking).

The cases are bulk-inserted directly (sqlite3 executemany, asyncpg COPY) with their clocks
computed by the platform's working-day calendar: opened within their limits with the demo
catalog's limits, levels as the previous sweep left them, 3 % overdue, some paused for 补正.

    python bench/cases_sweep.py [--cases 100000 1000000] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import machine
from registry_import import fresh_postgres
from smartcity.core import clock, migrate
from smartcity.core.workdays import WorkCalendar, end_of_day

CITY_TZ = clock.CITY_TZ
# The demo catalog's items: (code, department, statutory, promised).
ITEMS: list[tuple[str, str, int, int]] = []
STEP_DAYS = {"submitted": 5}  # the application type's 受理 step limit
SHARE = 0.8  # the type's yellow share


class _RememberingCalendar(WorkCalendar):
    """The official calendar (the package for the years it knows), each day looked up once:
    the package takes tens of microseconds a day and the generators ask millions of times."""

    def __init__(self) -> None:
        super().__init__()
        self._days: dict[date, bool] = {}

    def is_workday(self, day: date) -> bool:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = super().is_workday(day)
        return known


CALENDAR = _RememberingCalendar()


def _items() -> list[tuple[str, str, int, int]]:
    if not ITEMS:
        from smartcity.services.seed import DEMO_ITEMS

        ITEMS.extend(
            (i.code, i.department_code, i.statutory_days, i.promised_days) for i in DEMO_ITEMS
        )
    return ITEMS


@cache
def _ends(day: date, days: int) -> tuple[datetime, datetime]:
    """(due, warn) of a limit of ``days`` working days started on ``day``, as
    cases.service.limits._limit_clock computes them."""
    start = datetime.combine(day, datetime.min.time().replace(hour=10), tzinfo=CITY_TZ)
    due = CALENDAR.add_workdays(start, days)
    warn_days = min(math.ceil(SHARE * days), days - 1)
    if warn_days <= 0:
        return due.at, start.astimezone(UTC)
    return due.at, CALENDAR.add_workdays(start, warn_days).at


@cache
def _workdays_back(day: date, n: int) -> date:
    while n > 0:
        day -= timedelta(days=1)
        n -= CALENDAR.is_workday(day)
    while not CALENDAR.is_workday(day):
        day -= timedelta(days=1)
    return day


def _level(due: datetime | None, warn: datetime | None, at: datetime) -> str:
    if due is None or warn is None:
        return "none"
    if due <= at:
        return "red"
    return "yellow" if warn <= at else "none"


def open_case_rows(
    count: int, departments: dict[str, uuid.UUID], now: datetime, seed: int = 7
) -> Iterator[dict[str, Any]]:
    """Open cases as the previous sweep (a minute before ``now``) left them.

    As in a steady state, a case's age is spread over the time it takes to handle (a share
    of its promised limit) and 3 % are overdue by up to ten working days; the younger ones
    wait for acceptance, the older ones are in review, approved or waiting for 补正."""
    rng = random.Random(seed)
    items = _items()
    before = now - timedelta(minutes=1)
    today = clock.to_city(now).date()
    for n in range(count):
        code, dep, statutory, promised = items[n % len(items)]
        if rng.random() < 0.03:
            elapsed = promised + rng.randint(1, 10)
        else:
            elapsed = int(promised * rng.random() * rng.uniform(0.3, 1.0))
        if elapsed == 0:
            state = "submitted"
        elif elapsed <= 2:
            state = rng.choice(("submitted", "accepted", "reviewing"))
        else:
            state = rng.choices(("reviewing", "approved", "awaiting_supplement"), (70, 20, 10))[0]
        day = _workdays_back(today, elapsed)
        opened = datetime.combine(day, datetime.min.time().replace(hour=9), tzinfo=CITY_TZ)
        opened += timedelta(minutes=rng.randrange(8 * 60))
        s_due, s_warn = _ends(day, statutory)
        p_due, p_warn = _ends(day, promised)
        step_days = STEP_DAYS.get(state)
        step_due = step_warn = None
        if step_days is not None:
            step_due, step_warn = _ends(day, step_days)
        paused = opened + timedelta(days=1) if state == "awaiting_supplement" else None
        dues = [d for d in (s_due, p_due, step_due) if d is not None]
        yield {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "number": f"SQ-B{n:09d}",
            "case_type": "services.application",
            "state": state,
            "title": f"{code} 办件 {n}",
            "department_id": departments[dep],
            "data": {},
            "category": code,
            "opened_at": opened.astimezone(UTC),
            "statutory_days": statutory,
            "promised_days": promised,
            "statutory_due_at": s_due,
            "statutory_warn_at": s_warn,
            "statutory_warning": _level(s_due, s_warn, before),
            "promised_due_at": p_due,
            "promised_warn_at": p_warn,
            "promised_warning": _level(p_due, p_warn, before),
            "step_started_at": opened.astimezone(UTC),
            "step_due_at": step_due,
            "step_warn_at": step_warn,
            "step_warning": _level(step_due, step_warn, before),
            "next_due_at": min(dues),
            "provisional": False,
            "paused_at": paused.astimezone(UTC) if paused else None,
            "paused_workdays": 0,
            "closed_at": None,
            "handled_workdays": None,
            "on_time": None,
            "version": 1,
        }


# --- writing rows the way SQLAlchemy stores them -------------------------------------------

CASE_COLUMNS = (
    "id", "number", "case_type", "state", "title", "applicant_account_id", "department_id",
    "assignee_account_id", "data", "category", "opened_at", "statutory_days", "promised_days",
    "statutory_due_at", "statutory_warn_at", "statutory_warning", "promised_due_at",
    "promised_warn_at", "promised_warning", "step_started_at", "step_due_at", "step_warn_at",
    "step_warning", "next_due_at", "provisional", "paused_at", "paused_workdays", "closed_at",
    "handled_workdays", "on_time", "version",
)  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    # As core.db.UTCDateTime and SQLAlchemy's SQLite types store them.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def insert_sqlite(
    path: str, table: str, columns: Sequence[str], rows: Iterator[dict[str, Any]]
) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    count = 0
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(tuple(_sqlite_value(row.get(c)) for c in columns))
        if len(batch) == 50_000:
            conn.executemany(sql, batch)
            count += len(batch)
            batch.clear()
    if batch:
        conn.executemany(sql, batch)
        count += len(batch)
    conn.commit()
    # No ANALYZE: the platform never runs it on SQLite, so the planner has no statistics.
    conn.close()
    return count


async def insert_postgres(
    url: str, table: str, columns: Sequence[str], rows: Iterator[dict[str, Any]]
) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database,
    )
    count = 0
    try:
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(_pg_value(row.get(c)) for c in columns))
            if len(batch) == 50_000:
                await conn.copy_records_to_table(table, records=batch, columns=list(columns))
                count += len(batch)
                batch.clear()
        if batch:
            await conn.copy_records_to_table(table, records=batch, columns=list(columns))
            count += len(batch)
        # What autovacuum does soon after a bulk load (PostgreSQL 13 and later vacuum after
        # inserts too): statistics, and the visibility map that index-only scans need.
        await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()
    return count


def insert_rows(
    url: str, table: str, columns: Sequence[str], rows: Iterator[dict[str, Any]]
) -> int:
    if url.startswith("sqlite"):
        return insert_sqlite(url.split("///", 1)[1], table, columns, rows)
    return asyncio.run(insert_postgres(url, table, columns, rows))


# --- a database to measure on --------------------------------------------------------------


def prepare(database_url: str, name: str) -> tuple[str, dict[str, uuid.UUID]]:
    """A fresh migrated database with the city's departments; its URL and department ids."""
    if database_url:
        url = asyncio.run(fresh_postgres(database_url, name))
    else:
        var = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        url = f"sqlite+aiosqlite:///{var / 'bench.db'}"
    migrate.upgrade(url)

    async def seed() -> dict[str, uuid.UUID]:
        from sqlalchemy import select

        from smartcity.cli import cli_principal
        from smartcity.core import seed as core_seed
        from smartcity.core.db import Database, make_engine
        from smartcity.core.models import Department

        db = Database(make_engine(url))
        try:
            async with db.session_scope() as session:
                await core_seed.seed_departments(session, cli_principal())
                rows = await session.execute(select(Department.code, Department.id))
                return {code: dep_id for code, dep_id in rows.all()}
        finally:
            await db.dispose()

    return url, asyncio.run(seed())


async def sweep(url: str, now: datetime) -> tuple[int, float]:
    from smartcity.app import modules
    from smartcity.cases import clocks
    from smartcity.core.db import Database, make_engine
    from smartcity.core.module import install

    install(modules())
    db = Database(make_engine(url))
    try:
        started = time.perf_counter()
        async with db.session_scope() as session:
            raised = await clocks.sweep_warnings(session, now=now)
        return raised, time.perf_counter() - started
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--midnight",
        default="2026-11-25",
        help="the day whose midnight the sweep runs just after (the calendar must know it)",
    )
    args = parser.parse_args()
    print(machine())
    day = date.fromisoformat(args.midnight)
    midnight = end_of_day(day - timedelta(days=1))
    now = midnight + timedelta(seconds=30)
    backend = "PostgreSQL" if args.database_url else "SQLite (WAL)"
    for count in args.cases:
        url, departments = prepare(args.database_url, f"bench_cases_sweep_{count}")
        started = time.perf_counter()
        inserted = insert_rows(
            url, "case_file", CASE_COLUMNS, open_case_rows(count, departments, now)
        )
        print(
            f"{backend}: {inserted:,} open cases inserted in {time.perf_counter() - started:.0f} s"
        )
        raised, seconds = asyncio.run(sweep(url, now))
        print(
            f"  sweep just after midnight {day}: {raised:,} warnings raised "
            f"({raised / count:.1%} of the cases) in {seconds:.2f} s"
        )
        raised, seconds = asyncio.run(sweep(url, now + timedelta(minutes=1)))
        print(f"  sweep a minute later: {raised:,} warnings raised in {seconds:.2f} s")


if __name__ == "__main__":
    main()
