"""The demo city's drafts: one in each state, the register counted by the figure; once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock, seed
from smartcity.core.authz import Principal
from smartcity.participation import service
from smartcity.participation.demo import seed_demo_participation
from smartcity.participation.models import Draft

ROOT = Principal(id=None, kind="admin", name="test:root", via="test")


async def test_demo_drafts_in_every_state(session: AsyncSession) -> None:
    await seed.seed_departments(session, ROOT)
    await seed.seed_demo_accounts(session, ROOT)
    assert await seed_demo_participation(session, ROOT) == 4
    states = sorted((await session.execute(select(Draft.state))).scalars())
    assert states == ["answered", "closed", "draft", "open"]
    figure = await service.figure(session, clock.to_city(clock.now()).year)
    assert (figure.total.documents, figure.total.open_for_comment) == (2, 1)
    assert await seed_demo_participation(session, ROOT) == 0
