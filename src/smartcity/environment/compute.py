"""Computing the reports (实时报 hourly, 日报 daily) from what the stations reported, and
storing each as an Observation of the station's AQI-1h / AQI-24h Datastream.

Hourly means (1小时平均) are computed in SQL, one grouped query over the (datastream,
phenomenon time) index for all stations: an Observation counts in the hour its
phenomenonTime starts in. reports.realtime_report gets the 24 hours up to the hour (the
particles' 24-hour moving means, the O3 8-hour moving mean), reports.daily_report the 24
hours of the natural day in Asia/Shanghai. The edition follows the data's own time, so
history keeps the index it was published with.

An hour is computed once it is complete and ``REPORT_DELAY`` has passed (late readings of
the hour still count); a day likewise. Nothing is ever written twice: the hours already
stored are skipped, and the environment's own table (models.AqiWatermark) remembers how far
the periodic job got per AQI Datastream, so an hour without any AQI (no valid data) is not
tried again. Results go through the sensing contract's ingestion as the platform, so the bus
event fires and the rules (alert_rules.py) see every AQI like any other reading.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM, Principal, authorize
from smartcity.core.clock import CITY_TZ
from smartcity.core.errors import Problem
from smartcity.environment import streams
from smartcity.environment.aqi import AirQualityInputError, Pollutant
from smartcity.environment.models import AqiWatermark
from smartcity.environment.reports import (
    HOUR,
    AirQualityReport,
    Figure,
    daily_report,
    realtime_report,
)
from smartcity.environment.service import Station, find_stations
from smartcity.sensing import contract as sensing
from smartcity.sensing.contract import Datastream, Interval, ObservationRow
from smartcity.web.cache import invalidate_after_commit

log = logging.getLogger(__name__)

# The cache tag of the public air pages (web/cache.py): dropped when reports are stored here
# and when a station changes (handlers.py).
AIR_PAGES = "environment.air"

REPORT_DELAY = timedelta(minutes=10)
"""How long after the end of an hour (or day) its report is computed: readings that arrive a
little late still count. The national release platform publishes about as late."""
CATCH_UP_DAYS = 8
"""How far back the periodic job looks for hours and days not yet computed."""
MAX_RANGE_DAYS = 400
"""The longest range ``smartcity environment reports`` computes in one go."""
DAY = timedelta(days=1)

Means = dict[Pollutant, dict[datetime, float]]


@dataclass
class Outcome:
    """What one run computed and stored."""

    stations: int = 0
    hours: int = 0
    days: int = 0
    refused: int = 0


def floor_hour(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return utc.replace(minute=0, second=0, microsecond=0)


def day_start(day: date) -> datetime:
    """00:00 Asia/Shanghai of the day, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=CITY_TZ).astimezone(UTC)


def city_day(moment: datetime) -> date:
    return moment.astimezone(CITY_TZ).date()


def last_complete_hour(now: datetime) -> datetime:
    """The start of the newest hour whose report is due at ``now``."""
    return floor_hour(now - REPORT_DELAY) - HOUR


def last_complete_day(now: datetime) -> date:
    return city_day(now - REPORT_DELAY) - DAY


# --- hourly means, in SQL -----------------------------------------------------------------


MAX_READING = 1e6
"""A reading beyond this (µg/m³ or mg/m³) is a broken instrument or a bad write, not air: it
counts as missing. Without the bound one reading of 1e308 overflows PostgreSQL's avg()."""


async def hourly_means(
    session: AsyncSession, stream_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, dict[datetime, float]]:
    """Per Datastream, the mean of its numeric results per hour for the hours starting in
    [start, end). A negative mean (an analyser's zero drift) is not a valid concentration and
    is left out, as a missing hour (缺测); so are readings beyond ±MAX_READING."""
    means = await sensing.hourly_means(session, stream_ids, start, end, bound=MAX_READING)
    for series in means.values():
        for at in [at for at, mean in series.items() if mean < 0]:
            del series[at]
    return {stream_id: series for stream_id, series in means.items() if series}


def _window(means: Means, first: datetime, hours: int) -> dict[Pollutant, dict[datetime, float]]:
    """The hourly means of ``hours`` hours from ``first``, per pollutant (absent = missing)."""
    out: dict[Pollutant, dict[datetime, float]] = {}
    for pollutant, series in means.items():
        picked = {}
        for i in range(hours):
            at = first + i * HOUR
            value = series.get(at)
            if value is not None:
                picked[at] = value
        out[pollutant] = picked
    return out


# --- parameters of a stored report ---------------------------------------------------------


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def figure_json(figure: Figure) -> dict[str, Any]:
    sub = figure.sub_index
    return {
        "pollutant": figure.pollutant.value,
        "measure": figure.measure.value,
        "value": _number(figure.value),
        "unit": figure.pollutant.unit,
        "valid": figure.valid,
        "needed": figure.needed,
        "outOf": figure.out_of,
        "indicator": figure.indicator.code if figure.indicator else None,
        "iaqi": sub.value if sub else None,
        "rule": sub.rule.value if sub and sub.rule else None,
        "reason": figure.reason.value if figure.reason else None,
        "standIn": figure.stand_in.code if figure.stand_in else None,
    }


def report_parameters(report: AirQualityReport) -> dict[str, Any]:
    """What the Observation's ``parameters`` keep of a report: enough to show it again
    without recomputing, with the edition it was computed by."""
    category = report.category
    figures = [figure_json(f) for f in report.figures]
    return {
        "report": report.kind.value,
        "edition": report.edition.value,
        "category": category.level if category else None,
        "categoryName": category.name_zh if category else None,
        "colour": category.rgb_hex if category else None,
        "primaryPollutants": [i.code for i in report.primary_pollutants],
        "exceedingPollutants": [i.code for i in report.exceeding_pollutants],
        "iaqi": {
            f.indicator.code: f.sub_index.value
            for f in report.figures
            if f.indicator is not None and f.sub_index is not None
        },
        "figures": figures,
        "invalid": [f for f in figures if f["reason"] is not None],
    }


# --- the run ---------------------------------------------------------------------------


async def watermarks(session: AsyncSession, stations: Sequence[Station]) -> dict[int, str]:
    """The last hour (ISO instant) or day (ISO date) the job computed, by AQI Datastream id."""
    ids = [s.id for st in stations for s in (st.hourly, st.daily) if s is not None]
    if not ids:
        return {}
    rows = await session.execute(
        select(AqiWatermark.datastream_id, AqiWatermark.computed_through).where(
            AqiWatermark.datastream_id.in_(ids)
        )
    )
    return {int(stream_id): str(value) for stream_id, value in rows.all()}


async def _set_watermark(session: AsyncSession, stream_id: int, value: str) -> None:
    found = await session.get(AqiWatermark, stream_id)
    if found is None:
        session.add(AqiWatermark(datastream_id=stream_id, computed_through=value))
    else:
        found.computed_through = value


def _data_span(station: Station) -> tuple[datetime, datetime] | None:
    starts = [s.phenomenon_time_start for s in station.pollutants.values()]
    ends = [s.phenomenon_time_end for s in station.pollutants.values()]
    first = min((t for t in starts if t is not None), default=None)
    last = max((t for t in ends if t is not None), default=None)
    if first is None or last is None:
        return None
    return floor_hour(first), floor_hour(last)


@dataclass
class _Plan:
    station: Station
    hours: list[datetime]
    days: list[date]
    hour_mark: datetime | None  # the watermark to store after the run (job mode)
    day_mark: date | None


def _plan(
    station: Station,
    now: datetime,
    since: date | None,
    until: date | None,
    marks: dict[int, str],
) -> _Plan | None:
    span = _data_span(station)
    if span is None:
        return None
    first_data, last_data = span
    job = since is None
    # Hours: complete ones, not before the data nor long after it (24 hours after the last
    # reading no statistic of a real-time report can have a value).
    last_hour = min(last_complete_hour(now), last_data + 23 * HOUR)
    if job:
        first_hour = floor_hour(now - timedelta(days=CATCH_UP_DAYS))
        mark = marks.get(station.hourly.id) if station.hourly is not None else None
        if mark is not None:
            first_hour = max(first_hour, datetime.fromisoformat(mark) + HOUR)
    else:
        assert since is not None and until is not None
        first_hour = day_start(since)
        last_hour = min(last_hour, day_start(until + DAY) - HOUR)
    first_hour = max(first_hour, first_data)
    hours = []
    at = first_hour
    while at <= last_hour:
        hours.append(at)
        at += HOUR
    # Days: complete natural days in Asia/Shanghai with data in them.
    last_day = min(last_complete_day(now), city_day(last_data))
    if job:
        first_day = city_day(now) - timedelta(days=CATCH_UP_DAYS)
        day_mark_text = marks.get(station.daily.id) if station.daily is not None else None
        if day_mark_text is not None:
            first_day = max(first_day, date.fromisoformat(day_mark_text) + DAY)
    else:
        assert since is not None and until is not None
        first_day, last_day = since, min(last_day, until)
    first_day = max(first_day, city_day(first_data))
    days = []
    day = first_day
    while day <= last_day:
        days.append(day)
        day += DAY
    return _Plan(
        station,
        hours,
        days,
        hours[-1] if job and hours else None,
        days[-1] if job and days else None,
    )


async def _stored_starts(
    session: AsyncSession, stream: Datastream | None, start: datetime, end: datetime
) -> set[datetime]:
    if stream is None:
        return set()
    return await sensing.observation_starts(session, stream.id, start, end)


def _row(
    stream_id: int, start: datetime, end: datetime, report: AirQualityReport, now: datetime
) -> ObservationRow:
    assert report.aqi is not None
    return ObservationRow(
        datastream_id=stream_id,
        phenomenon_time=Interval(start, end),
        result_time=now,
        result=report.aqi,
        has_result=True,
        parameters=report_parameters(report),
    )


async def compute_reports(
    session: AsyncSession,
    principal: Principal,
    *,
    since: date | None = None,
    until: date | None = None,
    station_ids: Sequence[int] | None = None,
) -> Outcome:
    """Compute and store the hourly and daily reports not yet stored.

    Without ``since``/``until`` (the periodic job): every complete hour and day of the last
    ``CATCH_UP_DAYS`` days after the last one computed. With them (the CLI): every complete
    hour and day of those natural days (Asia/Shanghai) that has no stored report yet.
    """
    authorize(principal, "environment.air.compute")
    if (since is None) != (until is None):
        raise Problem("Give both the first and the last day of the range, or neither.")
    if since is not None and until is not None:
        if since > until:
            raise Problem("The range ends before it starts.", field="to")
        if (until - since).days + 1 > MAX_RANGE_DAYS:
            raise Problem(f"The range is longer than {MAX_RANGE_DAYS} days.", field="to")
    now = clock.now()
    stations = [s for s in await find_stations(session, SYSTEM, ids=station_ids) if s.pollutants]
    marks = await watermarks(session, stations) if since is None else {}
    plans = [p for s in stations if (p := _plan(s, now, since, until, marks)) is not None]
    plans = [p for p in plans if p.hours or p.days]
    outcome = Outcome(stations=len(plans))
    if not plans:
        return outcome
    # One grouped query for the hourly means of every station in the run.
    starts = [p.hours[0] - 23 * HOUR for p in plans if p.hours]
    starts += [day_start(p.days[0]) for p in plans if p.days]
    ends = [p.hours[-1] + HOUR for p in plans if p.hours]
    ends += [day_start(p.days[-1] + DAY) for p in plans if p.days]
    stream_ids = [s.id for p in plans for s in p.station.pollutants.values()]
    by_stream = await hourly_means(session, stream_ids, min(starts), max(ends))
    rows: list[ObservationRow] = []
    for plan in plans:
        station = plan.station
        means: Means = {
            pollutant: by_stream.get(stream.id, {})
            for pollutant, stream in station.pollutants.items()
        }
        hourly_stream, daily_stream = await streams.ensure_aqi_streams(session, station)
        if plan.hours:
            done = await _stored_starts(session, hourly_stream, plan.hours[0], plan.hours[-1])
            for hour in plan.hours:
                if hour in done:
                    continue
                try:
                    report = realtime_report(hour, _window(means, hour - 23 * HOUR, 24))
                except AirQualityInputError:
                    log.exception("air station %s: hour %s not computed", station.id, hour)
                    continue
                if report.aqi is not None:
                    rows.append(_row(hourly_stream.id, hour, hour + HOUR, report, now))
                    outcome.hours += 1
            if plan.hour_mark is not None:
                await _set_watermark(session, hourly_stream.id, plan.hour_mark.isoformat())
        if plan.days:
            done = await _stored_starts(
                session, daily_stream, day_start(plan.days[0]), day_start(plan.days[-1])
            )
            for day in plan.days:
                start = day_start(day)
                if start in done:
                    continue
                try:
                    report = daily_report(day, _window(means, start, 24))
                except AirQualityInputError:
                    log.exception("air station %s: day %s not computed", station.id, day)
                    continue
                if report.aqi is not None:
                    rows.append(_row(daily_stream.id, start, start + DAY, report, now))
                    outcome.days += 1
            if plan.day_mark is not None:
                await _set_watermark(session, daily_stream.id, plan.day_mark.isoformat())
    if rows:
        # The public air pages show the newest reports: they render anew once these are
        # committed (web/cache.py).
        invalidate_after_commit(session, AIR_PAGES)
        # Oldest first: the rules judge each stream's AQI in time order.
        rows.sort(key=lambda r: r.phenomenon_time.start if r.phenomenon_time else now)
        outcomes = await sensing.ingest_observations(session, SYSTEM, rows)
        refused = [o for o in outcomes if isinstance(o, Problem)]
        if refused:
            outcome.refused = len(refused)
            log.warning("%d AQI observations refused, e.g. %s", len(refused), refused[0].detail)
    await session.flush()
    return outcome
