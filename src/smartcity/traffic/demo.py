"""The demo city's traffic (示例交通): Shenzhen's main roads as segments in both directions
(深南大道, 北环大道, 滨河大道, 滨海大道, 广深高速, 南坪快速, 新洲路, 皇岗路) with plausible WGS 84
polylines, six signalised intersections, a loop detector on every segment (a camera on
every other one), four corridors and six car parks with bay counters.

Seeding stays cheap (well under 3 s on SQLite): the detectors get only the last six
minutes of readings (every 30 s); the day before is written straight as state rows (every
10 minutes) and index points from the same profile, then the minute job computes the newest
minute from the readings. While the demo serves (SMARTCITY_SIMULATE_FEED), ``feed_task``
writes the detectors' readings every 30 seconds so the pages stay live."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM, Principal
from smartcity.sensing import contract as sensing
from smartcity.traffic import detectors, service, state
from smartcity.traffic.index import level, tpi, travel_time_ratio
from smartcity.traffic.models import IndexPoint, JobMark, Segment, SegmentState
from smartcity.traffic.netimport import Intersection, Network, RoadSegment, polyline_length_m
from smartcity.traffic.types import (
    FLOW_DEFINITION,
    FREE_DEFINITION,
    LANE_CAPACITY,
    OCCUPANCY_DEFINITION,
    SPEED_DEFINITION,
)

log = logging.getLogger(__name__)

NODES: dict[str, tuple[float, float]] = {
    "SN1": (113.935, 22.538), "SN2": (113.975, 22.540), "SN3": (114.005, 22.541),
    "J-SN-XZ": (114.040, 22.5425), "J-SN-HG": (114.070, 22.543), "SN6": (114.095, 22.544),
    "SN7": (114.120, 22.546),
    "BH1": (113.935, 22.565), "BH2": (113.970, 22.560), "BH3": (114.005, 22.558),
    "J-BH-XZ": (114.040, 22.560), "J-BH-HG": (114.070, 22.563), "BH6": (114.100, 22.565),
    "BE1": (113.995, 22.525), "J-BE-XZ": (114.040, 22.522), "J-BE-HG": (114.070, 22.523),
    "BE4": (114.095, 22.529), "BE5": (114.112, 22.536),
    "BA1": (113.915, 22.508), "BA2": (113.945, 22.512), "BA3": (113.975, 22.518),
    "BA4": (113.994, 22.523),
    "GS1": (114.060, 22.575), "GS2": (114.010, 22.590), "GS3": (113.950, 22.605),
    "GS4": (113.885, 22.630), "GS5": (113.830, 22.662),
    "NP1": (113.955, 22.585), "NP2": (114.000, 22.592), "NP3": (114.050, 22.595),
    "NP4": (114.090, 22.602), "NP5": (114.130, 22.606),
}  # fmt: skip

# (code, 中文名, English, road class, lanes per direction, free-flow km/h, nodes)
ROADS: tuple[tuple[str, str, str, str, int, float, tuple[str, ...]], ...] = (
    ("SNDD", "深南大道", "Shennan Boulevard", "arterial", 4, 60,
     ("SN1", "SN2", "SN3", "J-SN-XZ", "J-SN-HG", "SN6", "SN7")),
    ("BHDD", "北环大道", "Beihuan Avenue", "expressway", 4, 80,
     ("BH1", "BH2", "BH3", "J-BH-XZ", "J-BH-HG", "BH6")),
    ("BHEDD", "滨河大道", "Binhe Avenue", "arterial", 4, 70,
     ("BE1", "J-BE-XZ", "J-BE-HG", "BE4", "BE5")),
    ("BHADD", "滨海大道", "Binhai Avenue", "expressway", 4, 80, ("BA1", "BA2", "BA3", "BA4")),
    ("GSGS", "广深高速", "Guangzhou-Shenzhen Expressway", "expressway", 4, 100,
     ("GS1", "GS2", "GS3", "GS4", "GS5")),
    ("NPKS", "南坪快速", "Nanping Expressway", "expressway", 3, 80,
     ("NP1", "NP2", "NP3", "NP4", "NP5")),
    ("XZL", "新洲路", "Xinzhou Road", "arterial", 3, 50, ("J-BE-XZ", "J-SN-XZ", "J-BH-XZ")),
    ("HGL", "皇岗路", "Huanggang Road", "arterial", 3, 50, ("J-BE-HG", "J-SN-HG", "J-BH-HG")),
)  # fmt: skip
INTERSECTIONS = {
    "J-SN-XZ": ("深南大道/新洲路", "Shennan Blvd / Xinzhou Rd"),
    "J-SN-HG": ("深南大道/皇岗路", "Shennan Blvd / Huanggang Rd"),
    "J-BH-XZ": ("北环大道/新洲路", "Beihuan Ave / Xinzhou Rd"),
    "J-BH-HG": ("北环大道/皇岗路", "Beihuan Ave / Huanggang Rd"),
    "J-BE-XZ": ("滨河大道/新洲路", "Binhe Ave / Xinzhou Rd"),
    "J-BE-HG": ("滨河大道/皇岗路", "Binhe Ave / Huanggang Rd"),
}
PARKING = (
    ("P-CIVIC", "市民中心停车场", "Civic Centre car park", 114.0595, 22.5445, 800, "440304"),
    ("P-NORTH", "深圳北站P1停车场", "Shenzhen North Station P1", 114.0280, 22.6110, 1200, "440309"),
    ("P-LUOHU", "罗湖口岸停车场", "Luohu Port car park", 114.1170, 22.5340, 600, "440303"),
    ("P-WINDOW", "世界之窗停车场", "Window of the World", 113.9740, 22.5380, 500, "440305"),
    ("P-HQB", "华强北停车场", "Huaqiangbei car park", 114.0850, 22.5470, 300, "440304"),
    ("P-AIRPORT", "宝安机场P3停车场", "Bao'an Airport P3", 113.8120, 22.6400, 2000, "440306"),
)  # fmt: skip
CORRIDORS = (
    ("C-SNDD-E", "深南大道（东行）", "Shennan Boulevard eastbound", "SNDD", "+"),
    ("C-BHDD-W", "北环大道（西行）", "Beihuan Avenue westbound", "BHDD", "-"),
    ("C-BHEDD-E", "滨河大道（东行）", "Binhe Avenue eastbound", "BHEDD", "+"),
    ("C-GSGS-N", "广深高速（往广州）", "Guangshen Expressway towards Guangzhou", "GSGS", "+"),
)
HISTORY_STEP = timedelta(minutes=10)
READINGS_MINUTES = 6


def district_at(lon: float, lat: float) -> str:
    """A rough district of a point of the demo roads (行政区划代码)."""
    if lat >= 22.61 and lon < 113.9:
        return "440306"  # 宝安
    if lat >= 22.58:
        return "440309" if lon >= 113.99 else "440306"  # 龙华, 宝安
    if lon < 113.99:
        return "440305"  # 南山
    if lon >= 114.09:
        return "440303"  # 罗湖
    return "440304"  # 福田


def demo_network() -> Network:
    segments = []
    for code, name, en, road_class, lanes, ff, nodes in ROADS:
        pairs = list(itertools.pairwise(nodes))
        for direction, sign, zh_dir in (("+", "A", ""), ("-", "B", "")):
            ordered = pairs if direction == "+" else [(b, a) for a, b in reversed(pairs)]
            for n, (a, b) in enumerate(ordered, start=1):
                line = (NODES[a], NODES[b])
                mid = ((line[0][0] + line[1][0]) / 2, (line[0][1] + line[1][1]) / 2)
                segments.append(
                    RoadSegment(
                        code=f"{code}-{sign}{n:02d}",
                        name=f"{name}{zh_dir}（{n}）",
                        name_en=f"{en} ({sign}{n})",
                        road_class=road_class,
                        lanes=lanes,
                        length_m=round(polyline_length_m(line), 1),
                        free_flow_kmh=ff,
                        speed_limit_kmh=ff,
                        coordinates=line,
                        district_code=district_at(*mid),
                        from_node=a,
                        to_node=b,
                    )
                )
    intersections = [
        Intersection(code, zh, NODES[code][0], NODES[code][1], ("fixed-120s",), en)
        for code, (zh, en) in INTERSECTIONS.items()
    ]
    return Network(segments, intersections, True)


# --- the profile ----------------------------------------------------------------------------


def _peaks(at: datetime) -> float:
    """0..1: how busy the city is at this time (morning and evening peaks on working days)."""
    local = clock.to_city(at)
    hour = local.hour + local.minute / 60
    if local.weekday() >= 5:
        return 0.35 * math.exp(-(((hour - 15) / 3.5) ** 2))
    return 0.85 * math.exp(-(((hour - 8.3) / 1.1) ** 2)) + 0.95 * math.exp(
        -(((hour - 18.2) / 1.3) ** 2)
    )


def _severity(code: str) -> float:
    return 0.6 + (sum(map(ord, code)) % 9) / 10  # 0.6 .. 1.4, fixed per segment


def speed_at(seg: RoadSegment | Segment, at: datetime, rng: random.Random) -> float:
    busy = min(0.62, _peaks(at) * _severity(seg.code) * 0.42)
    return max(4.0, seg.free_flow_kmh * (1 - busy) * rng.uniform(0.93, 1.05))


def flow_at(seg: RoadSegment | Segment, at: datetime, rng: random.Random) -> float:
    capacity = seg.lanes * LANE_CAPACITY[seg.road_class]
    local = clock.to_city(at)
    night = 0.15 if 0 <= local.hour < 6 else 0.45
    return capacity * min(0.98, night + 0.55 * _peaks(at)) * rng.uniform(0.9, 1.1)


def free_at(capacity: int, at: datetime, rng: random.Random) -> int:
    local = clock.to_city(at)
    busy = 0.25 + 0.6 * math.exp(-(((local.hour + local.minute / 60 - 14) / 4.5) ** 2))
    return max(0, round(capacity * (1 - busy) * rng.uniform(0.95, 1.05)))


# --- seeding ---------------------------------------------------------------------------------


async def seed_demo_traffic(session: AsyncSession, principal: Principal) -> int:
    """The demo roads, detectors, history, corridors and car parks, once; how many segments
    were made (0 when there were segments already)."""
    if await session.scalar(select(func.count()).select_from(Segment)):
        return 0
    now = clock.now()
    rng = random.Random(14)  # noqa: S311 (a demo profile)
    network = demo_network()
    await service.import_network(session, principal, network)
    for code, name, en, lon, lat, capacity, district in PARKING:
        await service.set_parking(
            session, principal, code=code, name=name, name_en=en, lon=lon, lat=lat,
            capacity=capacity, district_code=district,
        )  # fmt: skip
    for code, name, en, road, direction in CORRIDORS:
        sign = "A" if direction == "+" else "B"
        codes = [s.code for s in network.segments if s.code.startswith(f"{road}-{sign}")]
        await service.set_corridor(
            session, principal, code=code, name=name, name_en=en, segment_codes=codes
        )
    current = state.floor_minute(now)
    last = current - timedelta(minutes=1)
    # readings: the last READINGS_MINUTES minutes, every 30 s
    times = [last - timedelta(seconds=30 * k) for k in range(READINGS_MINUTES * 2 - 1, -1, -1)]
    plans: list[detectors.DetectorPlan] = []
    for n, seg in enumerate(network.segments):
        lon = (seg.coordinates[0][0] + seg.coordinates[-1][0]) / 2
        lat = (seg.coordinates[0][1] + seg.coordinates[-1][1]) / 2
        speeds = [(t, round(speed_at(seg, t, rng), 1)) for t in times]
        flows = [(t, float(round(flow_at(seg, t, rng)))) for t in times]
        occupancy = [(t, round(min(95.0, f / (seg.lanes * 20)), 1)) for t, f in flows]
        plans.append(
            detectors.DetectorPlan(
                f"{seg.code}-L1", "loop", seg.code, lon, lat,
                {SPEED_DEFINITION: speeds, FLOW_DEFINITION: flows, OCCUPANCY_DEFINITION: occupancy},
            )
        )  # fmt: skip
        if n % 2 == 0:
            plans.append(
                detectors.DetectorPlan(
                    f"{seg.code}-C1", "camera", seg.code, lon, lat,
                    {SPEED_DEFINITION: [(t, round(speed_at(seg, t, rng), 1)) for t in times[1::2]]},
                )
            )  # fmt: skip
    for code, _name, _en, lon, lat, capacity, _district in PARKING:
        plans.append(
            detectors.DetectorPlan(
                f"{code}-B1", "parking", code, lon, lat,
                {FREE_DEFINITION: [(t, float(free_at(capacity, t, rng))) for t in times[1::4]]},
            )
        )  # fmt: skip
    await detectors.create_detectors(session, principal, plans)
    await _history(session, network, last, rng)
    session.add(JobMark(name="state", through=last - timedelta(minutes=1), last_id=0))
    await session.flush()
    state.forget_detectors()
    await state.compute_state(session, now)
    return len(network.segments)


async def _history(
    session: AsyncSession, network: Network, last: datetime, rng: random.Random
) -> None:
    """A day of state rows (every 10 minutes) and the minute rows of the last readings'
    window, and the city's and districts' index for each, in bulk."""
    start = state.floor_minute(last - timedelta(days=1))
    start -= timedelta(minutes=start.minute % 10)
    minutes: list[datetime] = []
    at = start
    while at < last - timedelta(minutes=READINGS_MINUTES):
        minutes.append(at)
        at += HISTORY_STEP
    at = last - timedelta(minutes=READINGS_MINUTES)
    while at < last:
        minutes.append(at)
        at += timedelta(minutes=1)
    infos = {
        s.code: state.SegmentInfo(
            s.code, s.free_flow_kmh, s.lanes, s.road_class, s.length_m, s.district_code
        )
        for s in network.segments
    }
    rows: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for minute in minutes:
        states = []
        for seg in network.segments:
            speed = speed_at(seg, minute, rng)
            flow = flow_at(seg, minute, rng)
            ratio = travel_time_ratio(seg.free_flow_kmh, speed)
            index = tpi(ratio)
            st = state.State(
                seg.code, minute, round(speed, 2), round(flow, 1),
                round(min(95.0, flow / (seg.lanes * 20)), 2),
                round(flow / (seg.lanes * LANE_CAPACITY[seg.road_class]), 3),
                round(ratio, 4), round(index, 3), level(index), 3, 0,
            )  # fmt: skip
            states.append(st)
            rows.append(st.row())
        points.extend(state.index_points(states, infos, minute))
    for chunk in range(0, len(rows), 5000):
        await session.execute(insert(SegmentState), rows[chunk : chunk + 5000])
    await session.execute(insert(IndexPoint), points)


# --- the live feed while the demo serves -------------------------------------------------------

FEED_SECONDS = 30.0


async def feed_once(session: AsyncSession, at: datetime, rng: random.Random) -> int:
    """One round of readings for every demo detector (what the devices would send)."""
    segs = {s.code: s for s in await service.segments(session)}
    capacity = {p.code: p.capacity for p in await service.parking(session)}
    rows = []
    for row in await sensing.streams_of_definitions(session, state.DEFINITIONS):
        traffic = row.thing_properties.get("traffic")
        if not isinstance(traffic, dict):
            continue
        value: float | None = None
        seg = segs.get(str(traffic.get("segment")))
        if seg is not None and row.definition == SPEED_DEFINITION:
            value = round(speed_at(seg, at, rng), 1)
        elif seg is not None and row.definition == FLOW_DEFINITION:
            value = round(flow_at(seg, at, rng))
        elif seg is not None and row.definition == OCCUPANCY_DEFINITION:
            value = round(min(95.0, flow_at(seg, at, rng) / (seg.lanes * 20)), 1)
        elif row.definition == FREE_DEFINITION and traffic.get("facility") in capacity:
            value = free_at(capacity[str(traffic["facility"])], at, rng)
        if value is not None:
            rows.append(
                sensing.ObservationRow(
                    datastream_id=row.datastream_id,
                    phenomenon_time=sensing.Interval(at),
                    result_time=at,
                    result=value,
                    has_result=True,
                )
            )
    if rows:
        await sensing.ingest_observations(session, SYSTEM, rows)
    return len(rows)


async def feed_task(runtime: Any) -> None:
    """The Module task: with SMARTCITY_SIMULATE_FEED, the demo detectors' readings every
    30 s, written through the sensing contract's ingestion (bus events, rules)."""
    if not runtime.settings.simulate_feed:
        return
    rng = random.Random()  # noqa: S311 (a demo profile)
    while True:
        try:
            async with runtime.db.session_scope() as session:
                await feed_once(session, clock.now(), rng)
        except Exception:  # the demo keeps feeding after a failed round
            log.exception("traffic demo feed: a round failed")
        await asyncio.sleep(FEED_SECONDS)
