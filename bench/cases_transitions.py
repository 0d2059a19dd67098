"""Transitions per second through `cases.service.transition` (流转), on SQLite and PostgreSQL:
cases opened by a citizen, then 受理 → 审查 → 准予许可 (accept, review, approve) by an officer
of the department, each step in its own transaction as a request would be, one after
another.

Two case types: a bench type declared like the application type but with no hooks (the
engine alone: checks, clocks, timeline, audit, outbox), and the service hall's
``services.application`` with its hooks (a step notice to the applicant on every step, the
licence issued and SM2-signed on approval).

    python bench/cases_transitions.py [--cases 300] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases_sweep import machine, prepare

STEPS = ("accept", "review", "approve")


async def run(url: str, cases: int) -> None:
    from sqlalchemy import select

    from smartcity.app import modules
    from smartcity.cases import service as engine
    from smartcity.cases.types import get_case_type
    from smartcity.cli import cli_principal
    from smartcity.core import accounts
    from smartcity.core.db import Database, make_engine
    from smartcity.core.module import Module, install
    from smartcity.core.schemas import AccountCreate
    from smartcity.core.security import principal_of
    from smartcity.services.models import ServiceItem
    from smartcity.services.seed import seed_service_items
    from smartcity.services.types import BASE_NAME

    install(modules())
    # the application type without its hooks: a module of the benchmark's own declares it
    bare = replace(get_case_type(BASE_NAME), name="bench.application")
    install([*modules(), Module(name="bench", extends=(bare,))])
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            root = cli_principal()
            await seed_service_items(session, root)
            item = (
                await session.execute(select(ServiceItem).where(ServiceItem.code == "SCJGJ-003"))
            ).scalar_one()
            officer, _ = await accounts.create_account(
                session,
                root,
                AccountCreate(
                    username="bench.officer",
                    display_name="周婷",
                    kind="staff",
                    department_code="SCJGJ",
                ),
            )
            citizen, _ = await accounts.create_account(
                session,
                root,
                AccountCreate(username="bench.citizen", display_name="张敏", kind="citizen"),
            )
            officer_p, citizen_p = (
                principal_of(officer, "session"),
                principal_of(citizen, "session"),
            )
            statutory, promised = item.statutory_days, item.promised_days

        for case_type in (bare.name, BASE_NAME):
            ids: list[uuid.UUID] = []
            started = time.perf_counter()
            for n in range(cases):
                async with db.session_scope() as session:
                    case = await engine.open_case(
                        session,
                        citizen_p,
                        case_type=case_type,
                        title=f"食品经营许可（张敏）{n}",
                        department_code="SCJGJ",
                        category="SCJGJ-003",
                        statutory_days=statutory,
                        promised_days=promised,
                    )
                    ids.append(case.id)
            opened = time.perf_counter() - started
            latencies: list[float] = []
            started = time.perf_counter()
            for step in STEPS:
                for case_id in ids:
                    t0 = time.perf_counter()
                    async with db.session_scope() as session:
                        await engine.transition(session, officer_p, case_id, step)
                    latencies.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - started
            latencies.sort()
            p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
            hooks = "with the service hall's hooks" if case_type == BASE_NAME else "engine only"
            print(
                f"  {case_type} ({hooks}): {cases / opened:,.0f} cases opened/s; "
                f"{len(latencies):,} transitions in {elapsed:.1f} s = "
                f"{len(latencies) / elapsed:,.0f}/s, p50 {p50 * 1000:.1f} ms, "
                f"p99 {p99 * 1000:.1f} ms, "
                f"mean {statistics.mean(latencies) * 1000:.1f} ms",
                flush=True,
            )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print(machine(), flush=True)
    url, _departments = prepare(args.database_url, "bench_cases_transitions")
    print("PostgreSQL" if args.database_url else "SQLite (WAL)", flush=True)
    asyncio.run(run(url, args.cases))


if __name__ == "__main__":
    main()
