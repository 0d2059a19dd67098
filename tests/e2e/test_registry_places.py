"""In a real browser: an official drills down the place tree on the map (区 → 街道 → 社区 →
网格), finds the grid of a point, and works through the data-quality page."""

from __future__ import annotations

import random
import re
from typing import Any

from tests.e2e.conftest import LiveServer, shot, sign_in_as


def seed_places(server: LiveServer) -> None:
    """The demo's places and a few thousand residents, unless an earlier test seeded them;
    persons may exist already (the server is shared), so the parts are seeded directly."""

    async def seed(session: Any) -> None:
        from faker import Faker
        from sqlalchemy import select

        from smartcity.cli import cli_principal
        from smartcity.core import clock
        from smartcity.registry import demo, quality
        from smartcity.registry.models import Place

        if (await session.execute(select(Place.id).where(Place.kind == "street"))).first():
            return
        principal = cli_principal()
        rng = random.Random(3)
        fake = Faker("zh_CN")
        fake.seed_instance(3)
        grids, _rows = await demo._seed_places(session, principal, rng)
        people = demo._People(rng, fake, clock.to_city(clock.now()).date())
        await demo._seed_persons(session, principal, rng, people, grids, 3000)
        await demo._seed_organizations(session, principal, rng, fake, people, grids, 300)
        for record_type in quality.CHECKED_TYPES:
            await quality.run_quality_checks(session, principal, record_type)

    server.run(seed)


def test_official_drills_down_the_map_and_resolves_a_point(
    page: Any, live_server: LiveServer
) -> None:
    seed_places(live_server)
    sign_in_as(page, live_server, "map.gaj", "staff", department_code="GAJ")
    page.goto("/registry/places")
    assert page.locator("svg[role=img]").count() == 1
    assert page.locator("text=福田区").first.is_visible()
    shot(page, "registry-places-city")
    page.locator(".tree a", has_text="福田区").click()
    page.wait_for_url(re.compile(r"/registry/places/440304$"))
    assert page.locator(".map path.area").count() >= 6
    shot(page, "registry-places-district")
    # Down the tree to a community, then a grid on the map.
    page.locator(".tree a", has_text="街道").first.click()
    page.locator(".tree a", has_text="社区").first.click()
    page.wait_for_url(re.compile(r"/registry/places/4403040\d\d\d\d\d$"))
    page.locator(".map a").first.click()
    page.wait_for_url(re.compile(r"G\d\d$"))
    assert page.locator("h1", has_text="网格").is_visible()
    shot(page, "registry-places-grid")
    page.goto("/registry/places")
    page.fill("#lon", "114.05")
    page.fill("#lat", "22.54")
    page.click("text=查找网格")
    assert page.locator(".notice.ok .chain li").count() == 4
    shot(page, "registry-places-resolved")
    page.fill("#lon", "东经114")
    page.click("text=查找网格")
    assert page.locator("#lon-error").is_visible()
    assert page.locator("#lon").input_value() == "东经114"


def test_quality_page_lists_problems_for_a_department(page: Any, live_server: LiveServer) -> None:
    seed_places(live_server)
    sign_in_as(page, live_server, "quality.jwj", "supervisor", department_code="JWJ")
    page.goto("/registry/quality")
    assert page.locator("h1", has_text="数据质量").is_visible()
    assert page.locator("table.results").count() == 2
    shot(page, "registry-quality")
    page.select_option("#department", "SCJGJ")
    page.click(".quality-filter button")
    rows = page.locator("table.results").nth(1).locator("tbody tr")
    assert rows.count() >= 1
    assert "/registry/organizations/" in rows.first.locator("a").get_attribute("href")
    shot(page, "registry-quality-filtered")
