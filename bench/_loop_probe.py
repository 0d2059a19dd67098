"""`smartcity` with a loop-lag probe in the server process (bench/public_pages.py --probe).

The probe is one more long-running task of the demo module: it sleeps 5 ms, over and over,
and records how late it woke. A late wake-up is time the event loop spent on something else
without yielding (a callback that ran long, a GC pause, a burst of ready callbacks queued
ahead of it): what every request in flight waits through too. Lateness is a property of the
server process alone, so it survives a busy machine better than wrk's wall-clock tail.

    SMARTCITY_LOOP_PROBE=lags.txt python bench/_loop_probe.py demo --port 8000

Every second the probe appends a line ``<unix time> <lag>/<own> <lag>/<own> ...`` to the file
(ms): how late each wake-up was, and how much of that lateness the server process itself was
on a CPU (any of its threads: the loop, SQLite's thread). On a machine shared with other work
a process also waits for a CPU; ``own`` leaves that wait out, ``lag`` is what a request saw.
And
one ``gc <unix time> <generation> <ms> <CPU ms>`` line per garbage collection that took over
5 ms (a pause of the whole process, in the middle of whatever callback allocated last).
With SMARTCITY_LOOP_SLOW=<file> a watcher thread writes to that file what the loop's thread
is running whenever it has used 20 ms of CPU without letting the probe wake (its stack: which
code held the loop). CPU time of the thread, not wall-clock time, so being descheduled by a
busy machine is not blamed; and it works under uvloop, where asyncio's debug mode does not
name the callback.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
import traceback
from typing import Any

PERIOD = 0.005
SLOW_CALLBACK = 0.02


async def loop_lag_probe(_runtime: Any) -> None:
    path = os.environ["SMARTCITY_LOOP_PROBE"]
    slow = os.environ.get("SMARTCITY_LOOP_SLOW")
    heartbeat = [0.0]
    cpu = time.pthread_getcpuclockid(threading.get_ident())
    if slow:
        heartbeat[0] = time.clock_gettime(cpu)
        threading.Thread(target=_watch_stalls, args=(slow, heartbeat), daemon=True).start()
    # Opened once, before the probing starts; the writes are line-buffered and small.
    with open(path, "a", buffering=1) as out:  # noqa: ASYNC230
        collecting = [0.0, 0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                collecting[:] = [time.perf_counter(), time.thread_time()]
                return
            pause = (time.perf_counter() - collecting[0]) * 1000
            cpu = (time.thread_time() - collecting[1]) * 1000
            if pause > 5:
                out.write(f"gc {time.time():.3f} {info['generation']} {pause:.1f} {cpu:.1f}\n")

        gc.callbacks.append(on_gc)
        lags: list[str] = []
        flushed = time.time()
        while True:
            started, ran = time.perf_counter(), time.process_time()
            await asyncio.sleep(PERIOD)
            lag = max(0.0, time.perf_counter() - started - PERIOD)
            own = min(lag, time.process_time() - ran)
            lags.append(f"{lag * 1000:.2f}/{own * 1000:.2f}")
            if slow:
                heartbeat[0] = time.clock_gettime(cpu)
            now = time.time()
            if now - flushed >= 1.0:
                out.write(f"{now:.3f} " + " ".join(lags) + "\n")
                lags, flushed = [], now


def _watch_stalls(path: str, heartbeat: list[float]) -> None:
    """A thread that, whenever the loop thread has used SLOW_CALLBACK of CPU since the probe
    last woke, writes down what the loop thread is running (one stack per stall, then one
    per further SLOW_CALLBACK of it)."""
    main = threading.main_thread().ident
    assert main is not None
    cpu = time.pthread_getcpuclockid(main)
    with open(path, "a", buffering=1) as out:
        reported = heartbeat[0]
        while True:
            time.sleep(0.002)
            used = time.clock_gettime(cpu) - heartbeat[0]
            if used < SLOW_CALLBACK or used - (reported - heartbeat[0]) < SLOW_CALLBACK:
                continue
            reported = heartbeat[0] + used
            frame = sys._current_frames().get(main)
            stack = traceback.extract_stack(frame)[-14:] if frame is not None else []
            where = " <- ".join(
                f"{f.filename.split('site-packages/')[-1].split('src/')[-1]}:{f.lineno} {f.name}"
                for f in reversed(stack)
            )
            out.write(f"{time.time():.3f} {used * 1000:.0f} ms CPU since the probe woke: {where}\n")


def read_lags(path: str, start: float, end: float, *, own: bool = False) -> list[float]:
    """The lags (ms) the probe recorded in the lines written between start and end; with
    ``own``, the part of each the server process was running."""
    lags: list[float] = []
    with open(path) as lines:
        for line in lines:
            stamp, *values = line.split()
            if stamp == "gc":
                continue
            if start < float(stamp) <= end:
                lags += [float(v.split("/")[1 if own else 0]) for v in values]
    return lags


def read_gc(path: str, start: float, end: float) -> list[tuple[int, float, float]]:
    """The collections over 5 ms between start and end: (generation, ms, CPU ms)."""
    pauses = []
    with open(path) as lines:
        for line in lines:
            if line.startswith("gc "):
                _gc, stamp, generation, ms, *cpu = line.split()
                if start < float(stamp) <= end:
                    pauses.append((int(generation), float(ms), float(cpu[0] if cpu else ms)))
    return pauses


def gc_summary(pauses: list[tuple[int, float, float]]) -> str:
    if not pauses:
        return "no collection over 5 ms"
    by_generation: dict[int, list[tuple[float, float]]] = {}
    for generation, ms, cpu in pauses:
        by_generation.setdefault(generation, []).append((ms, cpu))
    return "collections over 5 ms: " + ", ".join(
        f"gen {g} x{len(p)} (max {max(ms for ms, _ in p):.0f} ms, "
        f"{max(cpu for _, cpu in p):.0f} ms of CPU)"
        for g, p in sorted(by_generation.items())
    )


def summary(lags: list[float], own: list[float]) -> str:
    """The lag's p50, p99 and max, and the p99 and max of the server's own part of it."""
    if not lags:
        return "no samples"
    mine = sorted(own)
    ordered = sorted(lags)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    over = sum(1 for lag in ordered if lag > 50)
    return (
        f"loop lag p50 {ordered[len(ordered) // 2]:5.1f} ms  p99 {p99:6.1f} ms  "
        f"max {ordered[-1]:6.1f} ms  ({over} of {len(ordered)} wake-ups > 50 ms); "
        f"the server's own: p99 {mine[min(len(mine) - 1, int(0.99 * len(mine)))]:.1f} ms  "
        f"max {mine[-1]:.1f} ms"
    )


def report(path: str, start: float, end: float) -> list[str]:
    """What the probe saw between start and end: the lag, and the collections over 5 ms."""
    lags = summary(read_lags(path, start, end), read_lags(path, start, end, own=True))
    return [lags, gc_summary(read_gc(path, start, end))]


if __name__ == "__main__":
    from smartcity.cli import main
    from smartcity.demo import MODULE

    MODULE.tasks.append(loop_lag_probe)
    main()
