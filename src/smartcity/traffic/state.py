"""Road state per segment and minute (分钟级路况), computed by the platform's job from the
detectors' readings in the sensing engine.

Each run:

1. maps the traffic Datastreams to segments and parking facilities by their Things'
   ``properties["traffic"]`` (cached; dropped when Things or Datastreams change);
2. finds the minutes due (after the mark, at most ``MAX_CATCH_UP`` back) and the minutes
   that got **late readings** since the last run (Observations with a larger id than the
   mark's, whose phenomenon time falls in a minute already computed, at most
   ``LATE_MINUTES`` back): both are (re)computed, one grouped query for all;
3. per segment and minute: the speed is the mean of its detectors' minute means (weighted
   by their reading counts), the flow the mean of its flow detectors, the saturation
   flow / (lanes × capacity per lane), the travel-time ratio v_ff / v, its TPI and level.
   A segment with no speed in a minute **carries** its last state forward for at most
   ``CARRY_MINUTES`` minutes (``carried`` counts them), then has ``no_data``;
4. the city and district TPIs, VKT-weighted (flow × length), for each minute computed;
5. parking facilities' free spaces (the sum of their counters' newest minute);
6. for the newest minute only: the congestion events (a segment severe for
   ``SEVERE_MINUTES`` minutes; a sudden speed drop, a possible incident).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.sensing import contract as sensing
from smartcity.traffic import events
from smartcity.traffic.index import level, tpi, travel_time_ratio, weighted_tpi
from smartcity.traffic.models import (
    Incident,
    IndexPoint,
    JobMark,
    ParkingFacility,
    Segment,
    SegmentState,
)
from smartcity.traffic.types import (
    FLOW_DEFINITION,
    FREE_DEFINITION,
    LANE_CAPACITY,
    NO_DATA,
    OCCUPANCY_DEFINITION,
    PROPERTIES_KEY,
    SPEED_DEFINITION,
)

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
CARRY_MINUTES = 5
LATE_MINUTES = 10
MAX_CATCH_UP = 60
SEVERE_MINUTES = 10
DROP_RATIO = 0.5  # speed below half of the last 5 minutes' mean
DROP_MIN_KMH = 20.0  # and at least this much slower
DROP_BASE_MINUTES = 5
DETECTOR_MAP_SECONDS = 600.0
DEFINITIONS = (SPEED_DEFINITION, FLOW_DEFINITION, OCCUPANCY_DEFINITION, FREE_DEFINITION)
BOUND = 100_000.0  # a reading of this magnitude or more is a fault, left out
CITY = "city"


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class DetectorMap:
    """Datastream id → (segment code or facility code, definition)."""

    segment: dict[int, tuple[str, str]]
    parking: dict[int, str]
    made: float


_map: DetectorMap | None = None


def forget_detectors() -> None:
    global _map
    _map = None


async def detector_map(session: AsyncSession) -> DetectorMap:
    global _map
    if _map is not None and time.monotonic() - _map.made < DETECTOR_MAP_SECONDS:
        return _map
    segment: dict[int, tuple[str, str]] = {}
    parking: dict[int, str] = {}
    for row in await sensing.streams_of_definitions(session, DEFINITIONS):
        traffic = row.thing_properties.get(PROPERTIES_KEY)
        if not isinstance(traffic, dict):
            continue
        if traffic.get("kind") == "parking" and isinstance(traffic.get("facility"), str):
            if row.definition == FREE_DEFINITION:
                parking[row.datastream_id] = traffic["facility"]
        elif isinstance(traffic.get("segment"), str) and row.definition != FREE_DEFINITION:
            segment[row.datastream_id] = (traffic["segment"], row.definition)
    _map = DetectorMap(segment, parking, time.monotonic())
    return _map


@dataclass(frozen=True)
class SegmentInfo:
    code: str
    free_flow_kmh: float
    lanes: int
    road_class: str
    length_m: float
    district_code: str


@dataclass
class State:
    segment_code: str
    minute: datetime
    speed_kmh: float | None
    flow_vph: float | None
    occupancy_pct: float | None
    saturation: float | None
    tti: float | None
    tpi: float | None
    level: str
    readings: int
    carried: int

    def row(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Sums:
    speed: float = 0.0
    speed_n: int = 0
    flow: list[float] = field(default_factory=list)
    occupancy: list[float] = field(default_factory=list)


def segment_state(
    seg: SegmentInfo,
    minute: datetime,
    sums: _Sums | None,
    previous: State | None,
    *,
    carry_minutes: int = CARRY_MINUTES,
) -> State:
    """A segment's state in a minute from its detectors' sums, or carried forward."""
    if sums is None or sums.speed_n == 0:
        fresh_flow = sum(sums.flow) / len(sums.flow) if sums and sums.flow else None
        if previous is not None and previous.level != NO_DATA and previous.carried < carry_minutes:
            return State(
                seg.code,
                minute,
                previous.speed_kmh,
                round(fresh_flow, 1) if fresh_flow is not None else previous.flow_vph,
                previous.occupancy_pct,
                previous.saturation,
                previous.tti,
                previous.tpi,
                previous.level,
                0,
                previous.carried + 1,
            )
        return State(seg.code, minute, None, fresh_flow, None, None, None, None, NO_DATA, 0, 0)
    speed = sums.speed / sums.speed_n
    flow = sum(sums.flow) / len(sums.flow) if sums.flow else None
    occupancy = sum(sums.occupancy) / len(sums.occupancy) if sums.occupancy else None
    capacity = seg.lanes * LANE_CAPACITY.get(seg.road_class, 1800)
    saturation = round(flow / capacity, 3) if flow is not None and capacity > 0 else None
    ratio = travel_time_ratio(seg.free_flow_kmh, speed)
    index = tpi(ratio)
    readings = sums.speed_n + len(sums.flow) + len(sums.occupancy)
    return State(
        seg.code,
        minute,
        round(speed, 2),
        round(flow, 1) if flow is not None else None,
        round(occupancy, 2) if occupancy is not None else None,
        saturation,
        round(ratio, 4),
        round(index, 3),
        level(index),
        readings,
        0,
    )


def index_points(
    states: list[State], segments: dict[str, SegmentInfo], minute: datetime
) -> list[dict[str, Any]]:
    """The city's and each district's TPI of one minute's states (VKT-weighted TTI; a
    segment without a flow weighs by its length alone, as if one vehicle an hour)."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for st in states:
        seg = segments.get(st.segment_code)
        if seg is None or st.tti is None:
            continue
        vkt = max(st.flow_vph or 0.0, 1.0) * seg.length_m / 1000.0
        groups[CITY].append((st.tti, vkt))
        if seg.district_code:
            groups[seg.district_code].append((st.tti, vkt))
    points = []
    for scope, rows in groups.items():
        value = weighted_tpi(rows)
        if value is None:
            continue
        weight = sum(v for _, v in rows)
        mean_tti = sum(t * v for t, v in rows) / weight
        points.append(
            {
                "scope": scope,
                "minute": minute,
                "tpi": round(value, 3),
                "tti": round(mean_tti, 4),
                "segments": len(rows),
            }
        )
    return points


@dataclass(frozen=True)
class Outcome:
    minutes: list[datetime]
    late: list[datetime]
    states: int
    events: int
    seconds: float


async def _segments(session: AsyncSession) -> dict[str, SegmentInfo]:
    rows = await session.execute(
        select(
            Segment.code,
            Segment.free_flow_kmh,
            Segment.lanes,
            Segment.road_class,
            Segment.length_m,
            Segment.district_code,
        )
    )
    return {r[0]: SegmentInfo(*r) for r in rows.all()}


async def _states_between(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[tuple[str, datetime], State]:
    c = SegmentState
    rows = await session.execute(
        select(
            c.segment_code, c.minute, c.speed_kmh, c.flow_vph, c.occupancy_pct, c.saturation,
            c.tti, c.tpi, c.level, c.readings, c.carried,
        ).where(c.minute >= start, c.minute <= end)
    )  # fmt: skip
    return {(r[0], r[1]): State(*r) for r in rows.all()}


async def compute_state(session: AsyncSession, now: datetime | None = None) -> Outcome:
    """Compute the minutes due and those with late readings (idempotent)."""
    started = time.perf_counter()
    current = floor_minute(now or clock.now())
    last = current - MINUTE
    mark = await session.get(JobMark, "state")
    if mark is None:
        first, after_id = last, 0
    else:
        first = max(mark.through + MINUTE, last - timedelta(minutes=MAX_CATCH_UP - 1))
        after_id = mark.last_id
    due = []
    at = first
    while at <= last:
        due.append(at)
        at += MINUTE
    late: set[datetime] = set()
    top = after_id
    if mark is not None and after_id:
        fresh = await sensing.minute_means(
            session,
            DEFINITIONS,
            last - timedelta(minutes=LATE_MINUTES),
            first,
            after_id=after_id,
            bound=BOUND,
        )
        late = {minute for (_, minute) in fresh.means}
        top = max(top, fresh.max_id)
    minutes = sorted(set(due) | late)
    if not minutes:
        return Outcome([], [], 0, 0, time.perf_counter() - started)
    dmap = await detector_map(session)
    segments = await _segments(session)
    full = await sensing.minute_means(session, DEFINITIONS, minutes[0], last + MINUTE, bound=BOUND)
    top = max(top, full.max_id)
    per_minute: dict[datetime, dict[str, _Sums]] = defaultdict(dict)
    free: dict[str, tuple[datetime, dict[int, float]]] = {}
    wanted = set(minutes)
    for (stream_id, minute), (mean, count) in full.means.items():
        facility = dmap.parking.get(stream_id)
        if facility is not None:
            seen = free.get(facility)
            if seen is None or minute > seen[0]:
                free[facility] = (minute, {stream_id: mean})
            elif minute == seen[0]:
                seen[1][stream_id] = mean
            continue
        if minute not in wanted:
            continue
        found = dmap.segment.get(stream_id)
        if found is None:
            continue
        code, definition = found
        sums = per_minute[minute].get(code)
        if sums is None:
            sums = per_minute[minute][code] = _Sums()
        if definition == SPEED_DEFINITION:
            if mean >= 0:
                sums.speed += mean * count
                sums.speed_n += count
        elif definition == FLOW_DEFINITION:
            if mean >= 0:
                sums.flow.append(mean)
        elif definition == OCCUPANCY_DEFINITION and 0 <= mean <= 100:
            sums.occupancy.append(mean)
    stored = await _states_between(session, minutes[0] - MINUTE, minutes[0] - MINUTE)
    computed: dict[datetime, list[State]] = {}
    by_key: dict[tuple[str, datetime], State] = dict(stored)
    for minute in minutes:
        before = minute - MINUTE
        if before not in computed and before != minutes[0] - MINUTE:
            by_key.update(await _states_between(session, before, before))
        states = []
        sums_of = per_minute.get(minute, {})
        for code, seg in segments.items():
            st = segment_state(seg, minute, sums_of.get(code), by_key.get((code, before)))
            by_key[(code, minute)] = st
            states.append(st)
        computed[minute] = states
    await session.execute(delete(SegmentState).where(SegmentState.minute.in_(minutes)))
    await session.execute(delete(IndexPoint).where(IndexPoint.minute.in_(minutes)))
    rows = [st.row() for states in computed.values() for st in states]
    for chunk in range(0, len(rows), 5000):
        await session.execute(insert(SegmentState), rows[chunk : chunk + 5000])
    points = [p for m, states in computed.items() for p in index_points(states, segments, m)]
    if points:
        await session.execute(insert(IndexPoint), points)
    for code, (minute, counters) in free.items():
        lot = await session.get(ParkingFacility, code)
        if lot is not None and (lot.free_at is None or minute >= lot.free_at):
            lot.free = max(0, min(lot.capacity, round(sum(counters.values()))))
            lot.free_at = minute
    emitted = 0
    if due and due[-1] == minutes[-1]:
        emitted = await _events(session, computed[minutes[-1]], segments, minutes[-1])
    if mark is None:
        session.add(JobMark(name="state", through=last, last_id=top))
    else:
        mark.through = max(mark.through, last)
        mark.last_id = max(mark.last_id, top)
    await session.flush()
    from smartcity.traffic import feeds

    feeds.forget()
    return Outcome(
        minutes,
        sorted(late - set(due)),
        len(rows),
        emitted,
        time.perf_counter() - started,
    )


async def _events(
    session: AsyncSession,
    states: list[State],
    segments: dict[str, SegmentInfo],
    minute: datetime,
) -> int:
    """Events of the newest minute: a segment severe for SEVERE_MINUTES minutes (once, at the
    minute it gets there) and a speed drop of more than half within a minute (可能事故)."""
    severe = [s for s in states if s.level == "severe"]
    slow = [s for s in states if s.speed_kmh is not None and s.carried == 0]
    if not severe and not slow:
        return 0
    # Two grouped queries over the state of the last minutes (plain columns, no objects):
    # per segment, the severe minutes in the run before this one and the minute before the
    # run; and the mean measured (not carried) speed of the last DROP_BASE_MINUTES minutes.
    run_start = minute - MINUTE * (SEVERE_MINUTES - 1)
    severe_before: dict[str, int] = {}
    was_severe: set[str] = set()
    if severe:
        counted = await session.execute(
            select(SegmentState.segment_code, func.count())
            .where(
                SegmentState.minute >= run_start,
                SegmentState.minute < minute,
                SegmentState.level == "severe",
            )
            .group_by(SegmentState.segment_code)
        )
        severe_before = {str(code): int(n) for code, n in counted.all()}
        edge = await session.scalars(
            select(SegmentState.segment_code).where(
                SegmentState.minute == run_start - MINUTE, SegmentState.level == "severe"
            )
        )
        was_severe = set(edge)
    base: dict[str, tuple[float, int]] = {}
    if slow:
        means = await session.execute(
            select(SegmentState.segment_code, func.avg(SegmentState.speed_kmh), func.count())
            .where(
                SegmentState.minute >= minute - MINUTE * DROP_BASE_MINUTES,
                SegmentState.minute < minute,
                SegmentState.carried == 0,
                SegmentState.speed_kmh.is_not(None),
            )
            .group_by(SegmentState.segment_code)
        )
        base = {str(code): (float(mean), int(n)) for code, mean, n in means.all()}
    emitted = 0
    for st in severe:
        run = severe_before.get(st.segment_code, 0)
        if run == SEVERE_MINUTES - 1 and st.segment_code not in was_severe:
            await events.SEVERE_CONGESTION.emit(
                session,
                events.SevereCongestion(
                    segment=st.segment_code,
                    minute=sensing.format_datetime(minute),
                    minutes=SEVERE_MINUTES,
                    tpi=st.tpi or 0.0,
                    speed_kmh=st.speed_kmh or 0.0,
                    district=segments[st.segment_code].district_code,
                ),
            )
            session.add(
                Incident(
                    kind="congestion",
                    segment_code=st.segment_code,
                    minute=minute,
                    speed_kmh=st.speed_kmh or 0.0,
                    baseline_kmh=None,
                )
            )
            emitted += 1
    for st in slow:
        found = base.get(st.segment_code)
        if found is None or found[1] < 3 or st.speed_kmh is None:
            continue
        mean = found[0]
        if st.speed_kmh < mean * DROP_RATIO and mean - st.speed_kmh >= DROP_MIN_KMH:
            await events.SUSPECTED_INCIDENT.emit(
                session,
                events.SuspectedIncident(
                    segment=st.segment_code,
                    minute=sensing.format_datetime(minute),
                    speed_kmh=st.speed_kmh,
                    baseline_kmh=round(mean, 1),
                    district=segments[st.segment_code].district_code,
                ),
            )
            session.add(
                Incident(
                    kind="incident",
                    segment_code=st.segment_code,
                    minute=minute,
                    speed_kmh=st.speed_kmh,
                    baseline_kmh=round(mean, 1),
                )
            )
            emitted += 1
    return emitted
