"""Granted reads through the exchange per second: POST /api/v1/exchange/resources/
persons-basic/query by a department's system account (API key), one person by ID number per
call, with everything a real call does: the grant check, the registry read, the person access
log row, the SM2 signature over the answer and the hash-chained exchange message log entry.
Against `smartcity serve` in its own process on loopback, driven by httpx with N concurrent
connections.

    python bench/exchange_reads.py [--persons 10000] [--seconds 10] [--concurrency 16]
                                   [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import func, insert, select

from _support import running_server, smartcity
from smartcity.core.db import Database, make_engine
from smartcity.core.ids import is_valid_resident_id, make_resident_id
from smartcity.exchange.models import ExchangeMessage
from smartcity.registry.models import AccessLog, Person

DIVISIONS = ["440303", "440304", "440305", "440306", "440307", "440308"]


async def add_persons(url: str, count: int) -> list[str]:
    """Synthetic persons with valid ID numbers, inserted in bulk (the registry import is
    benchmarked on its own)."""
    rng = random.Random(7)
    numbers: set[str] = set()
    rows = []
    while len(rows) < count:
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        sequence = rng.randrange(1, 999)
        number = make_resident_id(rng.choice(DIVISIONS), born, sequence)
        # Valid numbers only: a district code not yet in use in the birth year is refused.
        if number in numbers or not is_valid_resident_id(number):
            continue
        numbers.add(number)
        rows.append(
            {
                "id": uuid.uuid4(),
                "id_number": number,
                "name": "测试" + "".join(rng.choice("伟芳娜敏静丽强磊军洋") for _ in range(2)),
                "sex": "male" if sequence % 2 else "female",
                "birth_date": born,
                "status": "living",
            }
        )
    db = Database(make_engine(url))
    try:
        for start in range(0, len(rows), 2000):
            async with db.session_scope() as session:
                await session.execute(insert(Person), rows[start : start + 2000])
    finally:
        await db.dispose()
    return sorted(numbers)


async def counts(url: str) -> tuple[int, int]:
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            messages = (await session.execute(select(func.count(ExchangeMessage.seq)))).scalar_one()
            logged = (await session.execute(select(func.count(AccessLog.id)))).scalar_one()
            return int(messages), int(logged)
    finally:
        await db.dispose()


async def load(
    url: str, key: str, numbers: list[str], seconds: float, concurrency: int
) -> tuple[int, int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    rng = random.Random(11)
    async with httpx.AsyncClient(
        base_url=url, headers={"X-API-Key": key}, limits=limits, timeout=30
    ) as client:

        async def worker(n: int) -> None:
            nonlocal errors
            i = 0
            while time.perf_counter() < deadline:
                i += 1
                started = time.perf_counter()
                r = await client.post(
                    "/api/v1/exchange/resources/persons-basic/query",
                    json={
                        "filters": {"id_number": rng.choice(numbers)},
                        "fields": ["name", "sex", "status"],
                        "purpose": "一网通办身份核验",
                    },
                    headers={
                        "X-Road-Client": "CN/GOV/ZWSJJ/bench",
                        "X-Road-Issue": f"BENCH-{n}-{i}",
                    },
                )
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200 or r.json()["count"] != 1:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(
        f"  {len(latencies):,} reads in {elapsed:.1f} s: {len(latencies) / elapsed:,.0f} req/s, "
        f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.1f} ms, errors {errors}"
    )
    return len(latencies), errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    var = Path(tempfile.mkdtemp())
    env = {**os.environ, "SMARTCITY_VAR_DIR": str(var), "SMARTCITY_DATABASE_URL": args.database_url}
    url = args.database_url or f"sqlite+aiosqlite:///{var / 'smartcity.db'}"
    smartcity("db", "upgrade", env=env)
    smartcity("exchange", "seed-demo", env=env)  # the catalog and ZWSJJ's grant on persons
    smartcity(
        "users", "create", "bench.zwsj", "--kind", "system", "--name", "bench",
        "--department", "ZWSJJ", env=env,
    )  # fmt: skip
    out = smartcity("keys", "issue", "bench.zwsj", env=env)
    key = next(word for word in out.split() if word.startswith("sck_"))
    numbers = asyncio.run(add_persons(url, args.persons))
    with running_server(env) as base:
        print(
            "PostgreSQL" if args.database_url else "SQLite (WAL)",
            f"- one uvicorn process, {args.persons:,} persons, {args.concurrency} connections",
        )
        asyncio.run(load(base, key, numbers, 2, args.concurrency))  # warm-up
        asyncio.run(load(base, key, numbers, args.seconds, args.concurrency))
    messages, logged = asyncio.run(counts(url))
    verify = smartcity("exchange", "verify-log", env=env).strip()
    print(f"  exchange messages {messages:,}, access-log rows {logged:,}; {verify}")


if __name__ == "__main__":
    main()
