"""The public air quality API's shapes (/api/v1/environment/air/...)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from smartcity.core.ids import district_of
from smartcity.environment.aqi import Category
from smartcity.environment.reports import AirQualityReport
from smartcity.environment.service import StoredReport
from smartcity.environment.views import (
    CitySummary,
    StationView,
    category_code,
    category_of,
    explanation,
    indicator_label,
)
from smartcity.sensing.contract import format_datetime


class CategoryOut(BaseModel):
    """An AQI category (类别) with its level and colour (HJ 633 表2)."""

    code: str
    level: int
    name_zh: str
    name_en: str
    colour: str

    @classmethod
    def of(cls, category: Category | None) -> CategoryOut | None:
        if category is None:
            return None
        return cls(
            code=category_code(category),
            level=category.level,
            name_zh=category.name_zh,
            name_en=category.label,
            colour=category.rgb_hex,
        )


class PollutantRef(BaseModel):
    code: str
    name_zh: str


class District(BaseModel):
    code: str
    name: str | None


class Location(BaseModel):
    lon: float
    lat: float


class Figure(BaseModel):
    """One statistic of a report: a concentration and, when it counts, its IAQI."""

    pollutant: str
    name_zh: str
    measure: str
    value: int | float | None
    unit: str
    indicator: str | None
    iaqi: int | None
    valid: int
    needed: int
    out_of: int
    reason: str | None
    explanation: str | None


class StationOut(BaseModel):
    id: int
    name: str
    code: str
    district: District
    location: Location | None
    aqi: int | None
    category: CategoryOut | None
    primary_pollutants: list[PollutantRef]
    time: str | None
    """The start of the hour the AQI is for (ISO 8601, UTC)."""
    time_end: str | None
    edition: str | None
    reporting: bool
    unreadable: bool = False
    """Its newest stored report could not be read and was skipped."""


class ReportOut(BaseModel):
    start: str
    end: str
    aqi: int
    category: CategoryOut | None
    primary_pollutants: list[PollutantRef]
    edition: str
    iaqi: dict[str, int]
    figures: list[Figure]


class StationDetail(StationOut):
    hourly: ReportOut | None
    daily: ReportOut | None


class Series(BaseModel):
    station_id: int
    start: str
    end: str
    kind: str
    points: list[ReportOut]


class CategoryCount(BaseModel):
    category: CategoryOut
    stations: int


class StationRank(BaseModel):
    id: int
    name: str
    aqi: int


class Summary(BaseModel):
    time: str | None
    aqi: int | None
    category: CategoryOut | None
    primary_pollutants: list[PollutantRef]
    edition: str | None
    edition_in_force: str
    figures: list[Figure]
    stations: int
    stations_reporting: int
    stations_unreadable: int = 0
    """Stations whose newest stored report could not be read (skipped)."""
    per_category: list[CategoryCount]
    best: StationRank | None
    worst: StationRank | None


def _refs(codes: list[str]) -> list[PollutantRef]:
    return [PollutantRef(code=c, name_zh=indicator_label(c)) for c in codes]


def figure_out(f: dict[str, Any]) -> Figure:
    from smartcity.environment.aqi import pollutant_from

    try:
        name = pollutant_from(str(f.get("pollutant"))).name_zh
    except ValueError:
        name = str(f.get("pollutant"))
    return Figure(
        pollutant=str(f.get("pollutant")),
        name_zh=name,
        measure=str(f.get("measure")),
        value=f.get("value"),
        unit=str(f.get("unit") or ""),
        indicator=f.get("indicator"),
        iaqi=f.get("iaqi"),
        valid=int(f.get("valid") or 0),
        needed=int(f.get("needed") or 0),
        out_of=int(f.get("outOf") or 0),
        reason=f.get("reason"),
        explanation=explanation(f),
    )


def report_out(report: StoredReport) -> ReportOut:
    p = report.parameters
    return ReportOut(
        start=format_datetime(report.start),
        end=format_datetime(report.end),
        aqi=report.aqi,
        category=CategoryOut.of(category_of(report.level)),
        primary_pollutants=_refs(list(p.get("primaryPollutants") or [])),
        edition=report.edition,
        iaqi={str(k): int(v) for k, v in (p.get("iaqi") or {}).items()},
        figures=[figure_out(f) for f in p.get("figures") or []],
    )


def station_out(view: StationView) -> dict[str, Any]:
    s, latest = view.station, view.latest
    district = district_of(s.district_code) if s.district_code else None
    return {
        "id": s.id,
        "name": s.name,
        "code": s.code,
        "district": District(code=s.district_code, name=district.name if district else None),
        "location": Location(lon=s.lon, lat=s.lat)
        if s.lon is not None and s.lat is not None
        else None,
        "aqi": latest.aqi if latest else None,
        "category": CategoryOut.of(view.category),
        "primary_pollutants": _refs(list(latest.parameters.get("primaryPollutants") or []))
        if latest
        else [],
        "time": format_datetime(latest.start) if latest else None,
        "time_end": format_datetime(latest.end) if latest else None,
        "edition": latest.edition if latest else None,
        "reporting": not view.stale,
        "unreadable": view.unreadable,
    }


def live_figures(report: AirQualityReport) -> list[Figure]:
    from smartcity.environment.compute import figure_json

    return [figure_out(figure_json(f)) for f in report.figures]


def summary_out(summary: CitySummary) -> Summary:
    report = summary.report
    return Summary(
        time=format_datetime(summary.hour) if summary.hour else None,
        aqi=report.aqi if report else None,
        category=CategoryOut.of(report.category) if report else None,
        primary_pollutants=_refs([i.code for i in report.primary_pollutants]) if report else [],
        edition=report.edition.value if report else None,
        edition_in_force=summary.edition_now.value,
        figures=live_figures(report) if report else [],
        stations=len(summary.stations),
        stations_reporting=len(summary.reporting),
        stations_unreadable=sum(1 for v in summary.stations if v.unreadable),
        per_category=[
            CategoryCount(category=CategoryOut.of(c), stations=n) for c, n in summary.per_category
        ],
        best=_rank(summary.best),
        worst=_rank(summary.worst),
    )


def _rank(view: StationView | None) -> StationRank | None:
    if view is None or view.latest is None:
        return None
    return StationRank(id=view.station.id, name=view.station.name, aqi=view.latest.aqi)
