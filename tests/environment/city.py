"""A small city of air stations with computed reports, for the API and page tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.core.clock import CITY_TZ
from smartcity.environment import compute
from smartcity.environment.aqi import Pollutant as P
from tests.environment.factories import AirStation, air_station, report, steady

NOW = datetime(2026, 3, 5, 12, 30, tzinfo=CITY_TZ)
FIRST = datetime(2026, 3, 4, 0, tzinfo=CITY_TZ)
HOURS = 36  # 4 March 00:00 … 5 March 11:59
CLEAN = {P.PM2_5: 20.0, P.PM10: 40.0, P.SO2: 8.0, P.NO2: 30.0, P.CO: 0.6, P.O3: 60.0}
POLLUTED = {P.PM2_5: 80.0, P.PM10: 140.0, P.SO2: 10.0, P.NO2: 50.0, P.CO: 1.2, P.O3: 120.0}


@dataclass(frozen=True)
class City:
    clean: AirStation  # AQI 29 (PM2.5 1 h 20 under 2026): 优
    polluted: AirStation  # AQI 119: 轻度污染
    private: AirStation
    silent: AirStation  # no readings at all


async def make_city(session: AsyncSession) -> City:
    clean = await air_station(session, "荔园监测站", code="1361A", lon=114.10, lat=22.55)
    polluted = await air_station(
        session, "西乡监测站", code="1362A", district="440306", lon=113.87, lat=22.58
    )
    private = await air_station(session, "内部测试站", code="9999X", public=False, lon=114.0)
    silent = await air_station(session, "新建监测站", code="1370A", district="440307", lon=114.25)
    await report(session, clean, steady(FIRST, HOURS, CLEAN))
    await report(session, polluted, steady(FIRST, HOURS, POLLUTED))
    await report(session, private, steady(FIRST, HOURS, POLLUTED))
    with clock.frozen(NOW):
        await compute.compute_reports(session, SYSTEM)
    await session.flush()
    return City(clean, polluted, private, silent)
