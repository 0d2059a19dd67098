"""The public traffic API (交通信息开放接口), /api/v1/traffic: read-only feeds open to anyone,
with CORS (any origin may read them), ``Cache-Control`` and an ``ETag`` (a matching
``If-None-Match`` answers 304). See docs/traffic.md."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from smartcity.core.errors import InvalidInput
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing.contract import format_datetime
from smartcity.traffic import feeds, service

router = APIRouter(prefix="/api/v1/traffic", route_class=UnitOfWorkRoute, tags=["traffic"])
Public = [Depends(public)]


def _answer(request: Request, feed: feeds.Feed) -> Response:
    headers = {
        "ETag": feed.etag,
        "Cache-Control": f"public, max-age={feeds.MAX_AGE}",
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag",
    }
    if request.headers.get("if-none-match") == feed.etag:
        return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type=feed.media_type, headers=headers)


def _doc(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": description, "content": {media_type: {}}},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
    }


@router.get(
    "/segments.geojson",
    dependencies=Public,
    summary="Congestion per road segment now: a GeoJSON FeatureCollection of LineStrings",
    response_class=Response,
    responses=_doc("application/geo+json", "level, speed, flow, TTI and TPI per segment"),
)
async def segments_geojson(request: Request, session: DbSession) -> Response:
    return _answer(request, await feeds.cached("segments", session))


@router.get(
    "/index",
    dependencies=Public,
    summary="The traffic performance index (0-10) of the city and districts, and today's curve",
    response_class=Response,
    responses=_doc("application/json", "city and district TPI, the day's curve and peaks"),
)
async def index(request: Request, session: DbSession) -> Response:
    return _answer(request, await feeds.cached("index", session))


@router.get(
    "/corridors",
    dependencies=Public,
    summary="Travel times on the named corridors now, against free flow",
    response_class=Response,
    responses=_doc("application/json", "per corridor: length, free-flow and current seconds"),
)
async def corridors(request: Request, session: DbSession) -> Response:
    return _answer(request, await feeds.cached("corridors", session))


Near = Annotated[str | None, Query(description="lon,lat (WGS 84): only facilities within radius_m")]
Radius = Annotated[int, Query(ge=50, le=20_000, description="metres around 'near'")]


def parse_near(near: str) -> tuple[float, float]:
    parts = near.split(",")
    try:
        lon, lat = float(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        raise InvalidInput("near must be lon,lat", slug="traffic-bad-place") from None
    if len(parts) != 2 or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput("near must be lon,lat in WGS 84", slug="traffic-bad-place")
    return lon, lat


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


@router.get(
    "/parking.geojson",
    dependencies=Public,
    summary="Parking facilities with capacity and free spaces (GeoJSON Points)",
    response_class=Response,
    responses=_doc("application/geo+json", "parking availability"),
)
async def parking(
    request: Request, session: DbSession, near: Near = None, radius_m: Radius = 2000
) -> Response:
    feed = await feeds.cached("parking", session)
    if near is None:
        return _answer(request, feed)
    place = parse_near(near)
    doc = orjson.loads(feed.body)
    kept = []
    for f in doc["features"]:
        d = distance_m(place, tuple(f["geometry"]["coordinates"]))
        if d <= radius_m:
            f["properties"]["distance_m"] = round(d)
            kept.append(f)
    kept.sort(key=lambda f: f["properties"]["distance_m"])
    doc["features"] = kept
    return _answer(request, feeds._feed(orjson.dumps(doc), feed.media_type))


@router.get(
    "/incidents.atom",
    dependencies=Public,
    summary="Possible incidents and severe congestion of the last day (Atom)",
    response_class=Response,
    responses=_doc("application/atom+xml", "an Atom feed"),
)
async def incidents(request: Request, session: DbSession) -> Response:
    return _answer(request, await feeds.cached("incidents", session))


@router.get(
    "/segments/{code}",
    dependencies=Public,
    summary="One segment: its attributes and its state minute by minute for the last hours",
)
async def segment(
    code: str,
    session: DbSession,
    hours: Annotated[int, Query(ge=1, le=24)] = 3,
) -> dict[str, Any]:
    seg = await service.get_segment(session, code)
    minute = await service.latest_minute(session)
    history = (
        await service.segment_history(
            session, seg.code, minute - timedelta(hours=hours), minute + timedelta(minutes=1)
        )
        if minute
        else []
    )
    return {
        "code": seg.code,
        "name": seg.name,
        "name_en": seg.name_en,
        "road_class": seg.road_class,
        "lanes": seg.lanes,
        "length_m": seg.length_m,
        "free_flow_kmh": seg.free_flow_kmh,
        "speed_limit_kmh": seg.speed_limit_kmh,
        "district_code": seg.district_code,
        "states": [
            {
                "minute": format_datetime(s.minute),
                "speed_kmh": s.speed_kmh,
                "flow_vph": s.flow_vph,
                "occupancy_pct": s.occupancy_pct,
                "saturation": s.saturation,
                "tti": s.tti,
                "tpi": s.tpi,
                "level": s.level,
                "carried_minutes": s.carried,
            }
            for s in history
        ],
    }
