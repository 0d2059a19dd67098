"""What the public API and pages show of air quality: each station's current report, the
city summary, and a station's reports over a range. Read-only; the caller's view of the
sensing data (sensing.access) decides which stations exist.

The city's hourly AQI follows HJ 663 practice: per pollutant and hour the concentration of
the city is the mean of its stations' hourly means, and the city's real-time report is
computed from those means as a station's would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.clock import CITY_TZ
from smartcity.core.errors import Problem
from smartcity.core.i18n import gettext as _
from smartcity.environment.aqi import (
    CATEGORIES,
    Category,
    Edition,
    edition_for,
    indicator_from,
    pollutant_from,
)
from smartcity.environment.compute import day_start, hourly_means
from smartcity.environment.reports import (
    HOUR,
    REASON_TEXT,
    AirQualityReport,
    Reason,
    realtime_report,
)
from smartcity.environment.service import (
    Station,
    StoredReport,
    find_stations,
    latest_reports,
    reports_at,
)

STALE_AFTER = timedelta(hours=3)
"""A station whose newest hourly report is older than this is shown as not reporting."""
MAX_HOURLY_DAYS = 31
MAX_DAILY_DAYS = 366


class BadRange(Problem):
    """A from/to that cannot be read, is reversed or too long (400)."""

    status, slug, title = 400, "bad-range", "Bad range"


def category_of(level: int | None) -> Category | None:
    if level is None or not 1 <= level <= len(CATEGORIES):
        return None
    return CATEGORIES[level - 1]


def category_code(category: Category) -> str:
    """A stable code of the category, e.g. ``lightly-polluted``."""
    return category.label.lower().replace(" ", "-")


def indicator_label(code: str) -> str:
    """细颗粒物, 臭氧8小时…: how a primary pollutant is named."""
    try:
        return indicator_from(code).label_zh
    except ValueError:
        return code


def indicator_name(code: str) -> str:
    """A primary pollutant as the reader's language names it (pages; the API keeps name_zh)."""
    try:
        found = indicator_from(code)
    except ValueError:
        return code
    return i18n.pick(found.label_zh, found.label_en)


def pollutant_name(code: str) -> str:
    """细颗粒物 / Fine particulate matter, by the pollutant's code."""
    try:
        found = pollutant_from(code)
    except ValueError:
        return code
    return i18n.pick(found.name_zh, found.name_en)


def category_grade(category: Category) -> str:
    """The level and colour of a category: 二级 · 黄色 / Level 2 · yellow."""
    if i18n.current_locale.get().startswith("zh"):
        return f"{category.level_zh} · {category.colour_zh}"
    return i18n.gettext("Level %(n)s · %(colour)s") % {
        "n": category.level,
        "colour": category.colour_en.lower(),
    }


def explanation(figure: dict[str, Any]) -> str | None:
    """Why a stored figure has no value or no sub-index, in the reader's language."""
    reason = figure.get("reason")
    if not reason:
        return None
    try:
        text = REASON_TEXT[Reason(reason)]
    except ValueError:
        return str(reason)
    return _(text) % {
        "valid": figure.get("valid") or 0,
        "needed": figure.get("needed") or 0,
        "out_of": figure.get("outOf") or 0,
        "stand_in": figure.get("standIn") or "",
    }


@dataclass
class StationView:
    station: Station
    latest: StoredReport | None
    stale: bool
    # Its newest stored report could not be read (skipped; an older one may be shown).
    unreadable: bool = False

    @property
    def category(self) -> Category | None:
        return category_of(self.latest.level) if self.latest else None


@dataclass
class CitySummary:
    hour: datetime | None
    report: AirQualityReport | None
    stations: list[StationView]
    reporting: list[StationView]  # with a report for the city's hour
    per_category: list[tuple[Category, int]]
    best: StationView | None
    worst: StationView | None
    edition_now: Edition


async def station_views(session: AsyncSession, principal: Principal | None) -> list[StationView]:
    stations = await find_stations(session, principal)
    unreadable: set[int] = set()
    latest = await latest_reports(session, stations, unreadable=unreadable)
    now = clock.now()
    return [
        StationView(
            s,
            latest.get(s.id),
            s.id not in latest or latest[s.id].end < now - STALE_AFTER,
            s.id in unreadable,
        )
        for s in stations
    ]


async def city_report(
    session: AsyncSession, stations: list[Station], hour: datetime
) -> AirQualityReport | None:
    """The city's real-time report for the hour, from the mean of the stations' hourly
    concentrations per pollutant (the 24 hours up to it, for the moving means)."""
    ids = {s.id: p for st in stations for p, s in st.pollutants.items()}
    means = await hourly_means(session, list(ids), hour - 23 * HOUR, hour + HOUR)
    sums: dict[Any, dict[datetime, list[float]]] = {}
    for stream_id, series in means.items():
        pollutant = ids[stream_id]
        for at, value in series.items():
            sums.setdefault(pollutant, {}).setdefault(at, []).append(value)
    city = {p: {at: sum(v) / len(v) for at, v in hours.items()} for p, hours in sums.items()}
    if not city:
        return None
    report = realtime_report(hour, city)
    return report if report.aqi is not None else None


async def city_summary(session: AsyncSession, principal: Principal | None) -> CitySummary:
    views = await station_views(session, principal)
    hour = max((v.latest.start for v in views if v.latest), default=None)
    reporting: list[StationView] = []
    report = None
    if hour is not None:
        at_hour = await reports_at(session, [v.station for v in views], hour)
        reporting = [
            StationView(v.station, at_hour[v.station.id], False)
            for v in views
            if v.station.id in at_hour
        ]
        report = await city_report(session, [v.station for v in reporting], hour)
    counts = {c.level: 0 for c in CATEGORIES}
    for view in reporting:
        if view.latest and view.latest.level in counts:
            counts[view.latest.level] += 1
    ranked = sorted(
        (v for v in reporting if v.latest),
        key=lambda v: (v.latest.aqi, v.station.name),  # type: ignore[union-attr]
    )
    return CitySummary(
        hour=hour,
        report=report,
        stations=views,
        reporting=reporting,
        per_category=[(c, counts[c.level]) for c in CATEGORIES],
        best=ranked[0] if ranked else None,
        worst=ranked[-1] if ranked else None,
        edition_now=edition_for(clock.now()),
    )


# --- ranges -------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _instant(text: str, name: str) -> datetime:
    value = text.strip()
    try:
        if _DATE.match(value):
            return day_start(date.fromisoformat(value))
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise BadRange(
            _("%(name)s must be a date (2026-03-01) or a time with an offset.") % {"name": name},
            field=name,
        ) from exc
    if parsed.tzinfo is None:
        raise BadRange(_("%(name)s needs a time zone, e.g. +08:00.") % {"name": name}, field=name)
    return parsed.astimezone(UTC)


def parse_range(
    start: str | None, end: str | None, *, daily: bool, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """[from, to) of a series request; by default the last 24 hours (hourly) or 30 days
    (daily). A date means 00:00 Asia/Shanghai; ``to`` a date includes that day."""
    now = now or clock.now()
    longest = timedelta(days=MAX_DAILY_DAYS if daily else MAX_HOURLY_DAYS)
    if end:
        until = _instant(end, "to")
        if _DATE.match(end.strip()):
            until += timedelta(days=1)
    else:
        until = (
            day_start(now.astimezone(CITY_TZ).date() + timedelta(days=1))
            if daily
            else now.replace(minute=0, second=0, microsecond=0) + HOUR
        )
    since = (
        _instant(start, "from")
        if start
        else until - (timedelta(days=30) if daily else timedelta(hours=24))
    )
    if since >= until:
        raise BadRange(_("from must be before to."), field="from")
    if until - since > longest:
        raise BadRange(
            _("The range is longer than %(days)d days.") % {"days": longest.days}, field="to"
        )
    return since, until
