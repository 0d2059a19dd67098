"""The public congestion feed under load (路况数据发布): requests per second and latency
percentiles of ``GET /api/v1/traffic/segments.geojson`` (and, with --path, any other feed)
against a running server on this machine, from an httpx loop of N concurrent clients. The
feed is cached in memory for the minute, so this measures the cached path.

    smartcity demo --port 8616 &          # or any running server with traffic segments
    python bench/traffic_feed.py --url http://127.0.0.1:8616 --seconds 15 --concurrency 32

Only loopback addresses are accepted; the loop stops after --seconds or --requests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import machine


async def load(url: str, seconds: float, concurrency: int, limit: int) -> list[float]:
    import httpx

    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline and len(latencies) < limit:
                t0 = time.perf_counter()
                response = await client.get(url)
                if response.status_code != 200:
                    failures += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        print(f"{failures} responses were not 200")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8616")
    parser.add_argument("--path", default="/api/v1/traffic/segments.geojson")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    host = urlparse(args.url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        parser.error("only a server on this machine (loopback) may be loaded")
    print(machine())
    url = args.url.rstrip("/") + args.path
    started = time.perf_counter()
    latencies = asyncio.run(load(url, args.seconds, args.concurrency, args.requests))
    took = time.perf_counter() - started
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(
        f"{args.path}: {len(latencies):,} requests in {took:.1f} s = {len(latencies) / took:,.0f} "
        f"req/s, {args.concurrency} clients; p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms, mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
