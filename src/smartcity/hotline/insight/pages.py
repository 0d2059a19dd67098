"""Pages of the insight: /hotline/insight (the hot-spot map of districts or streets, the
orders per category and per day, the rising topics) and /hotline/insight/kpis (the KPI table
per department or street, with its CSV). The map is SVG drawn on the server from the
registry's outlines (web/maps.py), so it works without JavaScript; the series is a plotly
chart with the same figures in a table."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import DIVISIONS
from smartcity.core.uow import DbSession
from smartcity.hotline import service, views
from smartcity.hotline.categories import NODES
from smartcity.hotline.insight import service as insight
from smartcity.registry import contract as registry
from smartcity.web.maps import Projection, union_bounds
from smartcity.web.pages import require_page
from smartcity.web.render import render

# Citizens are refused by the page guard; staff outside a department by the service (403).
Reader = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin", "auditor"))]
MAP_WIDTH = 720
# Light to dark blue: the share of the busiest place's count.
SHADES = ("#eef4f8", "#c9dcea", "#93bcd8", "#5a96c0", "#2a6f9e", "#0b4a73")
PARAMS = ("period", "date", "level", "category", "department", "by", "min_count")


def _params(request: Request) -> dict[str, str]:
    return {
        name: value.strip()[:32]
        for name in PARAMS
        if (value := request.query_params.get(name)) is not None and value.strip()
    }


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            _("Give the date as YYYY-MM-DD."), field=name, slug="insight-bad-date"
        ) from None


def _int(value: str | None, name: str, default: int) -> int:
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(
            _("Give a whole number."), field=name, slug="insight-bad-number"
        ) from None


def category_label(code: str) -> str:
    node = NODES.get(code)
    if node is None:
        return code or _("(no category)")
    return node.name_en if views.english() else node.name


@dataclass
class Area:
    code: str
    name: str
    path: str
    count: int
    fill: str


@dataclass
class HotspotMap:
    width: int
    height: int
    areas: list[Area] = field(default_factory=list)
    labelled: bool = True
    labels: list[tuple[float, float, int]] = field(default_factory=list)  # x, y, count


def _shade(count: int, top: int) -> str:
    if count <= 0 or top <= 0:
        return SHADES[0]
    return SHADES[min(len(SHADES) - 1, 1 + int((len(SHADES) - 2) * count / top))]


def _district_name(code: str) -> tuple[str, str | None]:
    info = DIVISIONS.get(code)
    return (info.name, info.name_en) if info else (code, None)


async def _map(
    session: AsyncSession, principal: Principal, found: insight.Hotspots
) -> tuple[HotspotMap | None, dict[str, Any]]:
    """The outlines of the level's places shaded by their counts, and the places' names. A
    city with street outlines only draws its districts as their streets, shaded alike."""
    try:
        places = await registry.areas(session, principal, (found.level,))
        if found.level == "district" and not any(p.geometry is not None for p in places):
            places = await registry.areas(session, principal, ("street",))
    except Problem:
        return None, {}
    by_district = found.level == "district"
    names: dict[str, Any] = {p.code: p.name for p in places}
    if by_district:
        names = {p.code: _district_name(p.code) for p in found.places if p.code}
    shaped = [p for p in places if p.geometry is not None and p.min_lon is not None]
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    for p in shaped:
        key = (p.district_code or p.code) if by_district else p.code
        boxes.setdefault(key, []).append((p.min_lon, p.min_lat, p.max_lon, p.max_lat))  # type: ignore[arg-type]
    bounds = union_bounds([b for group in boxes.values() for b in group])
    if bounds is None:
        return None, names
    projection = Projection(bounds, MAP_WIDTH)
    counts = {p.code: p.count for p in found.places}
    top = max((n for code, n in counts.items() if code), default=0)
    drawn = HotspotMap(projection.width, projection.height, labelled=by_district)
    for place in shaped:
        try:
            path = projection.path(place.geometry)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        key = (place.district_code or place.code) if by_district else place.code
        n = counts.get(key, 0)
        label = _district_name(key)[0] if by_district else place.name
        drawn.areas.append(Area(key, label, path, n, _shade(n, top)))
    if by_district:
        for key, group in boxes.items():
            box = union_bounds(group)
            assert box is not None
            x, y = projection.xy((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            drawn.labels.append((x, y, counts.get(key, 0)))
    return drawn, names


def _department_label(departments: dict[str, tuple[str, str]]) -> Any:
    english = views.english()

    def label(code: str) -> str:
        names = departments.get(code)
        if not names:
            return code
        return (names[1] or names[0]) if english else names[0]

    return label


async def _choices(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    scope = await insight.resolve_scope(session, principal)
    departments = await service.department_names(session)
    return {
        "all_departments": scope.department_code is None,
        "departments": sorted(departments),
        "department_label": _department_label(departments),
        "category_choices": [(c, category_label(c), c.count(".")) for c in sorted(NODES)],
        "periods": [("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
    }


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


async def hotspot_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """热点分析: the map, the orders per category and per day, the rising topics."""
    params = _params(request)
    errors: dict[str, str] = {}
    choices = await _choices(session, principal)
    try:
        win = insight.window(params.get("period", "month"), _day(params.get("date"), "date"))
        found = await insight.hotspots(
            session,
            principal,
            win,
            level=params.get("level", "district"),
            category=params.get("category"),
            department=params.get("department"),
        )
        topics = await insight.topics(
            session,
            principal,
            on=min(win.last, insight.today()),
            category=params.get("category"),
            min_count=_int(params.get("min_count"), "min_count", insight.MIN_COUNT),
            department=params.get("department"),
        )
    except InvalidInput as exc:
        errors[str(exc.extensions.get("field") or "_form")] = exc.detail
        params = {}
        win = insight.window()
        found = await insight.hotspots(session, principal, win)
        topics = await insight.topics(session, principal, on=win.last)
    drawn, names = await _map(session, principal, found)
    series = {
        "x": [b for b, _n in found.series],
        "y": [n for _b, n in found.series],
        "name": _("Orders received"),
        "title": _("Orders received per hour") if win.hourly else _("Orders received per day"),
    }
    return render(
        request,
        "hotline/insight.html",
        {
            **choices,
            "values": {
                "period": win.period,
                "date": params.get("date", f"{win.first:%Y-%m-%d}"),
                "level": found.level,
                "category": found.category or "",
                "department": found.department or "",
                "min_count": topics.min_count,
            },
            "errors": errors,
            "win": win,
            "found": found,
            "map": drawn,
            "place_names": names,
            "topics": topics,
            "series": series,
            "category_label": category_label,
            "shades": SHADES,
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


async def _kpis(
    session: AsyncSession, principal: Principal, params: dict[str, str]
) -> insight.Kpis:
    win = insight.window(params.get("period", "month"), _day(params.get("date"), "date"))
    return await insight.kpis(
        session,
        principal,
        win,
        by=params.get("by", "department"),
        category=params.get("category"),
        department=params.get("department"),
    )


async def kpi_page(request: Request, session: DbSession, principal: Reader) -> Response:
    """考核指标: the KPIs per department or street, the definitions under the table."""
    params = _params(request)
    errors: dict[str, str] = {}
    choices = await _choices(session, principal)
    try:
        found = await _kpis(session, principal, params)
    except InvalidInput as exc:
        errors[str(exc.extensions.get("field") or "_form")] = exc.detail
        params = {}
        found = await _kpis(session, principal, params)
    street_names: dict[str, str] = {}
    if found.by == "street":
        try:
            street_names = {
                p.code: p.name for p in await registry.areas(session, principal, ("street",))
            }
        except Problem:
            street_names = {}
    return render(
        request,
        "hotline/insight_kpis.html",
        {
            **choices,
            "values": {
                "period": found.window.period,
                "date": params.get("date", f"{found.window.first:%Y-%m-%d}"),
                "by": found.by,
                "category": found.category or "",
                "department": params.get("department", ""),
            },
            "errors": errors,
            "found": found,
            "street_names": street_names,
            "pct": pct,
            "days": days,
            "csv_query": "&".join(f"{k}={v}" for k, v in params.items() if k != "min_count"),
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


async def kpi_csv(request: Request, session: DbSession, principal: Reader) -> Response:
    """The KPI table as CSV (UTF-8 with a BOM, for Excel)."""
    found = await _kpis(session, principal, _params(request))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "key",
            "district_code",
            "received",
            "closed",
            "closed_rate",
            "on_time",
            "on_time_rate",
            "rated",
            "satisfied",
            "satisfaction_rate",
            "dispatched",
            "returned",
            "return_rate",
            "reworked",
            "rework_rate",
            "average_workdays",
            "p90_workdays",
        ]
    )

    def num(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    for r in [*found.rows, found.total]:
        writer.writerow(
            [
                r.key or "total",
                r.district_code,
                r.received,
                r.closed,
                num(r.closed_rate),
                r.on_time,
                num(r.on_time_rate),
                r.rated,
                r.satisfied,
                num(r.satisfaction_rate),
                r.dispatched,
                r.returned,
                num(r.return_rate),
                r.reworked,
                num(r.rework_rate),
                num(r.average_days),
                "" if r.p90_days is None else r.p90_days,
            ]
        )
    name = f"hotline-kpis-{found.by}-{found.window.first:%Y%m%d}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def add_routes(router: APIRouter) -> None:
    """Add the insight's pages to the hotline's page router."""
    router.add_api_route("/hotline/insight", hotspot_page, methods=["GET"])
    router.add_api_route("/hotline/insight/kpis", kpi_page, methods=["GET"])
    router.add_api_route("/hotline/insight/kpis.csv", kpi_csv, methods=["GET"])
