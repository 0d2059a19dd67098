"""Person lookups at 1,000,000 persons through the real API: p50/p99 latency of
GET /api/v1/registry/persons?id_number=... and ?name_prefix=... (each answer also writes its
access-log rows), one client after another over loopback against `smartcity serve` in its own
process, authenticated with the API key of 公安局's system account.

    python bench/registry_lookup.py [--persons 1000000] [--requests 1000] [--database-url ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import running_server
from registry_import import person_name, prepare, resident_id, smartcity, write_persons


def measure(
    client: httpx.Client, label: str, params: Callable[[], dict[str, str]], count: int
) -> None:
    for _ in range(min(50, count)):  # warm-up: connections, caches, prepared statements
        client.get("/api/v1/registry/persons", params=params()).raise_for_status()
    latencies, found = [], 0
    started = time.perf_counter()
    for _ in range(count):
        query = params()
        t0 = time.perf_counter()
        response = client.get("/api/v1/registry/persons", params=query)
        latencies.append(time.perf_counter() - t0)
        response.raise_for_status()
        found += len(response.json()["items"])
    elapsed = time.perf_counter() - started
    latencies.sort()

    def p(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(
        f"  {label}: {count:,} requests, p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.1f} ms, {count / elapsed:,.0f} req/s, "
        f"{found / count:.1f} persons per answer"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    var = Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    env = prepare(args.database_url, var, "bench_registry_lookup")
    path = var / "persons.csv"
    write_persons(path, args.persons)
    started = time.perf_counter()
    smartcity("registry", "import", "persons", str(path), env=env)
    print(f"seeded {args.persons:,} persons in {time.perf_counter() - started:.0f} s")
    path.unlink()
    smartcity(
        "users", "create", "bench.gaj", "--kind", "system", "--name", "公安局人口库接口",
        "--department", "GAJ", env=env,
    )  # fmt: skip
    out = smartcity("keys", "issue", "bench.gaj", env=env)
    key = next(word for word in out.split() if word.startswith("sck_"))
    rng = random.Random(7)
    with running_server(env, startup_seconds=60) as url:
        print(
            "PostgreSQL" if args.database_url else "SQLite (WAL)",
            f"- {args.persons:,} persons, one uvicorn process, one client, sequential requests",
        )
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
            measure(
                client,
                "by ID number",
                lambda: {"id_number": resident_id(rng.randrange(args.persons))},
                args.requests,
            )
            measure(
                client,
                "by name prefix (2 characters, first page of 50)",
                lambda: {"name_prefix": person_name(rng.randrange(args.persons))[:2]},
                args.requests,
            )


if __name__ == "__main__":
    main()
