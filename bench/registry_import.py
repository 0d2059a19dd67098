"""Bulk import of persons (人口库): rows per second and peak memory of
`smartcity registry import persons` on a generated CSV of valid ID numbers, on SQLite and
optionally PostgreSQL. The command runs in its own process, exactly as an operator runs it;
the demo's places are seeded first so every row's point is resolved to its grid.

    python bench/registry_import.py [--rows 1000000] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from smartcity.core.ids import make_resident_id
from smartcity.registry.demo import DISTRICT_BOXES

# Codes stdnum accepts for births from 1995 to 2004, so every generated number is valid.
CODES = ("440303", "440304", "440305", "440103", "440104", "440105", "440106", "440111")
FIRST_BIRTH = date(1995, 1, 1)
DAYS = 3650
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯晨欣怡"
    "子涵梓轩雨婷佳琪思远嘉俊博志"
)
HEADER = (
    "id_number",
    "name",
    "ethnicity",
    "phone",
    "hukou_division_code",
    "residence_address",
    "residence_lon",
    "residence_lat",
)


def resident_id(i: int) -> str:
    """The i-th number of the series: unique for i below 29 million."""
    code = CODES[i % len(CODES)]
    rest = i // len(CODES)
    birth = FIRST_BIRTH + timedelta(days=rest % DAYS)
    return make_resident_id(code, birth, (rest // DAYS) % 1000)


def person_name(i: int) -> str:
    name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)]
    return name + GIVEN[(i // 11) % len(GIVEN)] if i % 3 else name


def write_persons(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    boxes = list(DISTRICT_BOXES.values())
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            x0, y0, x1, y1 = boxes[i % len(boxes)]
            number = resident_id(i)
            writer.writerow(
                (
                    number,
                    person_name(i),
                    "汉族",
                    f"13{i % 10}{i % 100_000_000:08d}",
                    number[:6],
                    f"深圳市福田区园岭街道百花社区百花二路{i % 300 + 1}号",
                    f"{rng.uniform(x0 + 0.001, x1 - 0.001):.6f}",
                    f"{rng.uniform(y0 + 0.001, y1 - 0.001):.6f}",
                )
            )


def smartcity(*args: str, env: dict[str, str], quiet: bool = True) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "smartcity.cli", *args],
        env=env,
        check=True,
        capture_output=quiet,
        text=True,
    )
    return out.stdout or ""


async def fresh_postgres(url: str, name: str) -> str:
    """A new empty database next to the one in ``url``; returns its URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database or "postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return parsed.set(database=name).render_as_string(hide_password=False)


def prepare(database_url: str, var: Path, name: str) -> dict[str, str]:
    """An upgraded database with departments and the demo's places; the environment."""
    if database_url:
        database_url = asyncio.run(fresh_postgres(database_url, name))
    env = {
        **os.environ,
        "SMARTCITY_VAR_DIR": str(var),
        "SMARTCITY_DATABASE_URL": database_url,
        "LANG": "en_US.UTF-8",
    }
    smartcity("db", "upgrade", env=env)
    smartcity("registry", "demo", "--persons", "0", "--organizations", "0", env=env)
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    var = Path(tempfile.mkdtemp(prefix="bench-import-"))
    env = prepare(args.database_url, var, "bench_registry_import")
    path = var / "persons.csv"
    started = time.perf_counter()
    write_persons(path, args.rows)
    print(
        f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = smartcity(
        "registry", "import", "persons", str(path), "--batch-size", str(args.batch_size), env=env
    )
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(out.strip().splitlines()[-1] if out.strip() else "")
    print(
        "PostgreSQL (COPY)" if args.database_url else "SQLite (WAL)",
        f"- {args.rows:,} persons (+ their first versions) in {elapsed:.1f} s: "
        f"{args.rows / elapsed:,.0f} rows/s, peak memory of the import process "
        f"{peak_kib / 1024:.0f} MiB (before: {before / 1024:.0f} MiB for setup commands)",
    )


if __name__ == "__main__":
    main()
