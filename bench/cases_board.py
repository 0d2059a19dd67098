"""The supervision board's queries (电子监察) at 1,000,000 cases, on SQLite and PostgreSQL:
p50 and p99 of `cases.supervision` board (all the page's figures at once), summary,
by_department, by_category, by_month, the red list and the item choices, for a supervisor
(every department) and for one department's staff, each run in its own session one after
another.

The cases are bulk-inserted directly (sqlite3 executemany, asyncpg COPY): 95 % closed over the
last 24 months with handling times, on-time flags and their clocks as the engine sets them,
40 % of those rated (好差评), 5,000 irregularity flags (70 % reviewed); 5 % open in every state
with their warnings (bench/cases_sweep.py generates those).

    python bench/cases_board.py [--cases 1000000] [--runs 50] [--database-url postgresql+asyncpg://...]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases_sweep import (
    CALENDAR,
    CASE_COLUMNS,
    CITY_TZ,
    _ends,
    _items,
    _workdays_back,
    insert_rows,
    machine,
    open_case_rows,
    prepare,
)
from smartcity.core import clock

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=CITY_TZ)
MONTHS_BACK = 24
ID_SPACE = uuid.UUID("6f1d5a52-4b1e-4c55-9a43-5d3c0e2b7a10")


def closed_id(n: int) -> uuid.UUID:
    """The n-th closed case's id: random-looking (as uuid4 are), reproducible for ratings."""
    return uuid.uuid5(ID_SPACE, f"closed-{n}")


def closed_case_rows(
    count: int, departments: dict[str, uuid.UUID], now: datetime, seed: int = 11
) -> Iterator[dict[str, Any]]:
    """Closed cases over the last 24 months: 92 % within the promise, the rest late."""
    rng = random.Random(seed)
    items = _items()
    today = clock.to_city(now).date()
    span = MONTHS_BACK * 30
    for n in range(count):
        code, dep, statutory, promised = items[n % len(items)]
        late = rng.random() < 0.08
        handled = (
            promised + rng.randint(1, max(2, promised // 2 + 2))
            if late
            else int(promised * rng.random() ** 0.7)
        )
        day = _workdays_back(today, handled + 1 + rng.randrange(span * 5 // 7))
        opened = datetime.combine(day, datetime.min.time().replace(hour=9), tzinfo=CITY_TZ)
        opened += timedelta(minutes=rng.randrange(8 * 60))
        s_due, s_warn = _ends(day, statutory)
        p_due, p_warn = _ends(day, promised)
        closed_day = CALENDAR.add_workdays(opened, handled).due_date if handled else day
        closed = datetime.combine(closed_day, datetime.min.time().replace(hour=10), tzinfo=CITY_TZ)
        closed += timedelta(minutes=rng.randrange(7 * 60))
        closed = max(closed, opened + timedelta(minutes=30)).astimezone(UTC)
        state = rng.choices(("delivered", "refused", "not_accepted"), (90, 5, 5))[0]
        yield {
            "id": closed_id(n),
            "number": f"SQ-C{n:09d}",
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
            "statutory_warning": "red" if closed > s_due else "none",
            "promised_due_at": p_due,
            "promised_warn_at": p_warn,
            "promised_warning": "red" if closed > p_due else "none",
            "step_started_at": closed,
            "step_due_at": None,
            "step_warn_at": None,
            "step_warning": "none",
            "next_due_at": min(s_due, p_due),
            "provisional": False,
            "paused_at": None,
            "paused_workdays": 0,
            "closed_at": closed,
            "handled_workdays": handled,
            "on_time": closed <= p_due,
            "version": 1,
        }


def rating_rows(count: int, seed: int = 11) -> Iterator[dict[str, Any]]:
    """Ratings of 40 % of the closed cases."""
    rng = random.Random(seed)
    for n in range(count):
        if rng.random() < 0.4:
            yield {
                "case_id": closed_id(n),
                "score": rng.choices((1, 2, 3, 4, 5), (3, 3, 8, 26, 60))[0],
                "comment": "",
                "rated_at": NOW.astimezone(UTC) - timedelta(days=rng.randrange(700)),
            }


def flag_rows(closed: int, count: int) -> Iterator[dict[str, Any]]:
    """Irregularity flags on random closed cases, 70 % reviewed."""
    rng = random.Random(5)
    kinds = ("qualifying_not_accepted", "refusal_without_reason", "out_of_order", "reopened")
    for _ in range(count):
        raised = NOW.astimezone(UTC) - timedelta(days=rng.randrange(700))
        reviewed = rng.random() < 0.7
        yield {
            "id": uuid.uuid4(),
            "case_id": closed_id(rng.randrange(closed)),
            "kind": rng.choice(kinds),
            "raised_at": raised,
            "actor": "bench",
            "detail": {},
            "reviewed_at": raised + timedelta(days=2) if reviewed else None,
            "reviewed_by": "supervisor" if reviewed else None,
            "review_note": "核查" if reviewed else "",
        }


RATING_COLUMNS = ("case_id", "score", "comment", "rated_at")
FLAG_COLUMNS = (
    "id", "case_id", "kind", "raised_at", "actor", "detail", "reviewed_at", "reviewed_by",
    "review_note",
)  # fmt: skip


async def measure(label: str, run: Callable[[], Awaitable[object]], runs: int) -> None:
    await run()  # warm-up: connections, statement caches
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await run()
        times.append(time.perf_counter() - t0)
    times.sort()

    def p(q: float) -> float:
        return times[min(len(times) - 1, int(q * len(times)))] * 1000

    print(
        f"  {label}: p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, "
        f"mean {statistics.mean(times) * 1000:.0f} ms ({runs} runs)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print(machine(), flush=True)
    url, departments = prepare(args.database_url, "bench_cases_board")
    open_count = args.cases // 20
    closed_count = args.cases - open_count
    started = time.perf_counter()
    insert_rows(url, "case_file", CASE_COLUMNS, closed_case_rows(closed_count, departments, NOW))
    insert_rows(url, "case_file", CASE_COLUMNS, open_case_rows(open_count, departments, NOW))
    insert_rows(url, "case_rating", RATING_COLUMNS, rating_rows(closed_count))
    insert_rows(url, "case_flag", FLAG_COLUMNS, flag_rows(closed_count, 5000))
    backend = "PostgreSQL" if args.database_url else "SQLite (WAL)"
    print(
        f"{backend}: {args.cases:,} cases ({closed_count:,} closed, {open_count:,} open), "
        f"ratings and flags inserted in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    asyncio.run(_board(url, departments, args.runs))


async def _board(url: str, departments: dict[str, uuid.UUID], runs: int) -> None:
    from cases_sweep import sweep
    from smartcity.cases import supervision
    from smartcity.cases.supervision import CaseQuery
    from smartcity.core.authz import Principal
    from smartcity.core.db import Database, make_engine

    raised, seconds = await sweep(url, NOW.astimezone(UTC))
    print(f"  (the sweep at the measuring time raised {raised:,} warnings in {seconds:.1f} s)")
    supervisor = Principal(id=uuid.uuid4(), kind="supervisor", name="bench.supervisor")
    staff = Principal(
        id=uuid.uuid4(), kind="staff", name="bench.scjgj", department_id=departments["SCJGJ"]
    )
    db = Database(make_engine(url))

    def query(
        fn: Callable[..., Awaitable[object]], who: Principal, **kw: Any
    ) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            with clock.frozen(NOW):
                async with db.sessionmaker() as session:
                    return await fn(session, who, **kw)

        return run

    try:
        for who, label in ((supervisor, "supervisor, all departments"), (staff, "staff of SCJGJ")):
            print(f" {label}:", flush=True)
            await measure(
                "board (everything the page shows but the lists)",
                query(supervision.board, who),
                runs,
            )
            await measure("summary (tiles, open by step)", query(supervision.summary, who), runs)
            await measure("by_department", query(supervision.by_department, who), runs)
            await measure("by_category", query(supervision.by_category, who), runs)
            await measure("by_month (12 months)", query(supervision.by_month, who), runs)
            await measure(
                "red list (first 10 and the count)",
                query(supervision.case_list, who, query=CaseQuery(warning="red"), limit=10),
                runs,
            )
            await measure("item choices (categories)", query(supervision.categories, who), runs)
    finally:
        await db.dispose()


if __name__ == "__main__":
    main()
