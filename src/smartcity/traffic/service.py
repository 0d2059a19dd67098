"""The traffic service: importing road networks, corridors and parking facilities, and the
reads the feeds, pages and CLI share. Changes are authorized (``traffic.network.import``:
administrators and the platform)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput, NotFound
from smartcity.traffic.models import (
    Corridor,
    Incident,
    IndexPoint,
    Intersection,
    ParkingFacility,
    Segment,
    SegmentState,
)
from smartcity.traffic.netimport import CODE_RE, Network, NetworkError

ACTIONS: dict[str, frozenset[str]] = {
    "traffic.network.import": frozenset({"admin", "system"}),
    "traffic.state.compute": frozenset({"admin", "system"}),
}


class BadNetwork(InvalidInput):
    slug, title = "traffic-bad-network", "The road network cannot be read"


class UnknownSegment(NotFound):
    slug, title = "traffic-unknown-segment", "No such road segment"


class UnknownIntersection(NotFound):
    slug, title = "traffic-unknown-intersection", "No such intersection"


@dataclass(frozen=True)
class Imported:
    segments: int
    intersections: int
    replaced: int


async def import_network(session: AsyncSession, principal: Principal, network: Network) -> Imported:
    """Store the segments and intersections (a code already there is replaced)."""
    authorize(principal, "traffic.network.import")
    codes = [s.code for s in network.segments]
    replaced = 0
    for chunk in range(0, len(codes), 1000):
        part = codes[chunk : chunk + 1000]
        replaced += int(
            await session.scalar(select(func.count()).where(Segment.code.in_(part))) or 0
        )
        await session.execute(delete(Segment).where(Segment.code.in_(part)))
    rows = [
        {
            "code": s.code,
            "name": s.name[:100],
            "name_en": s.name_en[:100],
            "road_class": s.road_class,
            "lanes": s.lanes,
            "length_m": s.length_m,
            "free_flow_kmh": s.free_flow_kmh,
            "speed_limit_kmh": s.speed_limit_kmh,
            "district_code": s.district_code,
            "coordinates": [list(p) for p in s.coordinates],
            "from_node": s.from_node[:120],
            "to_node": s.to_node[:120],
        }
        for s in network.segments
    ]
    for chunk in range(0, len(rows), 2000):
        await session.execute(insert(Segment), rows[chunk : chunk + 2000])
    if network.intersections:
        icodes = [i.code for i in network.intersections]
        await session.execute(delete(Intersection).where(Intersection.code.in_(icodes)))
        await session.execute(
            insert(Intersection),
            [
                {
                    "code": i.code,
                    "name": i.name[:100],
                    "name_en": (i.name_en or i.name)[:100],
                    "lon": i.lon,
                    "lat": i.lat,
                    "signal_programs": list(i.signal_programs),
                }
                for i in network.intersections
            ],
        )
    await session.flush()
    from smartcity.traffic import feeds

    feeds.forget()
    return Imported(len(rows), len(network.intersections), replaced)


def network_problem(exc: NetworkError) -> BadNetwork:
    return BadNetwork(str(exc))


async def set_corridor(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    name: str,
    name_en: str,
    segment_codes: list[str],
) -> None:
    authorize(principal, "traffic.network.import")
    if not CODE_RE.match(code) or len(code) > 64:
        raise InvalidInput("a corridor code is 1-64 letters, digits or _-.#:")
    if not 1 <= len(segment_codes) <= 500:
        raise InvalidInput("a corridor has 1-500 segments")
    known = set(await session.scalars(select(Segment.code).where(Segment.code.in_(segment_codes))))
    missing = [c for c in segment_codes if c not in known]
    if missing:
        raise UnknownSegment(f"unknown segment {missing[0]!r} in corridor {code!r}")
    await session.execute(delete(Corridor).where(Corridor.code == code))
    session.add(
        Corridor(code=code, name=name[:100], name_en=name_en[:100], segment_codes=segment_codes)
    )
    await session.flush()


async def set_parking(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    name: str,
    name_en: str,
    lon: float,
    lat: float,
    capacity: int,
    district_code: str = "",
) -> None:
    authorize(principal, "traffic.network.import")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or not 0 < capacity <= 100_000:
        raise InvalidInput("a parking facility needs WGS 84 coordinates and 1-100000 spaces")
    await session.execute(delete(ParkingFacility).where(ParkingFacility.code == code))
    session.add(
        ParkingFacility(
            code=code,
            name=name[:100],
            name_en=name_en[:100],
            lon=lon,
            lat=lat,
            capacity=capacity,
            district_code=district_code,
        )
    )
    await session.flush()


# --- reads ----------------------------------------------------------------------------


async def latest_minute(session: AsyncSession) -> datetime | None:
    found: datetime | None = await session.scalar(select(func.max(SegmentState.minute)))
    return found


async def segments(session: AsyncSession) -> list[Segment]:
    return list(await session.scalars(select(Segment).order_by(Segment.code)))


async def get_segment(session: AsyncSession, code: str) -> Segment:
    found = await session.get(Segment, code) if len(code) <= 120 else None
    if found is None:
        raise UnknownSegment(f"there is no road segment {code[:120]!r}")
    return found


async def get_intersection(session: AsyncSession, code: str) -> Intersection:
    found = await session.get(Intersection, code) if len(code) <= 120 else None
    if found is None:
        raise UnknownIntersection(f"there is no intersection {code[:120]!r}")
    return found


async def intersections(session: AsyncSession) -> list[Intersection]:
    return list(await session.scalars(select(Intersection).order_by(Intersection.code)))


async def states_at(session: AsyncSession, minute: datetime) -> dict[str, SegmentState]:
    rows = await session.scalars(select(SegmentState).where(SegmentState.minute == minute))
    return {r.segment_code: r for r in rows}


async def segment_history(
    session: AsyncSession, code: str, start: datetime, end: datetime
) -> list[SegmentState]:
    return list(
        await session.scalars(
            select(SegmentState)
            .where(
                SegmentState.segment_code == code,
                SegmentState.minute >= start,
                SegmentState.minute < end,
            )
            .order_by(SegmentState.minute)
        )
    )


async def index_series(
    session: AsyncSession, scope: str, start: datetime, end: datetime
) -> list[IndexPoint]:
    return list(
        await session.scalars(
            select(IndexPoint)
            .where(IndexPoint.scope == scope, IndexPoint.minute >= start, IndexPoint.minute < end)
            .order_by(IndexPoint.minute)
        )
    )


async def index_at(session: AsyncSession, minute: datetime) -> list[IndexPoint]:
    return list(
        await session.scalars(
            select(IndexPoint).where(IndexPoint.minute == minute).order_by(IndexPoint.scope)
        )
    )


async def corridors(session: AsyncSession) -> list[Corridor]:
    return list(await session.scalars(select(Corridor).order_by(Corridor.code)))


async def parking(session: AsyncSession) -> list[ParkingFacility]:
    return list(await session.scalars(select(ParkingFacility).order_by(ParkingFacility.code)))


async def incidents(session: AsyncSession, since: datetime, limit: int = 50) -> list[Incident]:
    return list(
        await session.scalars(
            select(Incident)
            .where(Incident.minute >= since)
            .order_by(Incident.minute.desc(), Incident.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class CorridorTime:
    code: str
    name: str
    name_en: str
    length_m: float
    free_flow_s: float
    travel_s: float | None  # None when a segment has no data
    tti: float | None
    segments: int
    missing: int


def corridor_time(
    corridor: Corridor, segs: dict[str, Segment], states: dict[str, SegmentState]
) -> CorridorTime:
    """The corridor's travel time: the sum of its segments' length / speed; a segment
    without data makes the time unknown (None) and counts in ``missing``."""
    length = free = travel = 0.0
    missing = 0
    for code in corridor.segment_codes:
        seg = segs.get(code)
        if seg is None:
            missing += 1
            continue
        length += seg.length_m
        free += seg.length_m / (seg.free_flow_kmh / 3.6)
        st = states.get(code)
        if st is None or st.speed_kmh is None or st.speed_kmh <= 0:
            missing += 1
        else:
            travel += seg.length_m / (st.speed_kmh / 3.6)
    known = travel if missing == 0 else None
    return CorridorTime(
        corridor.code,
        corridor.name,
        corridor.name_en,
        round(length, 1),
        round(free, 1),
        round(known, 1) if known is not None else None,
        round(known / free, 3) if known is not None and free > 0 else None,
        len(corridor.segment_codes),
        missing,
    )


def day_start(at: datetime) -> datetime:
    """The start of the city day (Asia/Shanghai) of an instant, in UTC."""
    from smartcity.core import clock

    local = clock.to_city(at)
    return (
        local
        - timedelta(
            hours=local.hour,
            minutes=local.minute,
            seconds=local.second,
            microseconds=local.microsecond,
        )
    ).astimezone(at.tzinfo)


def peak_figures(points: list[IndexPoint]) -> dict[str, Any]:
    """The mean TPI of the morning (07:00-09:00) and evening (17:00-19:00) peaks (city time)
    and the day's highest minute."""
    from smartcity.core import clock

    morning = [p.tpi for p in points if 7 <= clock.to_city(p.minute).hour < 9]
    evening = [p.tpi for p in points if 17 <= clock.to_city(p.minute).hour < 19]
    top = max(points, key=lambda p: p.tpi, default=None)
    return {
        "morning_peak": round(sum(morning) / len(morning), 2) if morning else None,
        "evening_peak": round(sum(evening) / len(evening), 2) if evening else None,
        "highest": round(top.tpi, 2) if top else None,
        "highest_at": top.minute if top else None,
    }
