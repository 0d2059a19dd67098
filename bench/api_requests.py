"""Requests per second of an authenticated JSON endpoint (GET /api/v1/me with an API key:
key lookup, principal, JSON answer), over loopback against `smartcity serve` in its own
process. The load comes from wrk when it is installed (apt-get install wrk), else from a
Python load generator (httpx, N concurrent connections), which itself needs a core.

    python bench/api_requests.py [--seconds 10] [--concurrency 32] [--database-url ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import running_server, smartcity


async def load(url: str, key: str, seconds: float, concurrency: int) -> None:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, limits=limits) as c:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                r = await c.get("/api/v1/me")
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    rate = len(latencies) / elapsed
    mean = statistics.mean(latencies) * 1000
    print(
        f"  {len(latencies):,} requests in {elapsed:.1f} s: {rate:,.0f} req/s, "
        f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, mean {mean:.1f} ms, errors {errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--python-load", action="store_true", help="use httpx even with wrk")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    var = Path(tempfile.mkdtemp())
    env = {**os.environ, "SMARTCITY_VAR_DIR": str(var), "SMARTCITY_DATABASE_URL": args.database_url}
    smartcity("db", "upgrade", env=env)
    smartcity("users", "create", "bench.device", "--kind", "device", "--name", "bench", env=env)
    out = smartcity("keys", "issue", "bench.device", env=env)
    key = next(word for word in out.split() if word.startswith("sck_"))
    with running_server(env) as url:
        print(
            "PostgreSQL" if args.database_url else "SQLite (WAL)",
            f"- one uvicorn process, {args.concurrency} connections",
        )
        asyncio.run(load(url, key, 2, args.concurrency))  # warm-up
        if shutil.which("wrk") and not args.python_load:
            out = subprocess.run(
                [
                    "wrk",
                    "-t2",
                    f"-c{args.concurrency}",
                    f"-d{int(args.seconds)}s",
                    "--latency",
                    "-H",
                    f"X-API-Key: {key}",
                    f"{url}/api/v1/me",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            print("  wrk:", " ".join(out.split()))
        else:
            asyncio.run(load(url, key, args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
