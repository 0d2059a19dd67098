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
