"""Device status (设备状态): reporting, silent or no data, by each Thing's own threshold, with a
frozen clock; the one query behind it reads the (stream, time) index; dead letters filtered
by topic and city day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden
from smartcity.sensing import models as m
from smartcity.sensing import status
from tests.sensing.rule_helpers import feed, station

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STAFF = Principal(id=None, kind="staff", name="officer")
SUPERVISOR = Principal(id=None, kind="supervisor", name="supervisor")
CITIZEN = Principal(id=None, kind="citizen", name="citizen")


async def device(
    session: AsyncSession,
    name: str,
    *,
    properties: dict[str, Any] | None = None,
    readings: list[datetime] = (),  # type: ignore[assignment]
    at: tuple[float, float] | None = (114.05, 22.54),
) -> tuple[int, int]:
    """A Thing with one Datastream, a Location and the given readings; (thing, datastream)."""
    stream = await station(session, name)
    ds = await session.get(m.StaDatastream, stream[0])
    assert ds is not None
    thing = await session.get(m.StaThing, ds.thing_id)
    assert thing is not None
    thing.properties = properties
    if at is not None:
        location = m.StaLocation(
            name=name,
            description="",
            encoding_type="application/geo+json",
            location={"type": "Point", "coordinates": list(at)},
        )
        session.add(location)
        await session.flush()
        await session.execute(
            insert(m.thing_location).values(thing_id=thing.id, location_id=location.id)
        )
    if readings:
        await feed(session, stream, [(t, 42.0) for t in readings])
    await session.flush()
    return thing.id, stream[0]


class TestThreshold:
    @pytest.mark.parametrize(
        ("properties", "expected"),
        [
            (None, timedelta(minutes=15)),
            ({}, timedelta(minutes=15)),
            ({"reportingIntervalSeconds": 60}, timedelta(minutes=3)),
            ({"reportingIntervalSeconds": 0.5}, timedelta(seconds=1.5)),
            ({"reportingIntervalSeconds": 3600}, timedelta(hours=3)),
            ({"reportingIntervalSeconds": 0}, timedelta(minutes=15)),
            ({"reportingIntervalSeconds": -60}, timedelta(minutes=15)),
            ({"reportingIntervalSeconds": "60"}, timedelta(minutes=15)),
            ({"reportingIntervalSeconds": True}, timedelta(minutes=15)),
            ({"reportingIntervalSeconds": float("nan")}, timedelta(minutes=15)),
        ],
    )
    def test_threshold(self, properties: dict[str, Any] | None, expected: timedelta) -> None:
        assert status.silence_threshold(properties) == expected

    def test_status_at_the_line_is_still_reporting(self) -> None:
        line = timedelta(minutes=15)
        assert status.status_of(T0 - line, line, T0) == status.REPORTING
        assert status.status_of(T0 - line - timedelta(seconds=1), line, T0) == status.SILENT
        assert status.status_of(None, line, T0) == status.NO_DATA


async def test_devices_by_status_with_a_frozen_clock(session: AsyncSession) -> None:
    with clock.frozen(T0) as advance:
        fresh, _ = await device(session, "新鲜站", readings=[T0 - timedelta(minutes=5)])
        stale, _ = await device(
            session, "沉默站", readings=[T0 - timedelta(hours=2), T0 - timedelta(minutes=20)]
        )
        slow, _ = await device(
            session,
            "慢报站",
            properties={"kind": "water-meter", "reportingIntervalSeconds": 600},
            readings=[T0 - timedelta(minutes=20)],
        )
        empty, _ = await device(session, "空站", at=None)
        found = {d.id: d for d in await status.devices(session, STAFF)}
        assert found[fresh].status == status.REPORTING
        assert found[fresh].last_seen == T0 - timedelta(minutes=5)
        assert (found[fresh].lon, found[fresh].lat) == (114.05, 22.54)
        assert found[stale].status == status.SILENT
        assert found[stale].last_seen == T0 - timedelta(minutes=20)
        assert found[slow].status == status.REPORTING  # 3 × 10 min
        assert found[slow].kind == "water-meter"
        assert found[empty].status == status.NO_DATA and found[empty].lon is None
        # Ten more minutes: both exactly at their line (15 and 30 minutes), still reporting;
        # a second later both are silent.
        advance(timedelta(minutes=10))
        found = {d.id: d for d in await status.devices(session, STAFF)}
        assert found[fresh].status == found[slow].status == status.REPORTING
        advance(timedelta(seconds=1))
        found = {d.id: d for d in await status.devices(session, STAFF)}
        assert found[fresh].status == found[slow].status == status.SILENT
        tally = status.counts(list(found.values()))
        assert tally[status.NO_DATA] >= 1 and tally[status.SILENT] >= 3
        only = await status.devices(session, SUPERVISOR, thing_ids=[fresh])
        assert [d.id for d in only] == [fresh]


async def test_newest_over_all_streams_of_a_thing(session: AsyncSession) -> None:
    with clock.frozen(T0):
        thing, _stream = await device(session, "双流站", readings=[T0 - timedelta(hours=1)])
        # A second Datastream on the same Thing with a newer reading decides.
        other = await station(session, "临时")
        ds = await session.get(m.StaDatastream, other[0])
        assert ds is not None
        ds.thing_id = thing
        await session.flush()
        await feed(session, other, [(T0 - timedelta(minutes=1), 1.0)])
        seen = await status.last_seen(session, [thing])
        assert seen == {thing: T0 - timedelta(minutes=1)}


async def test_who_may_read(session: AsyncSession) -> None:
    with pytest.raises(Forbidden):
        await status.devices(session, CITIZEN)
    with pytest.raises(Forbidden):
        await status.dead_letters(session, SUPERVISOR)


async def test_last_seen_query_uses_the_stream_time_index(
    session: AsyncSession, backend: str
) -> None:
    compiled = status.last_seen_statement().compile(
        session.get_bind(), compile_kwargs={"literal_binds": True}
    )
    if backend == "sqlite":
        rows = (await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
        plan = " ".join(str(r[-1]) for r in rows)
        assert "USING COVERING INDEX ix_sta_observation_stream_time (datastream_id=?)" in plan
        assert "SCAN sta_observation" not in plan, plan
    else:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(str(r[0]) for r in (await session.execute(text(f"EXPLAIN {compiled}"))))
        # Each month partition's copy of the index, read backwards from the newest row.
        assert "Index Only Scan Backward using sta_observation" in plan, plan
        assert "datastream_id_phenomenon_time" in plan and "Seq Scan on sta_obs" not in plan, plan


async def test_dead_letters_newest_first_by_topic_and_city_day(session: AsyncSession) -> None:
    def letter(at: datetime, topic: str) -> m.StaMqttDeadLetter:
        return m.StaMqttDeadLetter(
            received_at=at, topic=topic, payload="{", payload_bytes=1, reason="not JSON"
        )

    # 2026-11-02 00:30 in Shanghai is 2026-11-01 16:30 UTC: it belongs to the 2nd.
    session.add_all(
        [
            letter(datetime(2026, 11, 1, 15, 30, tzinfo=UTC), "v1.1/Datastreams(1)/Observations"),
            letter(datetime(2026, 11, 1, 16, 30, tzinfo=UTC), "v1.1/Datastreams(2)/Observations"),
            letter(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), "v1.1/Observations"),
            letter(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), "v1.1/Things(1)_100%"),
        ]
    )
    await session.flush()
    page = await status.dead_letters(session, STAFF, day=date(2026, 11, 2))
    topics = [d.topic for d in page.items]
    assert topics[:3] == [
        "v1.1/Things(1)_100%",
        "v1.1/Observations",
        "v1.1/Datastreams(2)/Observations",
    ]
    assert "v1.1/Datastreams(1)/Observations" not in topics
    page = await status.dead_letters(session, STAFF, topic="Datastreams(", day=date(2026, 11, 1))
    assert [d.topic for d in page.items] == ["v1.1/Datastreams(1)/Observations"]
    # LIKE wildcards in the search are literal characters.
    page = await status.dead_letters(session, STAFF, topic="_100%")
    assert [d.topic for d in page.items] == ["v1.1/Things(1)_100%"]
    page = await status.dead_letters(session, STAFF, day=date(2026, 11, 2), limit=2)
    assert len(page.items) == 2 and page.has_more
    rest = await status.dead_letters(session, STAFF, day=date(2026, 11, 2), limit=2, offset=2)
    assert len(rest.items) == 1 and not rest.has_more
