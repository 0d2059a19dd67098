"""The demo city's work orders: every state the demo accounts act on, seeded once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import seed
from smartcity.core.authz import Principal
from smartcity.hotline.demo import ORDERS, seed_demo_orders
from smartcity.hotline.models import WorkOrder

ROOT = Principal(id=None, kind="admin", name="test:root", via="test")


async def test_demo_orders_in_every_state(
    session: AsyncSession, advance: Callable[[timedelta], datetime]
) -> None:
    await seed.seed_departments(session, ROOT)
    await seed.seed_demo_accounts(session, ROOT)
    assert await seed_demo_orders(session, ROOT) == len(ORDERS)
    states = sorted((await session.execute(select(WorkOrder.state))).scalars())
    expected = ["accepted", "accepted", "dispatched", "handling", "replied", "returned"]
    expected += ["reworking", "closed", "closed", "closed"]
    assert states == sorted(expected)
    assert await seed_demo_orders(session, ROOT) == 0


async def test_demo_year_of_orders_and_its_model(
    session: AsyncSession, advance: Callable[[timedelta], datetime]
) -> None:
    from smartcity.hotline.demo import YEAR_ORDERS, seed_demo_year
    from smartcity.hotline.routing.models import DuplicateProposal, OrderRouting, RoutingModel

    await seed.seed_departments(session, ROOT)
    await seed.seed_demo_accounts(session, ROOT)
    assert await seed_demo_year(session, ROOT) >= YEAR_ORDERS
    [model] = (await session.execute(select(RoutingModel))).scalars().all()
    assert model.shipped and model.metrics["accuracy"] > model.metrics["baseline_accuracy"]
    orders = (await session.execute(select(WorkOrder))).scalars().all()
    received = sorted(o.received_at for o in orders)
    assert (received[-1] - received[0]).days > 300  # a year of them
    assert len({o.category_code for o in orders}) > 15
    assert len({o.address for o in orders}) > 10
    assert {o.rating for o in orders} >= {"satisfied", "basically_satisfied"}
    assert "closed" in {o.state for o in orders} and len({o.state for o in orders}) > 2
    modes = set((await session.execute(select(OrderRouting.mode))).scalars())
    assert "auto" in modes
    merged = (await session.execute(select(DuplicateProposal.state))).scalars().all()
    assert "merged" in merged
    assert await seed_demo_year(session, ROOT) == 0
