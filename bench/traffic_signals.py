"""Adaptive signals on the eight RESCO scenarios: fixed time / max pressure / ours.

    .venv/bin/python bench/traffic_signals.py [--seeds 1 2 3] [--scenarios ...] [--jobs 2]

Prints RESCO's delay (mean timeLoss + departDelay per trip, unfinished trips counted,
teleporting off) as mean ± sd over the seeds, per scenario and controller, the gridlocked
runs, and whether ours beats max pressure and is never worse than fixed time. Each run is
its own process (libsumo holds one simulation per process). Needs the traffic-sim extra.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path

from smartcity.traffic.signals import sumo

CONTROLLERS = ("fixed", "max-pressure", "adaptive")


def _one(job: tuple[str, str, int]) -> sumo.RunResult:
    scenario, controller, seed = job
    return sumo.run(scenario, controller, seed)


def _cell(values: list[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:7.1f} ± {sd:4.1f} ({len(values)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--scenarios", nargs="+", default=list(sumo.SCENARIOS))
    parser.add_argument("--controllers", nargs="+", default=list(CONTROLLERS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--results", help="a JSON-lines file: runs already in it are reused, new ones appended"
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="print the table from --results without running what is missing",
    )
    args = parser.parse_args(argv)
    reason = sumo.available()
    if reason:
        print(f"cannot simulate: {reason}", file=sys.stderr)
        return 2
    wanted = [(s, c, seed) for seed in args.seeds for s in args.scenarios for c in args.controllers]
    done: dict[tuple[str, str, int], sumo.RunResult] = {}
    if args.results and Path(args.results).exists():
        for line in Path(args.results).read_text().splitlines():
            r = sumo.RunResult(**json.loads(line))
            done[(r.scenario, r.controller, r.seed)] = r
    jobs = [] if args.table_only else [job for job in wanted if job not in done]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        for result in pool.map(_one, jobs):
            done[(result.scenario, result.controller, result.seed)] = result
            if args.results:
                with open(args.results, "a") as out:
                    out.write(json.dumps(asdict(result)) + "\n")
    results = [done[job] for job in wanted if job in done]
    wall = time.perf_counter() - started
    by: dict[tuple[str, str], list[sumo.RunResult]] = {}
    for r in results:
        by.setdefault((r.scenario, r.controller), []).append(r)
    print(
        f"SUMO {sumo.sumo_version()}, seeds {' '.join(map(str, args.seeds))} (--seed N), "
        "--time-to-teleport -1, RESCO delay in s (mean ± sd (runs) over the seeds)"
    )
    header = f"{'scenario':<13}" + "".join(f"{c:>18}" for c in args.controllers)
    print(header + "   ours vs MP   ours vs fixed  gridlocked runs")
    wins = never_worse = compared = 0
    gridlocks: list[str] = []
    for scenario in args.scenarios:
        line = f"{scenario:<13}"
        means: dict[str, float] = {}
        for controller in args.controllers:
            runs = by.get((scenario, controller), [])
            if not runs:
                line += f"{'not run':>18}"
                continue
            delays = [r.delay for r in runs]
            means[controller] = statistics.fmean(delays)
            line += f"{_cell(delays):>18}"
            gridlocks += [f"{controller}/{r.seed}" for r in runs if r.gridlock]
        mine = means.get("adaptive")
        extra = ""
        if mine is not None and "max-pressure" in means and "fixed" in means:
            vs_mp = (mine - means["max-pressure"]) / means["max-pressure"] * 100
            vs_fixed = (mine - means["fixed"]) / means["fixed"] * 100
            compared += 1
            wins += mine < means["max-pressure"]
            never_worse += mine <= means["fixed"]
            extra = f"   {vs_mp:+8.1f} %   {vs_fixed:+9.1f} %"
        locked = [g for g in gridlocks if g]
        print(line + extra + "   " + (", ".join(locked) if locked else "none"))
        gridlocks = []
    if "adaptive" in args.controllers:
        print(
            f"ours beats max pressure in {wins} of {compared} scenarios compared "
            f"({len(args.scenarios)} asked); no worse than fixed in {never_worse} of {compared}"
        )
    print(
        f"{len(jobs)} runs in {wall:.0f} s wall ({args.jobs} processes; the machine is shared, "
        f"{len(results) - len(jobs)} runs reused from {args.results})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
