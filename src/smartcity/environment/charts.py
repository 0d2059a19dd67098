"""Server-side SVG for the public air quality pages: the station map and the AQI bar chart.
Plain geometry computed here, drawn by the templates, so the pages need no JavaScript and
every figure drawn is also in a table next to it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import mapping, shape
from shapely.ops import unary_union
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.clock import to_city
from smartcity.core.ids import district_of
from smartcity.environment.aqi import CATEGORIES, Category
from smartcity.environment.service import StoredReport
from smartcity.environment.views import StationView, category_of
from smartcity.registry import contract as registry
from smartcity.web.maps import Marker, Projection, place_labels, point_bounds, union_bounds

NO_DATA_COLOUR = "#b1b4b6"
# Text on the category colour: dark on the light ones, white on purple and maroon.
DARK_TEXT_LEVELS = frozenset({1, 2, 3, 4})


def text_colour(category: Category | None) -> str:
    if category is None or category.level in DARK_TEXT_LEVELS:
        return "#0b0c0c"
    return "#ffffff"


# --- the map ------------------------------------------------------------------------------


@dataclass
class Outline:
    code: str
    name: str
    path: str
    label_x: float
    label_y: float


@dataclass
class Dot:
    view: StationView
    x: float
    y: float
    colour: str
    text: str
    text_colour: str


@dataclass
class StationMap:
    width: int
    height: int
    outlines: list[Outline] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)


# District outlines change rarely; the union of street polygons is worth keeping a while.
_OUTLINE_TTL = 600.0
_outlines: tuple[float, tuple[Any, ...], list[tuple[str, dict[str, Any]]]] | None = None


async def district_shapes(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    """(district code, GeoJSON) of each district: registry Places of kind "district" when
    there are any, else the union of each district's street outlines, else none. Outlines of
    the city are public geography (no personal data), read through the registry contract."""
    global _outlines
    key = await registry.outline_versions(session, ("district", "street"))
    if (
        _outlines is not None
        and _outlines[1] == key
        and time.monotonic() - _outlines[0] < _OUTLINE_TTL
    ):
        return _outlines[2]
    kinds = {k for k, _n, _t in key}
    kind = "district" if "district" in kinds else "street" if "street" in kinds else None
    found: list[tuple[str, dict[str, Any]]] = []
    if kind is not None:
        grouped: dict[str, list[Any]] = {}
        for place in await registry.place_outlines(session, kind):
            try:
                geom = shape(place.geometry)
            except (ValueError, TypeError, AttributeError, KeyError):
                continue
            if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
                continue
            target = place.code if kind == "district" else place.district_code
            grouped.setdefault(str(target), []).append(geom.buffer(0))
        for code, shapes in sorted(grouped.items()):
            merged = unary_union(shapes).simplify(0.001)
            if not merged.is_empty:
                found.append((code, mapping(merged)))
    _outlines = (time.monotonic(), key, found)
    return found


def _bounds_of(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    b = shape(geometry).bounds
    return (b[0], b[1], b[2], b[3])


def station_map(
    views: list[StationView], districts: list[tuple[str, dict[str, Any]]], width: int = 600
) -> StationMap | None:
    """The stations over the district outlines; None when nothing has a position."""
    placed = [v for v in views if v.station.lon is not None and v.station.lat is not None]
    boxes = [_bounds_of(g) for _c, g in districts]
    points = [(v.station.lon, v.station.lat) for v in placed]
    bounds = union_bounds([*boxes, point_bounds(points)])  # type: ignore[arg-type]
    if bounds is None:
        return None
    projection = Projection(bounds, width)
    result = StationMap(projection.width, projection.height)
    for code, geometry in districts:
        info = district_of(code)
        # The name near the top of the district, where a station dot (usually central)
        # does not cover it.
        outline = shape(geometry)
        centre = outline.representative_point()
        x, _y = projection.xy(centre.x, centre.y)
        _x, top = projection.xy(centre.x, outline.bounds[3])
        result.outlines.append(
            Outline(code, info.name if info else code, projection.path(geometry), x, top + 16)
        )
    for view in placed:
        assert view.station.lon is not None and view.station.lat is not None
        x, y = projection.xy(view.station.lon, view.station.lat)
        category = None if view.stale else view.category
        result.dots.append(
            Dot(
                view,
                x,
                y,
                category.rgb_hex if category else NO_DATA_COLOUR,
                str(view.latest.aqi) if view.latest and not view.stale else "–",
                text_colour(category),
            )
        )
    # The worst on top, so a polluted station is never hidden under a clean neighbour.
    result.dots.sort(key=lambda d: d.view.latest.aqi if d.view.latest else -1)
    # District names moved off the dots (r=14 and the outline), so both stay readable.
    spots = place_labels(
        [(o.name, o.label_x, o.label_y) for o in result.outlines],
        [Marker(d.x, d.y, 15.5) for d in result.dots],
        projection.width,
        projection.height,
    )
    for district, (x, y) in zip(result.outlines, spots, strict=True):
        district.label_x, district.label_y = x, y
    return result


# --- the AQI chart ------------------------------------------------------------------------


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    report: StoredReport
    label: str


@dataclass
class Level:
    y: float
    value: int


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Step:
    """A daily AQI drawn across its day over the hourly bars (the week view)."""

    x1: float
    x2: float
    y: float
    colour: str
    report: StoredReport


@dataclass
class AqiChart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    bars: list[Bar]
    levels: list[Level]
    ticks: list[Tick]
    steps: list[Step]
    bands: list[tuple[float, float, str]]  # y, height, colour of the category bands


def aqi_chart(
    hourly: list[StoredReport],
    start: datetime,
    end: datetime,
    *,
    daily: list[StoredReport] | None = None,
    width: int = 760,
    height: int = 260,
) -> AqiChart:
    """Bars of hourly AQI in [start, end), coloured by category, on a scale that reaches
    the next category boundary above the highest value; daily AQI as steps when given."""
    left, top, right, bottom = 44, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max([r.aqi for r in hourly] + [r.aqi for r in daily or []] + [0])
    bounds = [50, 100, 150, 200, 300, 500]
    scale_top = next((b for b in bounds if b >= max(highest, 1) * 1.05), 500)
    scale_top = max(scale_top, 100)
    hours = max(int((end - start) / timedelta(hours=1)), 1)
    slot = plot_w / hours

    def y_of(value: float) -> float:
        return round(top + plot_h - min(value, scale_top) / scale_top * plot_h, 1)

    bars = []
    for report in hourly:
        index = int((report.start - start) / timedelta(hours=1))
        if not 0 <= index < hours:
            continue
        category = category_of(report.level)
        y = y_of(report.aqi)
        bars.append(
            Bar(
                round(left + index * slot + slot * 0.1, 1),
                y,
                round(max(slot * 0.8, 0.8), 1),
                round(top + plot_h - y, 1),
                category.rgb_hex if category else NO_DATA_COLOUR,
                report,
                to_city(report.start).strftime("%m-%d %H:00"),
            )
        )
    levels = [Level(y_of(v), v) for v in (0, 50, 100, 150, 200, 300, 500) if v <= scale_top]
    bands = []
    low = 0
    for category in CATEGORIES:
        high = category.aqi_high or 500
        if low >= scale_top:
            break
        y1, y2 = y_of(min(high, scale_top)), y_of(low)
        bands.append((y1, round(y2 - y1, 1), category.rgb_hex))
        low = high
    ticks = []
    every = 3 if hours <= 48 else 24
    first_local = to_city(start)
    for i in range(hours + 1):
        moment = first_local + timedelta(hours=i)
        if moment.hour % every == 0 and i < hours:
            label = moment.strftime("%H:00") if every == 3 else moment.strftime("%m-%d")
            ticks.append(Tick(round(left + i * slot, 1), label))
    steps = []
    for report in daily or []:
        offset = (report.start - start) / timedelta(hours=1)
        span = (report.end - report.start) / timedelta(hours=1)
        x1 = max(left + offset * slot, left)
        x2 = min(left + (offset + span) * slot, left + plot_w)
        if x2 <= x1:
            continue
        category = category_of(report.level)
        steps.append(
            Step(
                round(x1, 1),
                round(x2, 1),
                y_of(report.aqi),
                category.rgb_hex if category else NO_DATA_COLOUR,
                report,
            )
        )
    return AqiChart(width, height, left, top, plot_w, plot_h, bars, levels, ticks, steps, bands)
