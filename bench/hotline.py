"""The hotline's routing: training time at N orders, classification latency per order, and
intake through `hotline.service.create_order` (classification and the duplicate check
included), one order per transaction as a request would be, one process.

    python bench/hotline.py [--train 100000] [--intake 500] \\
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_hotline]

The orders are the synthetic corpus's (hotline/routing/corpus.py). The intake part needs an
empty, migrated database (``smartcity db upgrade``); the orders it stores stay, so a second
run measures at a larger stored count. It goes through the service layer, not HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import machine


def train_and_classify(n: int) -> object:
    from smartcity.hotline.routing import classify, corpus

    texts, labels = corpus.corpus(n, seed=1)
    started = time.perf_counter()
    trained = classify.train(texts, labels, seed=1)
    seconds = time.perf_counter() - started
    m = trained.metrics
    print(
        f"training on {n} orders: {seconds:.1f} s (features {m['featurise_seconds']} s); "
        f"macro-F1 {m['macro_f1']}, accuracy {m['accuracy']} "
        f"(baseline {m['baseline_macro_f1']}, {m['baseline_accuracy']})"
    )
    probe, _labels = corpus.corpus(2000, seed=2)
    timings = []
    for text in probe:
        t0 = time.perf_counter()
        trained.classifier.top(text)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    print(
        f"classification of one order: p50 {statistics.median(timings):.2f} ms, "
        f"p99 {timings[int(len(timings) * 0.99)]:.2f} ms (2000 orders)"
    )
    return trained


async def intake(url: str, count: int, trained: object) -> None:
    from sqlalchemy import func, select

    from smartcity.app import modules
    from smartcity.cli import cli_principal
    from smartcity.core import seed
    from smartcity.core.db import Database, make_engine
    from smartcity.core.module import install
    from smartcity.core.security import principal_of
    from smartcity.hotline import service
    from smartcity.hotline.models import WorkOrder
    from smartcity.hotline.routing import corpus
    from smartcity.hotline.routing import service as routing
    from smartcity.hotline.schemas import OrderCreate

    install(modules())
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            root = cli_principal()
            await seed.seed_departments(session, root)
            await seed.seed_demo_accounts(session, root)
            from smartcity.core.models import Account

            account = (
                await session.execute(select(Account).where(Account.username == "staff.zwsj"))
            ).scalar_one()
            agent = principal_of(account, "cli")
            await routing.store_model(session, trained, "bench")  # type: ignore[arg-type]
        async with db.session_scope() as session:
            stored = (await session.execute(select(func.count()).select_from(WorkOrder))).scalar()
        texts, labels = corpus.corpus(count, seed=3)
        import random

        rng = random.Random(3)
        started = time.perf_counter()
        for text, label in zip(texts, labels, strict=True):
            place = rng.choice(corpus.PLACES)
            data = OrderCreate.model_validate(
                {
                    "kind": "complaint",
                    "category": label,
                    "text": text,
                    "place": {"address": place[1], "lon": place[2], "lat": place[3]},
                }
            )
            async with db.session_scope() as session:
                await service.create_order(session, agent, data, channel="phone")
        seconds = time.perf_counter() - started
        print(
            f"intake: {count} orders in {seconds:.1f} s = {count / seconds:.0f} orders/s "
            f"(classification, duplicate check, auto-dispatch; {stored} orders stored before)"
        )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--intake", type=int, default=0)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print(machine())
    trained = train_and_classify(args.train)
    if args.intake and args.database_url:
        asyncio.run(intake(args.database_url, args.intake, trained))


if __name__ == "__main__":
    main()
