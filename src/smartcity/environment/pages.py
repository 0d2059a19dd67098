"""Public air quality pages (空气质量), for citizens, without JavaScript: /air (the city
summary, a map of the stations coloured by category, the table of stations) and
/air/stations/{id} (a station's figures and its AQI over the last day or week)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.clock import CITY_TZ
from smartcity.core.i18n import N_
from smartcity.core.ids import district_of
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.environment import charts, service, views
from smartcity.environment.aqi import CATEGORIES, EDITION_2026_START, Edition
from smartcity.environment.compute import AIR_PAGES, day_start, floor_hour
from smartcity.environment.reports import HOUR
from smartcity.environment.schemas import figure_out
from smartcity.web.cache import cached_page
from smartcity.web.pages import page_principal
from smartcity.web.render import render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Visitor = Annotated[Principal | None, Depends(page_principal)]
Public = [Depends(public)]

MEASURE_LABELS = {
    "1h": N_("1-hour mean"),
    "8h_moving": N_("8-hour moving mean"),
    "24h_moving": N_("24-hour moving mean"),
    "24h": N_("24-hour mean"),
    "max_8h": N_("Daily maximum 8-hour mean"),
    "max_1h": N_("Daily maximum 1-hour mean"),
}
# The standards' titles, msgids: the catalog holds the standard's own Chinese title.
EDITION_TITLES = {
    Edition.HJ_633_2012.value: N_("Technical Regulation on Ambient Air Quality Index (on trial)"),
    Edition.HJ_633_2026.value: N_("Technical Regulation on Ambient Air Quality Index"),
}
VIEWS = ("day", "week")


def _district_name(code: str) -> str:
    info = district_of(code) if code else None
    return i18n.pick(info.name, info.name_en) if info else code


def _common() -> dict[str, Any]:
    return {
        "categories": CATEGORIES,
        "measure_labels": MEASURE_LABELS,
        "edition_titles": EDITION_TITLES,
        "district_name": _district_name,
        "category_of": views.category_of,
        "indicator_label": views.indicator_name,
        "pollutant_name": views.pollutant_name,
        "category_grade": views.category_grade,
        "text_colour": charts.text_colour,
        "edition_2026_start": EDITION_2026_START,
        "hour_label": hour_label,
    }


def hour_label(start: datetime) -> str:
    """``2026-03-05 11:00–12:00`` in the city's time."""
    local = start.astimezone(CITY_TZ)
    return f"{local:%Y-%m-%d %H:00}–{(local + timedelta(hours=1)):%H:00}"


@router.get("/air", dependencies=Public)
async def air_page(request: Request, session: DbSession, principal: Visitor) -> Response:
    return await cached_page(
        request,
        AIR_PAGES,
        "air",
        lambda: _air_page(request, session, principal),
        signed_in=principal is not None,
    )


async def _air_page(request: Request, session: DbSession, principal: Principal | None) -> Response:
    summary = await views.city_summary(session, principal)
    districts = await charts.district_shapes(session)
    return render(
        request,
        "environment/air.html",
        {
            **_common(),
            "summary": summary,
            "report": summary.report,
            "city_figures": (
                [figure_out(f) for f in _figures(summary.report)] if summary.report else []
            ),
            "map": charts.station_map(summary.stations, districts),
        },
        principal=principal,
    )


def _figures(report: Any) -> list[dict[str, Any]]:
    from smartcity.environment.compute import figure_json

    return [figure_json(f) for f in report.figures]


@router.get("/air/stations/{station_id}", dependencies=Public)
async def station_page(
    request: Request,
    station_id: int,
    session: DbSession,
    principal: Visitor,
    view: str = "day",
) -> Response:
    chosen = view if view in VIEWS else "day"
    return await cached_page(
        request,
        AIR_PAGES,
        ("station", station_id, chosen),
        lambda: _station_page(request, session, principal, station_id, chosen),
        signed_in=principal is not None,
    )


async def _station_page(
    request: Request,
    session: DbSession,
    principal: Principal | None,
    station_id: int,
    chosen: str,
) -> Response:
    station = await service.get_station(session, principal, station_id)
    unreadable: set[int] = set()
    latest = (await service.latest_reports(session, [station], unreadable=unreadable)).get(
        station.id
    )
    now = clock.now()
    # The chart ends with the newest report (or now, without any), so a station that
    # stopped reporting still shows its last day rather than an empty one.
    end = latest.end if latest else floor_hour(now) + HOUR
    if chosen == "day":
        start = end - timedelta(hours=24)
    else:
        last_day = (end - HOUR).astimezone(CITY_TZ).date()
        start = day_start(last_day - timedelta(days=6))
        end = day_start(last_day + timedelta(days=1))
    hourly = await service.reports_between(session, station, start, end)
    daily_start = day_start((end - HOUR).astimezone(CITY_TZ).date() - timedelta(days=6))
    daily = await service.reports_between(session, station, daily_start, end, daily=True)
    chart = charts.aqi_chart(hourly, start, end, daily=daily if chosen == "week" else None)
    station_view = views.StationView(
        station,
        latest,
        latest is None or latest.end < now - views.STALE_AFTER,
        station.id in unreadable,
    )
    figures = [figure_out(f) for f in (latest.parameters.get("figures") or [])] if latest else []
    return render(
        request,
        "environment/station.html",
        {
            **_common(),
            "station": station,
            "view": station_view,
            "latest": latest,
            "figures": figures,
            "chosen": chosen,
            "chart": chart,
            "hourly": hourly,
            "daily": daily,
            "start": start,
            "end": end,
        },
        principal=principal,
    )
