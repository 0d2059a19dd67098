"""Reads of a large Observations table (观测数据查询): p50/p99 latency of "the latest
Observation of 1,000 Datastreams" (`sensing.extras.latest_observations`, what
`GET /api/v1/sensing/latest` runs) and of a one-day 5-minute aggregate of one Datastream
(`sensing.extras.aggregates`, what `GET /api/v1/sensing/datastreams/{id}/aggregates` runs),
both as the anonymous caller of those public routes.

The table is loaded directly with SQL, not through ingestion: 1,000 Datastreams × N/1,000
rows at one-minute spacing ending now, one day per statement (PostgreSQL: INSERT … SELECT
FROM generate_series into the partitioned parent, month partitions made first, foreign-key
triggers off for the load because the rows are valid by construction; SQLite: INSERT …
SELECT over a recursive CTE).

    python bench/sensing_queries.py --count 10000000 [--database-url postgresql+asyncpg://...]
    python bench/sensing_queries.py --count N --load-only ...     # load, keep the database
    python bench/sensing_queries.py --count N --measure-only ...  # measure a loaded one

PostgreSQL uses (and with --measure-only keeps) the database `bench_sensing_queries`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sensing import City, prepare, seed_city
from _support import machine

STREAMS = 1000
DB_NAME = "bench_sensing_queries"


def _end() -> datetime:
    now = datetime.now(UTC)
    return now.replace(second=0, microsecond=0)


async def load_postgres(url: str, city: City, count: int, end: datetime) -> None:
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    from smartcity.sensing.jobs import month_start, partition_ddl

    minutes = count // len(city.datastreams)
    start = end - timedelta(minutes=minutes)
    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username, database=parsed.database
    )
    try:
        # Every month of the range gets its partition first, so nothing lands in DEFAULT.
        year, month = start.year, start.month
        while month_start(year, month) <= end:
            await conn.execute(partition_ddl(year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        # Foreign-key checks are per-row triggers; the rows are valid by construction.
        await conn.execute("SET session_replication_role = replica")
        done, began, day = 0, time.perf_counter(), start
        while day < end:
            until = min(day + timedelta(days=1), end)
            await conn.execute(
                """INSERT INTO sta_observation
                   (phenomenon_time_start, result_kind, result_number, datastream_id,
                    feature_of_interest_id)
                   SELECT t, 0, (d % 97) + (extract(epoch FROM t)::bigint % 1440) / 10.0, d, $4
                   FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute',
                                        interval '1 minute') AS t
                   CROSS JOIN unnest($3::bigint[]) AS d""",
                day,
                until,
                city.datastreams,
                city.feature_id,
            )
            done += int((until - day).total_seconds() // 60) * len(city.datastreams)
            day = until
            elapsed = time.perf_counter() - began
            print(
                f"  loaded {done:,} rows in {elapsed:,.0f} s ({done / elapsed:,.0f}/s)", flush=True
            )
        await conn.execute("SET session_replication_role = DEFAULT")
        await conn.execute("ANALYZE sta_observation")
    finally:
        await conn.close()


def load_sqlite(url: str, city: City, count: int, end: datetime) -> None:
    import sqlite3

    minutes = count // len(city.datastreams)
    start = end - timedelta(minutes=minutes)
    conn = sqlite3.connect(url.split("///", 1)[1])
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB of page cache for the load
        first, last = min(city.datastreams), max(city.datastreams)
        done, began, day = 0, time.perf_counter(), start
        while day < end:
            until = min(day + timedelta(days=1), end)
            n = int((until - day).total_seconds() // 60)
            base = int(day.timestamp())
            conn.execute(
                """WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < ?)
                   INSERT INTO sta_observation
                   (phenomenon_time_start, result_kind, result_number, datastream_id,
                    feature_of_interest_id)
                   SELECT strftime('%Y-%m-%d %H:%M:%S.000000', ? + m.i * 60, 'unixepoch'),
                          0, (d.id % 97) + ((? / 60 + m.i) % 1440) / 10.0, d.id, ?
                   FROM m CROSS JOIN sta_datastream AS d
                   WHERE d.id BETWEEN ? AND ?""",
                (n - 1, base, base, city.feature_id, first, last),
            )
            conn.commit()
            done += n * len(city.datastreams)
            day = until
            elapsed = time.perf_counter() - began
            print(
                f"  loaded {done:,} rows in {elapsed:,.0f} s ({done / elapsed:,.0f}/s)", flush=True
            )
        conn.execute("ANALYZE")
    finally:
        conn.close()


async def loaded(url: str) -> tuple[City, datetime]:
    """The city and the end of the range of a database a --load-only run left."""
    from sqlalchemy import text

    from smartcity.core.db import Database, make_engine

    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            first, feature, thing = (
                await session.execute(
                    text(
                        "SELECT (SELECT min(id) FROM sta_datastream), "
                        "(SELECT min(id) FROM sta_feature_of_interest), "
                        "(SELECT min(id) FROM sta_thing)"
                    )
                )
            ).one()
            last = await session.scalar(
                text(
                    "SELECT phenomenon_time_start FROM sta_observation "
                    "WHERE datastream_id = :d ORDER BY phenomenon_time_start DESC LIMIT 1"
                ),
                {"d": first},
            )
    finally:
        await db.dispose()
    city = City(list(range(first, first + STREAMS)), feature, thing)
    return city, last + timedelta(minutes=1)


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def measure(url: str, city: City, end: datetime, runs: int) -> dict[str, Any]:
    from smartcity.core.db import Database, make_engine
    from smartcity.sensing import service as extras

    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            stored = await session.scalar(
                __import__("sqlalchemy").text("SELECT count(*) FROM sta_observation")
            )
        latest: list[float] = []
        for _ in range(runs):
            async with db.session_scope() as session:
                began = time.perf_counter()
                page = await extras.latest_observations(
                    session, None, "http://bench/sta/v1.1", limit=1000
                )
                latest.append(time.perf_counter() - began)
            assert len(page.value) == len(city.datastreams)
            assert all(item.observation is not None for item in page.value)
        aggregate: list[float] = []
        start = end - timedelta(minutes=int(stored or 0) // STREAMS)
        # Whole city days (Asia/Shanghai midnight is 16:00 UTC) inside the loaded range.
        last = end.replace(hour=16, minute=0)
        if last > end:
            last -= timedelta(days=1)
        day_ends = []
        while last - timedelta(days=1) >= start:
            day_ends.append(last)
            last -= timedelta(days=1)
        rng = random.Random(5)
        for _ in range(runs):
            stream = rng.choice(city.datastreams)
            day_end = rng.choice(day_ends) if day_ends else end
            request = extras.parse_aggregate_request(
                (day_end - timedelta(days=1)).isoformat(), day_end.isoformat(), "5min", None
            )
            async with db.session_scope() as session:
                began = time.perf_counter()
                result = await extras.aggregates(session, None, stream, request)
                aggregate.append(time.perf_counter() - began)
            assert result.buckets, "the aggregate day has no data"
        return {"stored": stored, "latest": latest, "aggregate": aggregate}
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    from smartcity.app import modules
    from smartcity.core.authz import register_actions

    for module in modules():
        register_actions(module.actions)
    print(machine())
    pg = bool(args.database_url)
    print(f"database: {'PostgreSQL ' + DB_NAME if pg else 'SQLite (temporary file, WAL)'}")
    if args.measure_only:
        if not pg:
            raise SystemExit("--measure-only needs the PostgreSQL database of a --load-only")
        url = prepare(args.database_url, DB_NAME, keep=True)
        city, end = asyncio.run(loaded(url))
    else:
        url = prepare(args.database_url, DB_NAME)
        city = asyncio.run(seed_city(url, STREAMS))
        assert city.datastreams == list(range(city.datastreams[0], city.datastreams[0] + STREAMS))
        end = _end()
        print(f"loading {args.count:,} observations ({STREAMS} datastreams, 1-min spacing)")
        began = time.perf_counter()
        if pg:
            asyncio.run(load_postgres(url, city, args.count, end))
        else:
            load_sqlite(url, city, args.count, end)
        print(f"load: {time.perf_counter() - began:,.0f} s")
        if args.load_only:
            return
    out = asyncio.run(measure(url, city, end, args.runs))
    print(f"stored observations: {out['stored']:,}")
    for name, label in (
        ("latest", "latest of 1,000 datastreams"),
        ("aggregate", "one-day 5-min aggregate of one datastream"),
    ):
        samples = out[name]
        print(
            f"{label}: p50 {_pct(samples, 0.5):.1f} ms, p99 {_pct(samples, 0.99):.1f} ms, "
            f"mean {statistics.mean(samples) * 1000:.1f} ms over {len(samples)} runs"
        )


if __name__ == "__main__":
    main()
