"""Traffic pages (交通出行): the public /traffic (the map coloured by level, the city and
district index with the day's curve, corridors' travel times, parking near a place) and the
staff pages of a segment and an intersection (detectors, charts, signal plan). Charts are
plotly.js from the installed package (figures in a JSON block; CSP-safe); every figure is
also in a table, so the pages work without JavaScript."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.i18n import N_
from smartcity.core.ids import district_of
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing import contract as sensing
from smartcity.traffic import api, forecast, service
from smartcity.traffic.index import level
from smartcity.traffic.models import Segment
from smartcity.traffic.state import DEFINITIONS
from smartcity.traffic.types import LEVEL_COLOURS, LEVELS, NO_DATA, NO_DATA_COLOUR, PROPERTIES_KEY
from smartcity.web.pages import page_principal, require_page
from smartcity.web.render import render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Visitor = Annotated[Principal | None, Depends(page_principal)]
Staff = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin"))]

LEVEL_LABELS = {
    "smooth": N_("Smooth"),
    "basically_smooth": N_("Basically smooth"),
    "light": N_("Light congestion"),
    "moderate": N_("Moderate congestion"),
    "severe": N_("Severe congestion"),
    NO_DATA: N_("No data"),
}
ROAD_CLASS_LABELS = {
    "expressway": N_("Expressway"),
    "arterial": N_("Arterial road"),
    "secondary": N_("Secondary road"),
    "local": N_("Local road"),
}
KIND_LABELS = {
    "loop": N_("Loop detector"),
    "camera": N_("Video detector"),
    "floating": N_("Floating-car feed"),
    "parking": N_("Parking bay counter"),
}
METHOD_LABELS = {
    "historical_average": N_("Historical average"),
    "last_value": N_("Last value"),
    "model": N_("Model"),
}
# Places a citizen may look for parking near (lon, lat WGS 84).
PLACES: dict[str, tuple[str, str, float, float]] = {
    "civic": ("市民中心", "Civic Centre", 114.0595, 22.5431),
    "north": ("深圳北站", "Shenzhen North Station", 114.0295, 22.6097),
    "luohu": ("罗湖口岸", "Luohu Port", 114.1176, 22.5325),
    "window": ("世界之窗", "Window of the World", 113.9736, 22.5367),
    "airport": ("宝安机场", "Bao'an Airport", 113.8107, 22.6395),
}


def _district(code: str) -> str:
    info = district_of(code) if code else None
    return i18n.pick(info.name, info.name_en) if info else code


def _common() -> dict[str, Any]:
    return {
        "level_labels": LEVEL_LABELS,
        "level_colours": {**LEVEL_COLOURS, NO_DATA: NO_DATA_COLOUR},
        "levels": LEVELS,
        "road_class_labels": ROAD_CLASS_LABELS,
        "kind_labels": KIND_LABELS,
        "method_labels": METHOD_LABELS,
        "district_name": _district,
        "zh": i18n.current_locale.get().startswith("zh"),
    }


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f}"


@router.get("/traffic", dependencies=[Depends(public)])
async def traffic_page(
    request: Request, session: DbSession, principal: Visitor, near: str = "civic"
) -> Response:
    place_key = near if near in PLACES else "civic"
    minute = await service.latest_minute(session)
    states = await service.states_at(session, minute) if minute else {}
    segs = await service.segments(session)
    by_code = {s.code: s for s in segs}
    points = await service.index_at(session, minute) if minute else []
    city = next((p for p in points if p.scope == "city"), None)
    districts = [p for p in points if p.scope != "city"]
    curve = (
        await service.index_series(
            session, "city", service.day_start(minute), minute + timedelta(minutes=1)
        )
        if minute
        else []
    )
    corridor_times = [
        service.corridor_time(c, by_code, states) for c in await service.corridors(session)
    ]
    place = PLACES[place_key]
    lots = []
    for lot in await service.parking(session):
        distance = api.distance_m((place[2], place[3]), (lot.lon, lot.lat))
        lots.append((distance, lot))
    lots.sort(key=lambda pair: pair[0])
    rows = sorted(
        segs,
        key=lambda s: -(states[s.code].tpi or 0) if s.code in states else 1,
    )
    zh = i18n.current_locale.get().startswith("zh")
    chart = {
        "zh": zh,
        "segments": [
            {
                "lon": [p[0] for p in s.coordinates],
                "lat": [p[1] for p in s.coordinates],
                "name": s.name if zh else (s.name_en or s.name),
                "level": states[s.code].level if s.code in states else NO_DATA,
                "speed": states[s.code].speed_kmh if s.code in states else None,
            }
            for s in segs
        ],
        "colours": {**LEVEL_COLOURS, NO_DATA: NO_DATA_COLOUR},
        "labels": {k: i18n.gettext(v) for k, v in LEVEL_LABELS.items()},
        "curve": {
            "x": [clock.to_city(p.minute).isoformat() for p in curve if p.minute.minute % 10 == 0],
            "y": [p.tpi for p in curve if p.minute.minute % 10 == 0],
            "label": i18n.gettext("Traffic performance index"),
        },
    }
    evaluation = forecast.ready()
    return render(
        request,
        "traffic/traffic.html",
        {
            **_common(),
            "minute": minute,
            "city": city,
            "districts": districts,
            "peaks": service.peak_figures(curve),
            "curve_table": [p for p in curve if p.minute.minute % 30 == 0],
            "segments": rows,
            "states": states,
            "corridors": corridor_times,
            "minutes_of": _minutes,
            "places": PLACES,
            "place_key": place_key,
            "lots": lots[:8],
            "chart": chart,
            "level_of": level,
            "staff": principal is not None and principal.kind in ("staff", "supervisor", "admin"),
            "intersections": await service.intersections(session),
            "evaluation": evaluation,
        },
        principal=principal,
    )


async def _detectors_of(session: DbSession, code: str) -> list[dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for row in await sensing.streams_of_definitions(session, DEFINITIONS):
        traffic = row.thing_properties.get(PROPERTIES_KEY)
        if isinstance(traffic, dict) and traffic.get("segment") == code:
            item = found.setdefault(
                row.thing_id,
                {"id": row.thing_id, "name": row.thing_name, "kind": traffic.get("kind"), "n": 0},
            )
            item["n"] += 1
    return list(found.values())


@router.get("/traffic/segments/{code}")
async def segment_page(
    request: Request, code: str, session: DbSession, principal: Staff
) -> Response:
    seg = await service.get_segment(session, code)
    minute = await service.latest_minute(session)
    history = (
        await service.segment_history(
            session, seg.code, minute - timedelta(hours=3), minute + timedelta(minutes=1)
        )
        if minute
        else []
    )
    nodes = {
        i.code: i
        for i in await service.intersections(session)
        if i.code in (seg.from_node, seg.to_node)
    }
    chart = {
        "zh": i18n.current_locale.get().startswith("zh"),
        "x": [clock.to_city(s.minute).isoformat() for s in history],
        "speed": [s.speed_kmh for s in history],
        "tpi": [s.tpi for s in history],
        "labels": {
            "speed": i18n.gettext("Speed (km/h)"),
            "tpi": i18n.gettext("Traffic performance index"),
        },
    }
    return render(
        request,
        "traffic/segment.html",
        {
            **_common(),
            "seg": seg,
            "latest": history[-1] if history else None,
            "history": history[-30:][::-1],
            "detectors": await _detectors_of(session, seg.code),
            "nodes": nodes,
            "chart": chart,
        },
        principal=principal,
    )


@router.get("/traffic/intersections/{code}")
async def intersection_page(
    request: Request, code: str, session: DbSession, principal: Staff
) -> Response:
    node = await service.get_intersection(session, code)
    segs: list[Segment] = await service.segments(session)
    minute = await service.latest_minute(session)
    states = await service.states_at(session, minute) if minute else {}
    return render(
        request,
        "traffic/intersection.html",
        {
            **_common(),
            "node": node,
            "incoming": [s for s in segs if s.to_node == node.code],
            "outgoing": [s for s in segs if s.from_node == node.code],
            "states": states,
        },
        principal=principal,
    )
