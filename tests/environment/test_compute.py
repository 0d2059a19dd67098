"""Reports computed from the stations' Observations and stored as AQI Observations: the
hourly means in SQL, the editions by the data's own time, validity, idempotent catch-up,
and alerts raised through the real rules path."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM, Principal
from smartcity.core.clock import CITY_TZ
from smartcity.core.errors import Forbidden, Problem
from smartcity.environment import alert_rules, compute, service
from smartcity.environment.aqi import Pollutant
from smartcity.environment.stations import AQI_HOURLY_DEFINITION
from smartcity.sensing import models as m
from smartcity.sensing.rules import alerts
from smartcity.sensing.rules.models import SensingAlert, SensingRule
from tests.core import factories
from tests.environment.factories import air_station, report, steady
from tests.sensing.rule_helpers import deliver

P = Pollutant
CLEAN = {P.PM2_5: 20.0, P.PM10: 40.0, P.SO2: 8.0, P.NO2: 30.0, P.CO: 0.6, P.O3: 60.0}
# The worked example of docs/environment.md: AQI 107 (2012) / 119 (2026), 细颗粒物.
EXAMPLE = {P.PM2_5: 80.0, P.PM10: 140.0, P.SO2: 10.0, P.NO2: 50.0, P.CO: 1.2, P.O3: 120.0}


def city(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CITY_TZ)


async def stored(
    session: AsyncSession, stream: m.StaDatastream | int | None
) -> list[m.StaObservation]:
    assert stream is not None
    stream_id = stream if isinstance(stream, int) else stream.id
    rows = await session.scalars(
        select(m.StaObservation)
        .where(m.StaObservation.datastream_id == stream_id)
        .order_by(m.StaObservation.phenomenon_time_start)
    )
    return list(rows)


async def station_of(session: AsyncSession, thing: int) -> service.Station:
    return await service.get_station(session, SYSTEM, thing)


async def test_hourly_and_daily_reports_from_observations(session: AsyncSession) -> None:
    station = await air_station(session)
    first = city(2026, 3, 4)
    # Four readings an hour around the example's values: the hourly mean is the example.
    readings = {
        p: [(first + timedelta(minutes=15 * i), v * (0.9 if i % 2 else 1.1)) for i in range(36 * 4)]
        for p, v in EXAMPLE.items()
    }
    await report(session, station, readings)
    with clock.frozen(city(2026, 3, 5, 12, 30)):
        outcome = await compute.compute_reports(session, SYSTEM)
    # 00:00 on the 4th to 11:00 on the 5th (12:00 is not complete), and the 4th as a day.
    assert (outcome.hours, outcome.days, outcome.stations) == (36, 1, 1)
    found = await station_of(session, station.thing)
    hours = await stored(session, found.hourly.id if found.hourly else None)
    assert len(hours) == 36
    last = hours[-1]
    assert last.phenomenon_time_start == city(2026, 3, 5, 11)
    assert last.phenomenon_time_end == city(2026, 3, 5, 12)
    assert last.result_number == 119
    p = last.parameters or {}
    assert p["edition"] == "HJ 633-2026"
    assert p["category"] == 3 and p["categoryName"] == "轻度污染"
    assert p["primaryPollutants"] == ["PM2.5_1h"]
    assert p["iaqi"] == {
        "PM2.5_1h": 119, "PM10_1h": 108, "SO2_1h": 4, "NO2_1h": 25, "CO_1h": 12, "O3_1h": 38
    }  # fmt: skip
    pm25 = next(f for f in p["figures"] if f["pollutant"] == "PM2.5" and f["measure"] == "1h")
    assert pm25["value"] == 80 and pm25["unit"] == "µg/m³"
    co = next(f for f in p["figures"] if f["pollutant"] == "CO" and f["measure"] == "1h")
    assert co["value"] == 1.2
    assert p["invalid"] == []
    days = await stored(session, found.daily.id if found.daily else None)
    assert len(days) == 1
    day = days[0]
    assert day.phenomenon_time_start == city(2026, 3, 4)
    assert day.phenomenon_time_end == city(2026, 3, 5)
    assert day.result_number == 119
    assert (day.parameters or {})["iaqi"]["O3_8h"] == 67


async def test_catch_up_is_idempotent_and_moves_on(session: AsyncSession) -> None:
    station = await air_station(session)
    await report(session, station, steady(city(2026, 3, 4), 30, CLEAN))
    with clock.frozen(city(2026, 3, 5, 5, 30)) as advance:
        first = await compute.compute_reports(session, SYSTEM)
        assert first.hours == 29  # 00:00 on the 4th … 04:00 on the 5th
        again = await compute.compute_reports(session, SYSTEM)
        assert (again.hours, again.days) == (0, 0)
        advance(timedelta(hours=1))  # 06:30: the 05:00 hour is due
        later = await compute.compute_reports(session, SYSTEM)
        assert (later.hours, later.days) == (1, 0)
    found = await station_of(session, station.thing)
    hours = await stored(session, found.hourly.id if found.hourly else None)
    starts = [h.phenomenon_time_start for h in hours]
    assert len(starts) == len(set(starts)) == 30
    assert found.hourly is not None
    marks = await compute.watermarks(session, [found])
    assert datetime.fromisoformat(marks[found.hourly.id]) == city(2026, 3, 5, 5)
    assert found.daily is not None and marks[found.daily.id] == "2026-03-04"
    assert "aqiComputedThrough" not in (found.hourly.properties or {})


async def test_a_range_fills_only_the_hours_missing(session: AsyncSession) -> None:
    station = await air_station(session)
    await report(session, station, steady(city(2026, 3, 4), 24, CLEAN))
    with clock.frozen(city(2026, 3, 6, 12)):
        await compute.compute_reports(session, SYSTEM)
        found = await station_of(session, station.thing)
        assert found.hourly is not None
        hourly_id = found.hourly.id
        before = await stored(session, hourly_id)
        # The job's watermark is past these hours: only a range brings a deleted one back.
        gone = before[5].phenomenon_time_start
        await session.execute(
            delete(m.StaObservation).where(
                m.StaObservation.datastream_id == hourly_id,
                m.StaObservation.phenomenon_time_start == gone,
            )
        )
        assert (await compute.compute_reports(session, SYSTEM)).hours == 0
        ranged = await compute.compute_reports(
            session, SYSTEM, since=date(2026, 3, 4), until=date(2026, 3, 4)
        )
        assert (ranged.hours, ranged.days) == (1, 0)
    after = await stored(session, hourly_id)
    assert [h.phenomenon_time_start for h in after] == [h.phenomenon_time_start for h in before]


async def test_bad_ranges_and_callers_are_refused(session: AsyncSession) -> None:
    try:
        await compute.compute_reports(
            session, SYSTEM, since=date(2026, 3, 5), until=date(2026, 3, 4)
        )
        raise AssertionError("a reversed range was accepted")
    except Problem as problem:
        assert problem.extensions["field"] == "to"
    try:
        await compute.compute_reports(
            session, SYSTEM, since=date(2024, 1, 1), until=date(2026, 1, 1)
        )
        raise AssertionError("a two-year range was accepted")
    except Problem:
        pass
    citizen = Principal(id=None, kind="citizen", name="市民")
    try:
        await compute.compute_reports(session, citizen)
        raise AssertionError("a citizen computed reports")
    except Forbidden:
        pass


async def test_history_keeps_its_edition(session: AsyncSession) -> None:
    station = await air_station(session)
    # 2026-02-27 00:00 … 2026-03-01 02:59 (Asia/Shanghai), the example's values.
    await report(session, station, steady(city(2026, 2, 27), 51, EXAMPLE))
    with clock.frozen(city(2026, 3, 1, 3, 30)):
        await compute.compute_reports(session, SYSTEM)
    found = await station_of(session, station.thing)
    by_start = {h.phenomenon_time_start: h for h in await stored(session, found.hourly)}
    old = by_start[city(2026, 2, 28, 23)]
    new = by_start[city(2026, 3, 1, 0)]
    assert (old.parameters or {})["edition"] == "HJ 633-2012"
    assert (new.parameters or {})["edition"] == "HJ 633-2026"
    # 2012: particles by their 24-hour moving means (PM2.5 80 → 107); 2026: hourly (119).
    assert old.result_number == 107
    assert (old.parameters or {})["primaryPollutants"] == ["PM2.5_24h"]
    assert new.result_number == 119
    days = {d.phenomenon_time_start: d for d in await stored(session, found.daily)}
    assert (days[city(2026, 2, 28)].parameters or {})["edition"] == "HJ 633-2012"
    assert days[city(2026, 2, 28)].result_number == 107


async def test_incomplete_data_gives_no_aqi_or_says_why(session: AsyncSession) -> None:
    station = await air_station(session)
    # Under 2012 a new station's particles have too few hours for the 24-hour moving mean.
    await report(session, station, steady(city(2025, 6, 1, 0), 6, EXAMPLE))
    # Under 2026 an hour without any reading has no AQI at all: nothing is stored for it.
    readings = steady(city(2026, 6, 1, 0), 6, EXAMPLE)
    gap = city(2026, 6, 1, 3)
    await report(
        session, station, {p: [(t, v) for t, v in rs if t != gap] for p, rs in readings.items()}
    )
    with clock.frozen(city(2026, 6, 1, 8)):
        await compute.compute_reports(
            session, SYSTEM, since=date(2025, 6, 1), until=date(2025, 6, 1)
        )
        await compute.compute_reports(session, SYSTEM)
    found = await station_of(session, station.thing)
    by_start = {h.phenomenon_time_start: h for h in await stored(session, found.hourly)}
    early = by_start[city(2025, 6, 1, 5)]
    p: dict[str, Any] = early.parameters or {}
    invalid = {(f["pollutant"], f["measure"]): f for f in p["invalid"]}
    assert invalid[("PM2.5", "24h_moving")]["reason"] == "too_few_hours"
    assert invalid[("PM2.5", "24h_moving")]["valid"] == 6
    assert "PM2.5_24h" not in p["iaqi"]
    assert early.result_number == 38  # O3 1 h 120 µg/m³: the gases still give an AQI
    assert gap not in by_start
    assert city(2026, 6, 1, 2) in by_start and city(2026, 6, 1, 4) in by_start
    # The day of 2025-06-01 has 6 of 24 hours: no valid daily figure, no daily AQI stored.
    assert await stored(session, found.daily) == []


async def test_alert_when_the_aqi_crosses_100(session: AsyncSession) -> None:
    department = await factories.create_department(session, code="STHJJ", name="生态环境局")
    station = await air_station(session)
    readings = steady(city(2026, 3, 4, 0), 3, CLEAN)
    for p, rows in steady(city(2026, 3, 4, 3), 2, EXAMPLE).items():
        readings[p] += rows
    await report(session, station, readings)
    with clock.frozen(city(2026, 3, 4, 6, 30)):
        await compute.compute_reports(session, SYSTEM)
        await deliver(session)
    prop = await session.scalar(
        select(m.StaObservedProperty.id).where(
            m.StaObservedProperty.definition == AQI_HOURLY_DEFINITION
        )
    )
    made = (
        await session.scalars(select(SensingRule).where(SensingRule.observed_property_id == prop))
    ).all()
    assert sorted((r.params["value"], r.severity) for r in made) == [
        (100.0, "warning"),
        (200.0, "critical"),
    ]
    assert {r.department_id for r in made} == {department.id}
    found = await station_of(session, station.thing)
    assert found.hourly is not None
    raised = (
        await session.scalars(
            select(SensingAlert).where(SensingAlert.datastream_id == found.hourly.id)
        )
    ).all()
    assert len(raised) == 1
    alert = raised[0]
    assert alert.severity == "warning" and alert.status == alerts.OPEN
    assert alert.first_value == 119 and alert.breach_count == 2
    assert alert.department_id == department.id
    # Ensuring again (the CLI) makes nothing new.
    assert await alert_rules.ensure_alert_rules(session, SYSTEM) == []
    count = await session.scalar(
        select(func.count())
        .select_from(SensingRule)
        .where(SensingRule.observed_property_id == prop)
    )
    assert count == 2
