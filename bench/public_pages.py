"""Requests per second and latency of the public pages under a crowd, from one server
process on the embedded SQLite database while the demo city's simulated devices report to it
(`smartcity demo`: about 300 devices posting every few seconds, the rules and the air report
job running). The load comes from wrk (apt-get install wrk), one page at a time, visitors not
signed in, each connection keeping its cookies out (a new visitor per request).

    python bench/public_pages.py [--seconds 15] [--connections 32] [--threads 2] [--probe]
        [--idle 15] [--slow-callbacks] [--no-feed]

The aim (issue 12): at least 300 requests/s with p99 under 150 ms for every page.

With --probe the server runs with a loop-lag probe (bench/_loop_probe.py): a task in the
server process that sleeps 5 ms and records how late it wakes. The bench prints the lag
first for --idle seconds of the feed alone (no crowd), then for each page's run under wrk.
What blocks the loop shows there whatever else the machine is doing; --slow-callbacks also
prints what held the loop for 20 ms of CPU or more.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _loop_probe import report
from _support import free_port, machine

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Figures:
    rate: float
    p50: float
    p99: float
    requests: int
    errors: int


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse_wrk(out: str) -> Figures:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(g) for g in found.groups())
    return Figures(rate, p50, p99, requests, errors)


def wait_for(url: str, seconds: float, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("smartcity demo stopped before it served")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def sample_paths(base: str) -> list[str]:
    """The public pages with real ids from the seeded city: a station and a service item."""
    air = httpx.get(f"{base}/air", timeout=10).text
    station = re.search(r'href="(/air/stations/\d+)"', air)
    catalogue = httpx.get(f"{base}/services", timeout=10).text
    item = re.search(r'href="(/services/[A-Z]+-\d+)"', catalogue)
    paths = ["/", "/air"]
    paths += [station.group(1)] if station else []
    paths += ["/services"]
    paths += [item.group(1)] if item else []
    paths += ["/licences/verify"]
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warm-up", type=int, default=20, help="seconds of feed before measuring")
    parser.add_argument("--probe", action="store_true", help="measure the server's loop lag")
    parser.add_argument("--idle", type=int, default=15, help="--probe: seconds without a crowd")
    parser.add_argument(
        "--slow-callbacks", action="store_true", help="--probe: log callbacks over 20 ms"
    )
    parser.add_argument("--no-feed", action="store_true", help="serve without the feed")
    parser.add_argument("--only", default="", help="only the pages whose path contains this")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is needed: apt-get install wrk")
    print(machine())
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        env = {
            **os.environ,
            "SMARTCITY_VAR_DIR": var,
            "SMARTCITY_DATABASE_URL": f"sqlite+aiosqlite:///{var}/city.db",
        }
        lags, slow = f"{var}/lags.txt", f"{var}/slow.txt"
        command = [sys.executable, "-m", "smartcity.cli"]
        if args.probe:
            command = [sys.executable, str(Path(__file__).parent / "_loop_probe.py")]
            env["SMARTCITY_LOOP_PROBE"] = lags
            if args.slow_callbacks:
                env["SMARTCITY_LOOP_SLOW"] = slow
        command += ["demo", "--port", str(port)] + (["--no-feed"] if args.no_feed else [])
        server = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/air", 300, server)
            # Let the simulated devices and the report job run, as in a city at work.
            time.sleep(args.warm_up)
            feed = "without the feed" if args.no_feed else "with the simulated feed running"
            print(
                f"smartcity demo on SQLite {feed}; wrk "
                f"-t{args.threads} -c{args.connections} -d{args.seconds}s per page"
            )
            if args.probe:
                started = time.time()
                time.sleep(args.idle)
                for n, line in enumerate(report(lags, started, time.time())):
                    print(f"  {'(no crowd)' if n == 0 else '':<24} {line}")
            worst_rate, worst_p99 = float("inf"), 0.0
            for path in sample_paths(base):
                if args.only not in path:
                    continue
                started = time.time()
                out = subprocess.run(
                    [
                        wrk,
                        f"-t{args.threads}",
                        f"-c{args.connections}",
                        f"-d{args.seconds}s",
                        "--latency",
                        "-H",
                        "Accept: text/html",
                        f"{base}{path}",
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                f = parse_wrk(out)
                worst_rate, worst_p99 = min(worst_rate, f.rate), max(worst_p99, f.p99)
                print(
                    f"  {path:<24} {f.rate:8,.0f} req/s  p50 {f.p50:7.1f} ms  "
                    f"p99 {f.p99:7.1f} ms  ({f.requests:,} requests, {f.errors} errors)"
                )
                if args.probe:
                    for line in report(lags, started, time.time()):
                        print(f"  {'':<24} {line}")
            verdict = "meets" if worst_rate >= 300 and worst_p99 < 150 else "misses"
            print(
                f"slowest page {worst_rate:,.0f} req/s, worst p99 {worst_p99:.1f} ms: {verdict} "
                "the aim of >= 300 req/s with p99 < 150 ms"
            )
            if args.slow_callbacks and os.path.exists(slow):
                print("what held the loop for 20 ms of CPU or more:")
                print(Path(slow).read_text()[-6000:])
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
