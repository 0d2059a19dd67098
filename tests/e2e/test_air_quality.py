"""Air quality in a browser (空气质量): stations made by the contract with a week of readings,
reports computed by the real catch-up, then the public map and a station's chart, without
signing in."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot
from tests.e2e.test_registry_places import seed_places

pytestmark = pytest.mark.e2e

# One station per district, at its centre (the registry demo's district boxes), with the
# PM2.5 level it breathes: from a clean coast (大鹏) to a polluted industrial belt (宝安).
STATIONS = [
    ("440303", "罗湖洪湖站", 34.0),
    ("440304", "福田荔园站", 26.0),
    ("440305", "南山华侨城站", 20.0),
    ("440306", "宝安西乡站", 92.0),
    ("440307", "龙岗横岗站", 58.0),
    ("440308", "盐田港站", 40.0),
    ("440309", "龙华民治站", 70.0),
    ("440310", "坪山站", 48.0),
    ("440311", "光明站", 130.0),
    ("4403DP", "大鹏葵涌站", 10.0),
]


def _seed(server: LiveServer) -> dict[str, int]:
    async def seed(session: Any) -> dict[str, int]:
        from sqlalchemy import select

        from smartcity.core.authz import SYSTEM
        from smartcity.demo import air as demo
        from smartcity.environment.aqi import Pollutant as P
        from smartcity.registry.contract import DISTRICT_BOXES
        from smartcity.sensing import models as m
        from tests.environment.factories import air_station, report

        existing = dict(
            (
                await session.execute(
                    select(m.StaThing.name, m.StaThing.id).where(
                        m.StaThing.name.in_([s[1] for s in STATIONS])
                    )
                )
            ).all()
        )
        if existing:
            return {str(k): int(v) for k, v in existing.items()}
        rng = random.Random(7)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        first = now - timedelta(days=8)
        ids = {}
        for n, (district, name, pm25) in enumerate(STATIONS):
            x0, y0, x1, y1 = DISTRICT_BOXES[district]
            station = await air_station(
                session,
                name,
                code=f"{1350 + n}A",
                district=district,
                lon=round((x0 + x1) / 2 + rng.uniform(-0.01, 0.01), 4),
                lat=round((y0 + y1) / 2 + rng.uniform(-0.01, 0.01), 4),
            )
            ids[name] = station.thing
            readings: dict[Any, list[tuple[datetime, float]]] = {p: [] for p in P}
            hours = int((now - first) / timedelta(hours=1))
            for h in range(hours):
                at = first + timedelta(hours=h, minutes=30)
                local_hour = (at.hour + 8) % 24
                rush = 1 + 0.35 * math.sin((local_hour - 3) / 24 * 2 * math.pi)
                day = 1 + 0.3 * math.sin(h / 40)
                level = pm25 * rush * day * rng.uniform(0.9, 1.1)
                sun = max(0.0, math.sin((local_hour - 6) / 14 * math.pi))
                readings[P.PM2_5].append((at, round(level, 1)))
                readings[P.PM10].append((at, round(level * 1.6, 1)))
                readings[P.SO2].append((at, round(6 + rng.uniform(0, 4), 1)))
                readings[P.NO2].append((at, round(20 + level * 0.4, 1)))
                readings[P.CO].append((at, round(0.5 + level / 200, 2)))
                readings[P.O3].append((at, round(30 + 110 * sun * rng.uniform(0.8, 1.1), 1)))
            await report(session, station, readings)
        await demo.seed_demo(session, SYSTEM)
        return ids

    result: dict[str, int] = server.run(seed)
    return result


def test_map_and_station_chart(page: Any, live_server: LiveServer) -> None:
    # The places with their residents, as the registry's test seeds them: the server is
    # shared, and seeding only the places here would leave that test without residents.
    seed_places(live_server)
    ids = _seed(live_server)
    page.goto("/air")
    assert "深圳市" in page.locator("h1").inner_text()
    dots = page.locator(".air-map a.dot")
    assert dots.count() >= len(STATIONS)
    worst = page.locator(f'.air-map a.dot[href="/air/stations/{ids["光明站"]}"] circle')
    best = page.locator(f'.air-map a.dot[href="/air/stations/{ids["大鹏葵涌站"]}"] circle')
    # Coloured by category: the clean coast green or yellow, the polluted belt orange or worse.
    assert best.get_attribute("fill") in ("#00E400", "#FFFF00")
    assert worst.get_attribute("fill") in ("#FF7E00", "#FF0000", "#99004C", "#7E0023")
    assert page.locator(".air-map .district").count() >= 10
    assert page.locator("#city-aqi").inner_text().isdigit()
    shot(page, "air-quality-map")
    page.locator(f'table.air-table a[href="/air/stations/{ids["宝安西乡站"]}"]').click()
    page.wait_for_url(f"**/air/stations/{ids['宝安西乡站']}")
    assert page.locator("h1").inner_text() == "宝安西乡站"
    assert page.locator(".air-chart rect.aqi-bar").count() == 24
    assert page.locator("#station-aqi").inner_text().isdigit()
    shot(page, "air-quality-station-day")
    page.locator(".chooser a[href='?view=week']").click()
    page.wait_for_url("**view=week")
    assert page.locator(".air-chart rect.aqi-bar").count() > 24 * 6
    assert page.locator(".air-chart line.aqi-step").count() >= 6
    shot(page, "air-quality-station-week")
