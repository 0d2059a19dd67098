"""The public feeds (公开数据发布), built once per minute of state and kept in memory as
bytes with their ETag, so a request that hits the cache touches no database.

- congestion per segment: GeoJSON (RFC 7946) FeatureCollection of LineStrings;
- the index: city and districts, now and the day's curve, with the peaks;
- corridors' travel times; parking availability (GeoJSON Points);
- incidents: Atom (RFC 4287).

Each is cached until the minute job computes again (``forget``) or for ``TTL_SECONDS``
(another process's job may have run)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from xml.sax.saxutils import escape

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.sensing.contract import format_datetime
from smartcity.traffic import service
from smartcity.traffic.types import LEVEL_COLOURS, LEVEL_ZH, NO_DATA, NO_DATA_COLOUR

TTL_SECONDS = 20.0
MAX_AGE = 30


@dataclass(frozen=True)
class Feed:
    body: bytes
    etag: str
    media_type: str
    made: float


_cache: dict[str, Feed] = {}
_building: dict[str, asyncio.Lock] = {}


def forget() -> None:
    _cache.clear()


def _feed(body: bytes, media_type: str) -> Feed:
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    return Feed(body, etag, media_type, time.monotonic())


def _fresh(name: str) -> Feed | None:
    found = _cache.get(name)
    if found is not None and time.monotonic() - found.made < TTL_SECONDS:
        return found
    return None


async def cached(name: str, session: AsyncSession) -> Feed:
    """The feed from memory, or built once: concurrent requests that miss wait for the one
    building it instead of all reading the database."""
    found = _fresh(name)
    if found is not None:
        return found
    lock = _building.setdefault(name, asyncio.Lock())
    async with lock:
        found = _fresh(name)
        if found is not None:
            return found
        feed = await BUILDERS[name](session)
        _cache[name] = feed
        return feed


def _iso(value: Any) -> str | None:
    return format_datetime(value) if value is not None else None


async def segments_geojson(session: AsyncSession) -> Feed:
    minute = await service.latest_minute(session)
    states = await service.states_at(session, minute) if minute else {}
    features = []
    for seg in await service.segments(session):
        st = states.get(seg.code)
        lv = st.level if st is not None else NO_DATA
        features.append(
            {
                "type": "Feature",
                "id": seg.code,
                "geometry": {"type": "LineString", "coordinates": seg.coordinates},
                "properties": {
                    "code": seg.code,
                    "name": seg.name,
                    "name_en": seg.name_en,
                    "road_class": seg.road_class,
                    "lanes": seg.lanes,
                    "length_m": seg.length_m,
                    "free_flow_kmh": seg.free_flow_kmh,
                    "district_code": seg.district_code,
                    "level": lv,
                    "level_zh": LEVEL_ZH.get(lv, "无数据"),
                    "colour": LEVEL_COLOURS.get(lv, NO_DATA_COLOUR),
                    "speed_kmh": st.speed_kmh if st else None,
                    "flow_vph": st.flow_vph if st else None,
                    "saturation": st.saturation if st else None,
                    "tti": st.tti if st else None,
                    "tpi": st.tpi if st else None,
                    "carried_minutes": st.carried if st else 0,
                },
            }
        )
    doc = {"type": "FeatureCollection", "minute": _iso(minute), "features": features}
    return _feed(orjson.dumps(doc), "application/geo+json")


async def index_json(session: AsyncSession) -> Feed:
    minute = await service.latest_minute(session)
    doc: dict[str, Any] = {"minute": _iso(minute), "city": None, "districts": [], "today": []}
    if minute is not None:
        now = await service.index_at(session, minute)
        for p in now:
            item = {"scope": p.scope, "tpi": p.tpi, "tti": p.tti, "segments": p.segments}
            if p.scope == "city":
                doc["city"] = item
            else:
                doc["districts"].append(item)
        start = service.day_start(minute)
        curve = await service.index_series(session, "city", start, minute + timedelta(minutes=1))
        # one point per 5 minutes keeps the day's curve small (288 points)
        doc["today"] = [
            {"minute": _iso(p.minute), "tpi": p.tpi} for p in curve if p.minute.minute % 5 == 0
        ]
        peaks = service.peak_figures(curve)
        peaks["highest_at"] = _iso(peaks["highest_at"])
        doc["peaks"] = peaks
    return _feed(orjson.dumps(doc), "application/json")


async def corridors_json(session: AsyncSession) -> Feed:
    minute = await service.latest_minute(session)
    states = await service.states_at(session, minute) if minute else {}
    segs = {s.code: s for s in await service.segments(session)}
    items = []
    for corridor in await service.corridors(session):
        t = service.corridor_time(corridor, segs, states)
        items.append(
            {
                "code": t.code,
                "name": t.name,
                "name_en": t.name_en,
                "length_m": t.length_m,
                "free_flow_s": t.free_flow_s,
                "travel_s": t.travel_s,
                "tti": t.tti,
                "segments": t.segments,
                "segments_without_data": t.missing,
            }
        )
    return _feed(orjson.dumps({"minute": _iso(minute), "corridors": items}), "application/json")


async def parking_geojson(session: AsyncSession) -> Feed:
    features = [
        {
            "type": "Feature",
            "id": p.code,
            "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
            "properties": {
                "code": p.code,
                "name": p.name,
                "name_en": p.name_en,
                "capacity": p.capacity,
                "free": p.free,
                "time": _iso(p.free_at),
                "district_code": p.district_code,
            },
        }
        for p in await service.parking(session)
    ]
    return _feed(
        orjson.dumps({"type": "FeatureCollection", "features": features}), "application/geo+json"
    )


async def incidents_atom(session: AsyncSession) -> Feed:
    now = clock.now()
    found = await service.incidents(session, now - timedelta(days=1))
    updated = _iso(found[0].minute) if found else format_datetime(now.replace(microsecond=0))
    entries = []
    for inc in found:
        if inc.kind == "incident":
            title = f"疑似交通事件 {inc.segment_code}: {inc.speed_kmh:.0f} km/h"
            summary = (
                f"车速由 {inc.baseline_kmh or 0:.0f} km/h 骤降至 {inc.speed_kmh:.0f} km/h"
                f" (speed fell from {inc.baseline_kmh or 0:.0f} to {inc.speed_kmh:.0f} km/h)"
            )
        else:
            title = f"严重拥堵 {inc.segment_code}"
            summary = f"持续严重拥堵 (severe congestion), {inc.speed_kmh:.0f} km/h"
        entries.append(
            "<entry>"
            f"<id>urn:smartcity:traffic:incident:{inc.id}</id>"
            f"<title>{escape(title)}</title>"
            f"<updated>{_iso(inc.minute)}</updated>"
            f'<category term="{escape(inc.kind)}"/>'
            f"<summary>{escape(summary)}</summary>"
            "</entry>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">'
        "<id>urn:smartcity:traffic:incidents</id>"
        "<title>交通事件 Traffic incidents</title>"
        f"<updated>{updated}</updated>"
        "<author><name>智慧深圳</name></author>"
        '<link rel="self" href="/api/v1/traffic/incidents.atom"/>' + "".join(entries) + "</feed>"
    )
    return _feed(body.encode(), "application/atom+xml")


BUILDERS = {
    "segments": segments_geojson,
    "index": index_json,
    "corridors": corridors_json,
    "parking": parking_geojson,
    "incidents": incidents_atom,
}
