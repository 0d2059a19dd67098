"""The 12345 insight's queries at N work orders (1,000,000 by default), on PostgreSQL (or
SQLite without --database-url): p50 and p99 of the hot-spot aggregate of one month
(`hotline.insight.service.hotspots`: per place, per category, per day) for the whole city,
per street with a category chosen, and for one department's staff; and of the KPI table of
a month per department, each run in its own session one after another.

The orders (and the closed cases they point at) are bulk-inserted (asyncpg COPY, sqlite3
executemany), spread evenly over the 12 months before 24 November 2026 across Shenzhen's 10
districts, 70 streets and every leaf category; then VACUUM ANALYZE.

    python bench/hotline_insight.py [--orders 1000000] [--runs 50] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases_board import closed_case_rows, closed_id
from cases_sweep import CASE_COLUMNS, insert_rows, machine, prepare

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
MONTH = date(2026, 10, 15)
DISTRICTS = ("440303", "440304", "440305", "440306", "440307", "440308", "440309", "440310")
DISTRICTS += ("440311", "440312")
STREETS = [f"{d}{n:03d}" for d in DISTRICTS for n in range(1, 8)]
ORDER_COLUMNS = (
    "id", "case_id", "number", "kind", "category_code", "channel", "text", "address", "lon",
    "lat", "district_code", "street_code", "anonymous", "caller_name", "caller_phone", "state",
    "department_code", "limit_days", "received_at", "dispatched_at", "handling_department_code",
    "reworks", "reply", "rating", "closed_at",
)  # fmt: skip
TEXTS = (
    "地铁站门口共享单车乱停放，影响通行",
    "工地夜间施工噪声扰民",
    "小区路灯不亮已经一周",
    "人行道上流动摊贩占道经营",
    "垃圾清运不及时，气味很大",
)


def order_rows(count: int, departments: list[str], seed: int = 7) -> Iterator[dict[str, Any]]:
    from smartcity.hotline.categories import LEAVES

    rng = random.Random(seed)
    leaves = sorted(LEAVES)
    span = 365 * 24 * 3600
    for n in range(count):
        received = NOW - timedelta(seconds=rng.randrange(span))
        street = rng.choice(STREETS)
        leaf = leaves[n % len(leaves)]
        dep = LEAVES[leaf].department or departments[n % len(departments)]
        rating = rng.choices(("satisfied", "basically_satisfied", "dissatisfied"), (80, 12, 8))[0]
        yield {
            "id": uuid.uuid4(),
            "case_id": closed_id(n),
            "number": f"GD-B{n:09d}",
            "kind": "complaint",
            "category_code": leaf,
            "channel": "phone",
            "text": TEXTS[n % len(TEXTS)],
            "address": "",
            "lon": None,
            "lat": None,
            "district_code": street[:6],
            "street_code": street,
            "anonymous": False,
            "caller_name": "",
            "caller_phone": "",
            "state": "closed",
            "department_code": "ZWSJJ",
            "limit_days": 13,
            "received_at": received,
            "dispatched_at": received + timedelta(minutes=30),
            "handling_department_code": dep,
            "reworks": 1 if rating == "dissatisfied" else 0,
            "reply": "",
            "rating": rating,
            "closed_at": received + timedelta(days=rng.randint(1, 15)),
        }


async def vacuum(url: str) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.split("///", 1)[1])
        con.execute("ANALYZE")
        con.close()
        return
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
    try:
        await conn.execute("VACUUM ANALYZE hotline_order")
        await conn.execute("VACUUM ANALYZE case_file")
    finally:
        await conn.close()


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms"


async def measure(url: str, runs: int, staff_department: uuid.UUID) -> None:
    from smartcity.app import modules
    from smartcity.core.authz import Principal
    from smartcity.core.db import Database, make_engine
    from smartcity.core.module import install
    from smartcity.hotline.insight import service as insight

    install(modules())
    supervisor = Principal(id=None, kind="supervisor", name="bench", via="system")
    staff = Principal(
        id=uuid.uuid4(), kind="staff", name="bench", via="system", department_id=staff_department
    )
    month = insight.window("month", MONTH)
    db = Database(make_engine(url))
    cases: list[tuple[str, Callable[[Any], Awaitable[Any]]]] = [
        ("hot spots, a month, city", lambda s: insight.hotspots(s, supervisor, month)),
        (
            "hot spots, a month, streets, one category",
            lambda s: insight.hotspots(s, supervisor, month, level="street", category="01"),
        ),
        ("hot spots, a month, one department", lambda s: insight.hotspots(s, staff, month)),
        ("KPIs per department, a month", lambda s: insight.kpis(s, supervisor, month)),
    ]
    try:
        for name, run in cases:
            samples: list[float] = []
            for i in range(runs + 2):
                async with db.session_scope() as session:
                    started = time.perf_counter()
                    found = await run(session)
                    elapsed = time.perf_counter() - started
                if i >= 2:  # the first two warm the caches
                    samples.append(elapsed)
            total = getattr(found, "total", None)
            size = total if isinstance(total, int) else getattr(total, "received", "")
            print(f"{name:45s} {figures(samples)}   ({size} orders)")
    finally:
        await db.dispose()


async def _department(url: str) -> uuid.UUID:
    from sqlalchemy import select

    from smartcity.core.db import Database, make_engine
    from smartcity.core.models import Department

    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            found = await session.execute(select(Department.id).where(Department.code == "CGJ"))
            return found.scalar_one()
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--reuse", default="", help="measure on a database this script seeded before (its URL)"
    )
    args = parser.parse_args()
    if args.reuse:
        asyncio.run(vacuum(args.reuse))
        asyncio.run(measure(args.reuse, args.runs, asyncio.run(_department(args.reuse))))
        return
    print(machine(), flush=True)
    from smartcity.app import modules
    from smartcity.core.module import install

    install(modules())  # the actions the seeding authorizes
    url, departments = prepare(args.database_url, "hotline-insight")
    started = time.perf_counter()
    insert_rows(url, "case_file", CASE_COLUMNS, closed_case_rows(args.orders, departments, NOW))
    codes = sorted(departments)
    insert_rows(url, "hotline_order", ORDER_COLUMNS, order_rows(args.orders, codes))
    asyncio.run(vacuum(url))
    backend = "PostgreSQL" if args.database_url else "SQLite (WAL)"
    elapsed = time.perf_counter() - started
    print(f"{backend}: {args.orders:,} orders seeded in {elapsed:.0f} s", flush=True)
    staff_department = departments.get("CGJ") or next(iter(departments.values()))
    asyncio.run(measure(url, args.runs, staff_department))


if __name__ == "__main__":
    main()
