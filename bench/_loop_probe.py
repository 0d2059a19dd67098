"""`smartcity` with a loop-lag probe in the server process (bench/public_pages.py --probe).

The probe is one more long-running task of the demo module: it sleeps 5 ms, over and over,
and records how late it woke. A late wake-up is time the event loop spent on something else
without yielding (a callback that ran long, a GC pause, a burst of ready callbacks queued
ahead of it): what every request in flight waits through too. Lateness is a property of the
server process alone, so it survives a busy machine better than wrk's wall-clock tail.

    SMARTCITY_LOOP_PROBE=lags.txt python bench/_loop_probe.py demo --port 8000

Every second the probe appends a line ``<unix time> <lag ms> <lag ms> ...`` to the file, and
one ``gc <unix time> <generation> <ms>`` line per garbage collection that took over 5 ms (a
pause of the whole process, in the middle of whatever callback allocated last).
With SMARTCITY_LOOP_SLOW=<file> asyncio's debug mode also logs every callback that ran longer
than 20 ms to that file, naming the task (which code held the loop).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from typing import Any

PERIOD = 0.005
SLOW_CALLBACK = 0.02


async def loop_lag_probe(_runtime: Any) -> None:
    path = os.environ["SMARTCITY_LOOP_PROBE"]
    slow = os.environ.get("SMARTCITY_LOOP_SLOW")
    if slow:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = SLOW_CALLBACK
        handler = logging.FileHandler(slow)
        handler.setFormatter(logging.Formatter("%(created).3f %(message)s"))
        asyncio_log = logging.getLogger("asyncio")
        asyncio_log.addHandler(handler)
        asyncio_log.setLevel(logging.WARNING)
    with open(path, "a", buffering=1) as out:
        collecting = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                collecting[0] = time.perf_counter()
                return
            pause = (time.perf_counter() - collecting[0]) * 1000
            if pause > 5:
                out.write(f"gc {time.time():.3f} {info['generation']} {pause:.1f}\n")

        gc.callbacks.append(on_gc)
        lags: list[float] = []
        flushed = time.time()
        while True:
            started = time.perf_counter()
            await asyncio.sleep(PERIOD)
            lags.append((time.perf_counter() - started - PERIOD) * 1000)
            now = time.time()
            if now - flushed >= 1.0:
                out.write(f"{now:.3f} " + " ".join(f"{lag:.2f}" for lag in lags) + "\n")
                lags, flushed = [], now


def read_lags(path: str, start: float, end: float) -> list[float]:
    """The lags (ms) the probe recorded in the lines written between start and end."""
    lags: list[float] = []
    with open(path) as lines:
        for line in lines:
            stamp, *values = line.split()
            if stamp == "gc":
                continue
            if start < float(stamp) <= end:
                lags += [float(v) for v in values]
    return lags


def read_gc(path: str, start: float, end: float) -> list[tuple[int, float]]:
    """The collections over 5 ms between start and end: (generation, ms)."""
    pauses = []
    with open(path) as lines:
        for line in lines:
            if line.startswith("gc "):
                _gc, stamp, generation, ms = line.split()
                if start < float(stamp) <= end:
                    pauses.append((int(generation), float(ms)))
    return pauses


def gc_summary(pauses: list[tuple[int, float]]) -> str:
    if not pauses:
        return "no collection over 5 ms"
    by_generation: dict[int, list[float]] = {}
    for generation, ms in pauses:
        by_generation.setdefault(generation, []).append(ms)
    return "collections over 5 ms: " + ", ".join(
        f"gen {g} x{len(ms)} (max {max(ms):.0f} ms)" for g, ms in sorted(by_generation.items())
    )


def summary(lags: list[float]) -> str:
    if not lags:
        return "no samples"
    ordered = sorted(lags)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    over = sum(1 for lag in ordered if lag > 50)
    return (
        f"loop lag p50 {ordered[len(ordered) // 2]:5.1f} ms  p99 {p99:6.1f} ms  "
        f"max {ordered[-1]:6.1f} ms  ({over} of {len(ordered)} wake-ups > 50 ms)"
    )


if __name__ == "__main__":
    from smartcity.cli import main
    from smartcity.demo import MODULE

    MODULE.tasks.append(loop_lag_probe)
    main()
