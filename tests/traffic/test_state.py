"""The minute job: means per segment, saturation and index, carry-forward of missing
readings then no data, late readings recomputing their minute, the index per district,
parking, events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.models import OutboxEvent
from smartcity.traffic import state
from smartcity.traffic.models import Incident, IndexPoint, ParkingFacility, SegmentState
from smartcity.traffic.types import INCIDENT_TOPIC, NO_DATA
from tests.traffic.road import LAST, MINUTE, NOW, Road, feed, make_road


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
async def road(session: AsyncSession) -> Road:
    return await make_road(session)


async def _state(session: AsyncSession, code: str, minute: object) -> SegmentState:
    found = await session.get(SegmentState, (code, minute))
    assert found is not None
    return found


async def test_a_minute_of_readings(session: AsyncSession, road: Road) -> None:
    await feed(session, road.speed["SN-1-L1"], LAST + timedelta(seconds=5), 30.0)
    await feed(session, road.speed["SN-1-L1"], LAST + timedelta(seconds=35), 34.0)
    await feed(session, road.speed["SN-1-C1"], LAST + timedelta(seconds=10), 26.0)
    await feed(session, road.flow["SN-1-L1"], LAST + timedelta(seconds=5), 2700.0)
    await feed(session, road.flow["SN-1-C1"], LAST + timedelta(seconds=5), 2700.0)
    await feed(session, road.speed["BH-1-L1"], LAST + timedelta(seconds=5), 60.0)
    await feed(session, road.speed["P-1-B1"], LAST + timedelta(seconds=5), 123.0)
    outcome = await state.compute_state(session, NOW)
    assert outcome.minutes == [LAST]
    sn = await _state(session, "SN-1", LAST)
    assert sn.speed_kmh == pytest.approx(30.0)  # (30 + 34 + 26) / 3 readings
    assert sn.flow_vph == 2700.0
    assert sn.saturation == pytest.approx(0.5)  # 2700 / (3 lanes x 1800)
    assert sn.tti == pytest.approx(2.0)
    assert sn.tpi == pytest.approx(8 - 0.1 * 20 / 3, abs=1e-3)  # 2 per 0.3 of TTI
    assert sn.level == "moderate"
    bh = await _state(session, "BH-1", LAST)
    assert bh.tpi == 0.0 and bh.level == "smooth"
    assert (await _state(session, "BH-2", LAST)).level == NO_DATA
    city = await session.get(IndexPoint, ("city", LAST))
    futian = await session.get(IndexPoint, ("440304", LAST))
    assert city is not None and futian is not None
    # VKT weights: SN-1 2700 veh/h x 1 km, BH-1 no flow (weight 1 x 1 km)
    assert city.tti == pytest.approx((2.0 * 2700 + 1.0) / 2701, abs=1e-4)
    assert city.segments == 2 and futian.segments == 2
    assert await session.get(IndexPoint, ("440303", LAST)) is None  # no data in 罗湖
    lot = await session.get(ParkingFacility, "P-1")
    assert lot is not None and lot.free == 123 and lot.free_at == LAST
    # idempotent: nothing due again
    assert (await state.compute_state(session, NOW)).minutes == []


async def test_missing_readings_carry_forward_then_no_data(
    session: AsyncSession, road: Road
) -> None:
    first = LAST - timedelta(minutes=7)
    await feed(session, road.speed["SN-1-L1"], first + timedelta(seconds=5), 40.0)
    await state.compute_state(session, first + MINUTE)
    outcome = await state.compute_state(session, NOW)
    assert len(outcome.minutes) == 7
    carried = [await _state(session, "SN-1", first + MINUTE * k) for k in range(1, 8)]
    assert [s.carried for s in carried[: state.CARRY_MINUTES]] == [1, 2, 3, 4, 5]
    assert all(s.speed_kmh == 40.0 for s in carried[: state.CARRY_MINUTES])
    assert [s.level for s in carried[state.CARRY_MINUTES :]] == [NO_DATA, NO_DATA]
    assert carried[-1].speed_kmh is None


async def test_late_readings_recompute_their_minute(session: AsyncSession, road: Road) -> None:
    earlier = LAST - timedelta(minutes=3)
    await feed(session, road.speed["SN-1-L1"], earlier + timedelta(seconds=5), 50.0)
    await state.compute_state(session, earlier + MINUTE)
    await state.compute_state(session, NOW - MINUTE)
    assert (await _state(session, "BH-1", earlier)).level == NO_DATA
    # a reading of BH-1 for the earlier minute arrives late, and one for the new minute
    await feed(session, road.speed["BH-1-L1"], earlier + timedelta(seconds=20), 20.0)
    await feed(session, road.speed["BH-1-L1"], LAST + timedelta(seconds=20), 30.0)
    outcome = await state.compute_state(session, NOW)
    assert outcome.late == [earlier]
    assert outcome.minutes == [earlier, LAST]
    session.expire_all()
    late = await _state(session, "BH-1", earlier)
    assert late.speed_kmh == 20.0 and late.tti == pytest.approx(3.0)
    assert (await _state(session, "SN-1", earlier)).speed_kmh == 50.0  # unchanged
    assert (await _state(session, "BH-1", LAST)).speed_kmh == 30.0


async def test_readings_later_than_the_bound_are_left(session: AsyncSession, road: Road) -> None:
    old = LAST - timedelta(minutes=state.LATE_MINUTES + 2)
    await state.compute_state(session, old + MINUTE)
    await state.compute_state(session, NOW - MINUTE)
    await feed(session, road.speed["BH-1-L1"], old + timedelta(seconds=20), 20.0)
    outcome = await state.compute_state(session, NOW)
    assert outcome.late == [] and outcome.minutes == [LAST]


async def test_a_sudden_drop_is_a_possible_incident(session: AsyncSession, road: Road) -> None:
    start = LAST - timedelta(minutes=5)
    for k in range(5):
        await feed(session, road.speed["BH-1-L1"], start + MINUTE * k, 55.0)
    await state.compute_state(session, start + MINUTE)
    await state.compute_state(session, LAST)  # catches up the other four
    await feed(session, road.speed["BH-1-L1"], LAST + timedelta(seconds=3), 12.0)
    outcome = await state.compute_state(session, NOW)
    assert outcome.events == 1
    incident = (await session.scalars(select(Incident))).one()
    assert incident.segment_code == "BH-1" and incident.baseline_kmh == 55.0
    topics = [e.topic for e in await session.scalars(select(OutboxEvent))]
    assert INCIDENT_TOPIC in topics


async def test_severe_for_ten_minutes_once(session: AsyncSession, road: Road) -> None:
    start = LAST - timedelta(minutes=state.SEVERE_MINUTES + 1)
    for k in range(state.SEVERE_MINUTES + 2):
        await feed(session, road.speed["SN-1-L1"], start + MINUTE * k, 20.0)  # TTI 3
    counts = []
    for k in range(state.SEVERE_MINUTES + 2):
        outcome = await state.compute_state(session, start + MINUTE * (k + 1))
        counts.append(outcome.events)
    assert counts == [0] * (state.SEVERE_MINUTES - 1) + [1, 0, 0]
    kinds = [i.kind for i in await session.scalars(select(Incident))]
    assert kinds == ["congestion"]


def test_segment_state_bad_values_are_left_out() -> None:
    seg = state.SegmentInfo("X", 60.0, 2, "arterial", 500.0, "")
    sums = state._Sums(speed=0.0, speed_n=0, flow=[1000.0])
    st = state.segment_state(seg, LAST, sums, None)
    assert st.level == NO_DATA and st.flow_vph == 1000.0 and st.tpi is None
