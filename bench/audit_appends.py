"""Audit trail appends per second (core.audit.record), each in its own transaction as in
production, on SQLite and optionally PostgreSQL.

    python bench/audit_appends.py [--count 5000] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path

from smartcity.core import audit, migrate
from smartcity.core.db import Database, make_engine

SECRET = b"bench-secret"


async def run(url: str, count: int, batch: int) -> None:
    db = Database(make_engine(url))
    async with db.session_scope() as session:  # warm up: connection, first head row
        await audit.record(session, SECRET, actor="bench", action="bench.warmup")
    started = time.perf_counter()
    for i in range(0, count, batch):
        async with db.session_scope() as session:
            for j in range(batch):
                await audit.record(
                    session,
                    SECRET,
                    actor="bench",
                    action="bench.append",
                    target=f"record-{i + j}",
                    detail={"i": i + j},
                )
    elapsed = time.perf_counter() - started
    async with db.session_scope() as session:
        verify_started = time.perf_counter()
        verdict = await audit.verify(session, SECRET)
        verify_elapsed = time.perf_counter() - verify_started
    await db.dispose()
    print(
        f"  {count} appends, {batch} per transaction: {count / elapsed:,.0f} appends/s; "
        f"verify {verdict.checked:,} entries in {verify_elapsed:.2f} s "
        f"({verdict.checked / verify_elapsed:,.0f} entries/s), intact={verdict.intact}"
    )


async def fresh_postgres(url: str) -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host,
        port=u.port or 5432,
        user=u.username or "postgres",
        database=u.database or "postgres",
    )
    await conn.execute('DROP DATABASE IF EXISTS "smartcity_bench" WITH (FORCE)')
    await conn.execute('CREATE DATABASE "smartcity_bench"')
    await conn.close()
    return u.set(database="smartcity_bench").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    if args.database_url:
        url = asyncio.run(fresh_postgres(args.database_url))
        label = "PostgreSQL"
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        label = "SQLite (WAL)"
    migrate.upgrade(url)
    print(label)
    for batch in (1, 10):
        asyncio.run(run(url, args.count, batch))


if __name__ == "__main__":
    main()
