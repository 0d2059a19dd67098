"""Backup and restore (灾难备份): RPO and RTO of `smartcity backup` / `smartcity restore` on
SQLite and PostgreSQL, at the demo's size or with N persons and M observations.

RPO (data at risk) is the backup interval plus the time a backup takes: a disaster just
before a backup finishes loses everything since the previous one began. RTO here is the
restore alone (copy or pg_restore, migrations, id counters moved): the time from having the
backup file to a database the platform can serve again.

    python bench/backup_restore.py [--size demo] [--database-url postgresql+asyncpg://...]
    python bench/backup_restore.py --size large --persons 1000000 --observations 10000000 \
        [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sensing import prepare, seed_city
from _support import machine
from registry_import import fresh_postgres, person_name, resident_id
from smartcity.core import backup
from smartcity.settings import Settings, configure

BATCH = 20_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def person_rows(start: int, stop: int) -> list[tuple[object, ...]]:
    now = datetime.now(UTC)
    rows = []
    for i in range(start, stop):
        number = resident_id(i)
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        rows.append(
            (
                uuid.UUID(int=i + 1),
                number,
                person_name(i),
                "male" if int(number[16]) % 2 else "female",
                birth,
                "汉族",
                f"13{i % 10}{i % 100_000_000:08d}",
                number[:6],
                "深圳市福田区园岭街道百花社区",
                "living",
                "",
                1,
                now,
                now,
            )
        )
    return rows


PERSON_COLUMNS = (
    "id",
    "id_number",
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "phone",
    "hukou_division_code",
    "residence_address",
    "status",
    "social_insurance_status",
    "version",
    "updated_at",
    "created_at",
)
OBSERVATION_COLUMNS = (
    "phenomenon_time_start",
    "result_kind",
    "result_number",
    "datastream_id",
    "feature_of_interest_id",
)


def observation_rows(start: int, stop: int, streams: list[int], feature: int) -> list[tuple]:
    rng = random.Random(start)
    return [
        (T0 + timedelta(seconds=i), 0, rng.uniform(0, 100), streams[i % len(streams)], feature)
        for i in range(start, stop)
    ]


def load_sqlite(url: str, persons: int, observations: int, streams: list[int], feature: int):
    conn = sqlite3.connect(url.split("///", 1)[1])
    conn.execute("PRAGMA synchronous=OFF")
    marks = ", ".join("?" * len(PERSON_COLUMNS))
    for i in range(0, persons, BATCH):
        rows = [
            (
                r[0].hex,
                *r[1:4],
                r[4].isoformat(),
                *r[5:12],
                *(t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in r[12:]),
            )
            for r in person_rows(i, min(i + BATCH, persons))
        ]
        conn.executemany(f"INSERT INTO person ({', '.join(PERSON_COLUMNS)}) VALUES ({marks})", rows)
        conn.commit()
    for i in range(0, observations, BATCH):
        rows = [
            (t.strftime("%Y-%m-%d %H:%M:%S.%f"), *rest)
            for t, *rest in observation_rows(i, min(i + BATCH, observations), streams, feature)
        ]
        columns = ", ".join(OBSERVATION_COLUMNS)
        conn.executemany(f"INSERT INTO sta_observation ({columns}) VALUES (?, ?, ?, ?, ?)", rows)
        conn.commit()
    conn.close()


async def load_postgres(
    url: str, persons: int, observations: int, streams: list[int], feature: int
):
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username, database=parsed.database
    )
    try:
        for i in range(0, persons, BATCH):
            await conn.copy_records_to_table(
                "person", records=person_rows(i, min(i + BATCH, persons)), columns=PERSON_COLUMNS
            )
        for i in range(0, observations, BATCH):
            await conn.copy_records_to_table(
                "sta_observation",
                records=observation_rows(i, min(i + BATCH, observations), streams, feature),
                columns=OBSERVATION_COLUMNS,
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def count(url: str, table: str) -> int:
    async def run() -> int:
        from sqlalchemy import text

        from smartcity.core.db import make_engine

        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                query = text(f"SELECT count(*) FROM {table}")
                return int((await conn.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def demo_seed(url: str, var: Path) -> None:
    env = {
        **os.environ,
        "SMARTCITY_VAR_DIR": str(var),
        "SMARTCITY_DATABASE_URL": url,
        "LANG": "en_US.UTF-8",
    }
    subprocess.run(
        [sys.executable, "-m", "smartcity.cli", "demo", "--no-serve"],
        env=env,
        check=True,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=("demo", "large"), default="demo")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--observations", type=int, default=10_000_000)
    parser.add_argument("--database-url", default="", help="PostgreSQL server; default SQLite")
    parser.add_argument("--interval-hours", type=float, default=24.0)
    args = parser.parse_args()
    print(machine())
    var = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    source = prepare(args.database_url, "bench_backup_source")
    kind = "PostgreSQL" if args.database_url else "SQLite"
    began = time.perf_counter()
    if args.size == "demo":
        demo_seed(source, var)
    else:
        city = asyncio.run(seed_city(source, 10))
        if args.database_url:
            asyncio.run(
                load_postgres(
                    source, args.persons, args.observations, city.datastreams, city.feature_id
                )
            )
        else:
            load_sqlite(source, args.persons, args.observations, city.datastreams, city.feature_id)
    persons, observations = count(source, "person"), count(source, "sta_observation")
    print(
        f"{kind}, {args.size}: {persons:,} persons, {observations:,} observations "
        f"(loaded in {time.perf_counter() - began:.0f} s)"
    )

    settings = configure(
        Settings(
            var_dir=var,
            database_url=source,
            checkpoint_dir=var / "checkpoints",
            backup_dir=var / "backups",
        )
    )
    began = time.perf_counter()
    result = asyncio.run(backup.backup(settings))
    backup_seconds = time.perf_counter() - began
    print(
        f"backup: {backup_seconds:.1f} s, {result.manifest['bytes'] / 2**20:.1f} MiB "
        f"({result.dump.name})"
    )

    if args.database_url:
        target = asyncio.run(fresh_postgres(args.database_url, "bench_backup_target"))
    else:
        target = f"sqlite+aiosqlite:///{var / 'restored.db'}"
    restored = configure(settings.model_copy(update={"database_url": target}))
    began = time.perf_counter()
    report = asyncio.run(backup.restore(result.manifest_path, restored))
    restore_seconds = time.perf_counter() - began
    same = (count(target, "person"), count(target, "sta_observation")) == (persons, observations)
    print(
        f"restore: {restore_seconds:.1f} s ({len(report.advanced)} id counters moved); "
        f"rows back: {'all' if same else 'NOT ALL'}"
    )
    print(
        f"RPO (interval {args.interval_hours:g} h + backup): "
        f"{args.interval_hours * 3600 + backup_seconds:,.0f} s; "
        f"RTO (restore): {restore_seconds:.1f} s"
    )
    shutil.rmtree(var, ignore_errors=True)
    if not args.database_url:
        shutil.rmtree(Path(source.split("///", 1)[1]).parent, ignore_errors=True)
    if args.database_url:

        async def drop() -> None:
            import asyncpg  # type: ignore[import-untyped]
            from sqlalchemy.engine import make_url

            parsed = make_url(args.database_url)
            admin = await asyncpg.connect(
                host=parsed.host,
                port=parsed.port or 5432,
                user=parsed.username,
                database=parsed.database or "postgres",
            )
            try:
                for name in ("bench_backup_source", "bench_backup_target"):
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

        asyncio.run(drop())


if __name__ == "__main__":
    main()
