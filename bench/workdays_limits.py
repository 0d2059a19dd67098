"""Benchmark of working-day limits (工作日时限): the time to compute one limit's due date.

Usage: python bench/workdays_limits.py [--days 20] [--runs 500]

A case step computes up to six limits (statutory, promised and step; due and yellow
instants). "first ask" clears the remembered package answers before each run, as a fresh
process would; "remembered" is every later computation in the process.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime

from smartcity.core import workdays

START = datetime(2026, 9, 28, 2, tzinfo=UTC)  # a Monday before 国庆 with 调休


def per_limit_ms(days: int, runs: int, *, fresh: bool) -> float:
    calendar = workdays.WorkCalendar()
    calendar.add_workdays(START, days)  # warm up
    started = time.perf_counter()
    for _ in range(runs):
        if fresh:
            workdays._package_day.cache_clear()
        calendar.add_workdays(START, days)
    return (time.perf_counter() - started) / runs * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    print(f"machine: {machine}, Python {platform.python_version()}")
    for label, fresh in (("first ask", True), ("remembered", False)):
        ms = per_limit_ms(args.days, args.runs, fresh=fresh)
        print(f"{args.days}-working-day limit, {label}: {ms:.3f} ms")


if __name__ == "__main__":
    main()
