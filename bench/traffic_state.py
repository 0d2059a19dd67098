"""The traffic minute job at city scale (分钟级路况计算): 10,000 segments and 50,000
detectors (video detectors: a flow and a speed Datastream each, 100,000 Datastreams), each
reporting every 30 s, so 200,000 Observations a minute. Made through the traffic module's own
bulk path (``detectors.create_detectors`` → ``sensing.create_things``, COPY on PostgreSQL)
with three minutes of readings; then ``state.compute_state`` is timed for the first minute
(cold: it maps the 100,000 Datastreams to segments) and the next two (warm), as the job runs.

    python bench/traffic_state.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test
    python bench/traffic_state.py --segments 1000 --detectors 5000   # smaller, SQLite
    python bench/traffic_state.py --reuse --database-url ...   # measure the loaded one again

PostgreSQL uses the database ``bench_traffic_state`` (made afresh).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sensing import prepare
from _support import machine

DB_NAME = "bench_traffic_state"


async def _reset(db: object) -> datetime:
    """--reuse: forget the computed state and find the loaded minutes."""
    from sqlalchemy import delete, func, select

    from smartcity.sensing.models import StaObservation
    from smartcity.traffic.models import IndexPoint, JobMark, SegmentState

    async with db.session_scope() as session:  # type: ignore[attr-defined]
        for model in (SegmentState, IndexPoint, JobMark):
            await session.execute(delete(model))
        newest = await session.scalar(select(func.max(StaObservation.phenomenon_time_start)))
    return newest.replace(second=0, microsecond=0) + timedelta(minutes=1)


async def run(url: str, segments: int, detectors_n: int, reuse: bool) -> None:
    from smartcity.app import modules
    from smartcity.core.authz import Principal
    from smartcity.core.db import Database, make_engine
    from smartcity.core.module import install
    from smartcity.traffic import detectors, service
    from smartcity.traffic.netimport import Network, RoadSegment
    from smartcity.traffic.types import FLOW_DEFINITION, SPEED_DEFINITION

    install(modules())
    admin = Principal(id=None, kind="admin", name="bench", via="cli")
    rng = random.Random(1)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    minutes = [end - timedelta(minutes=3 - k) for k in range(3)]
    db = Database(make_engine(url))
    try:
        if reuse:
            end = await _reset(db)
            minutes = [end - timedelta(minutes=3 - k) for k in range(3)]
            await _measure(db, minutes, detectors_n)
            return
        started = time.perf_counter()
        async with db.session_scope() as session:
            roads = [
                RoadSegment(
                    f"S{n:05d}",
                    f"路段{n}",
                    f"Segment {n}",
                    "arterial",
                    3,
                    500.0,
                    60.0,
                    60.0,
                    ((114.0 + n * 1e-4, 22.5), (114.0 + n * 1e-4, 22.505)),
                    f"4403{n % 10:02d}",
                )
                for n in range(segments)
            ]
            await service.import_network(session, admin, Network(roads, []))
        plans = []
        for n in range(detectors_n):
            seg = roads[n % segments]
            times = [m + timedelta(seconds=s) for m in minutes for s in (5, 35)]
            plans.append(
                detectors.DetectorPlan(
                    f"D{n:06d}",
                    "camera",
                    seg.code,
                    seg.coordinates[0][0],
                    seg.coordinates[0][1],
                    {
                        SPEED_DEFINITION: [(t, rng.uniform(15, 65)) for t in times],
                        FLOW_DEFINITION: [(t, rng.uniform(200, 1800)) for t in times],
                    },
                )
            )
        for chunk in range(0, len(plans), 10_000):
            async with db.session_scope() as session:
                await detectors.create_detectors(session, admin, plans[chunk : chunk + 10_000])
        loaded = time.perf_counter() - started
        print(
            f"loaded {segments:,} segments, {detectors_n:,} detectors, "
            f"{detectors_n * 2:,} Datastreams, {detectors_n * 2 * 6:,} Observations "
            f"in {loaded:.1f} s"
        )
        await _measure(db, minutes, detectors_n)
    finally:
        await db.dispose()


async def _measure(db: object, minutes: list[datetime], detectors_n: int) -> None:
    from smartcity.traffic import state

    state.forget_detectors()
    for k, minute in enumerate(minutes):
        async with db.session_scope() as session:  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            outcome = await state.compute_state(session, minute + timedelta(minutes=1, seconds=5))
            await session.commit()
            took = time.perf_counter() - t0
        label = "cold (maps the Datastreams)" if k == 0 else "warm"
        print(
            f"minute {k + 1}: {len(outcome.minutes)} minute, {outcome.states:,} states, "
            f"{detectors_n * 4:,} readings read: {took:.2f} s ({label})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--detectors", type=int, default=50_000)
    parser.add_argument("--reuse", action="store_true", help="measure a loaded database again")
    args = parser.parse_args()
    print(machine())
    url = prepare(args.database_url, DB_NAME, keep=args.reuse)
    print(f"database: {url.split('@')[-1]}")
    asyncio.run(run(url, args.segments, args.detectors, args.reuse))


if __name__ == "__main__":
    main()
