"""The demo city (示例城市) that `smartcity demo` seeds and runs, out of the engines and the
domains: the reference data every city needs, then Shenzhen's registries, the exchange's
catalog, service items, the demo accounts (the citizen and the enterprise linked to records
of the registries), applications in every state, the sensing city and its air-quality
history. Generated, never real people; each part seeds once, so a second run adds nothing.
Every part seeds through the engines' contracts.

- ``services``: applications in every state, some overdue;
- ``hotline.demo``: 12345 work orders in every state;
- ``participation.demo``: drafts open for comment in every state, the register;
- ``hotline.knowledge.demo``: the 12345 knowledge base's answers, some due for review;
- ``sensing``: the simulated city of sensors (district gateways, air stations, traffic
  detectors, water meters) with their history;
- ``air``: the air quality of that history (reports);
- ``traffic.demo``: Shenzhen's main roads, their detectors and a day of road state;
- ``simulate``, ``simulate_profiles``, ``simulate_load``: the simulated devices' feed, their
  value profiles and ``smartcity sensing simulate``.

``MODULE`` runs the feed while the demo serves (only with SMARTCITY_SIMULATE_FEED).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from smartcity.core import seed
from smartcity.core.cli import console
from smartcity.core.module import GroupCommand, Module
from smartcity.demo.cli import simulate_command
from smartcity.demo.simulate import run_demo_feed
from smartcity.exchange import contract as exchange
from smartcity.registry import contract as registry

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.authz import Principal

MODULE = Module(
    name="demo",
    # The simulated city feed (only with SMARTCITY_SIMULATE_FEED, as `smartcity demo` sets).
    tasks=[run_demo_feed],
    commands=(GroupCommand("sensing", "simulate", simulate_command),),
)


async def seed_demo(
    session: AsyncSession, principal: Principal, mods: Sequence[Module]
) -> list[tuple[str, str, str]]:
    """Seed the demo city once, after the reference data of ``mods`` (the app's modules);
    returns (username, kind, password) of the demo accounts made now (none when the city was
    seeded before)."""
    from smartcity.demo.air import seed_demo as seed_air_quality
    from smartcity.demo.sensing import seed_demo_city
    from smartcity.demo.services import seed_demo_cases
    from smartcity.hotline.demo import seed_demo_orders, seed_demo_year
    from smartcity.hotline.knowledge.demo import seed_demo_answers
    from smartcity.participation.demo import seed_demo_participation
    from smartcity.services.seed import seed_service_items
    from smartcity.traffic.demo import seed_demo_traffic

    await seed.seed_reference_data(session, principal, mods)
    counts = await registry.seed_demo(session, principal)
    if counts.persons:
        console.print(counts.describe())
    await exchange.seed_demo_catalog(session, principal)
    await seed_service_items(session, principal)
    created = await seed.seed_demo_accounts(session, principal)
    if created:
        await registry.link_demo_citizen(session, principal)
    cases = await seed_demo_cases(session, principal)
    if cases:
        console.print(f"{cases} demo applications in every state, some of them overdue")
    orders = await seed_demo_orders(session, principal)
    if orders:
        console.print(f"{orders} demo 12345 work orders in every state")
    drafts = await seed_demo_participation(session, principal)
    if drafts:
        console.print(f"{drafts} demo drafts for public comment")
    answers = await seed_demo_answers(session, principal)
    if answers:
        console.print(f"{answers} demo answers in the 12345 knowledge base")
    year = await seed_demo_year(session, principal)
    if year:
        console.print(f"{year} 12345 work orders over the past year, and the order classifier")
    city = await seed_demo_city(session, principal)
    if city.things:
        console.print(city.describe())
    # After the city: the air stations and their history must exist for the reports.
    air = await seed_air_quality(session, principal)
    if air.hours or air.days:
        console.print(f"Air quality: {air.hours} hourly and {air.days} daily reports")
    roads = await seed_demo_traffic(session, principal)
    if roads:
        console.print(f"Traffic: {roads} road segments with detectors and a day of road state")
    return created
