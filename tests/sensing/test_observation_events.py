"""New Observations are announced in batches: one ``sensing.observations.created`` event per
ingestion call and chunk of up to store.OBSERVATIONS_PER_EVENT, and the rules judge a batch
exactly as they judged the same readings one event at a time."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM, Principal
from smartcity.core.bus import Event
from smartcity.core.db import Database
from smartcity.core.models import OutboxEvent, ProcessedEvent
from smartcity.core.runtime import Runtime
from smartcity.sensing import MODULE
from smartcity.sensing import models as m
from smartcity.sensing.events import ENTITY_CREATED, OBSERVATIONS_CREATED
from smartcity.sensing.rules import evaluation
from smartcity.sensing.rules import jobs as rule_jobs
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.models import SensingAlert, SensingRule, SensingRuleState
from smartcity.sensing.sta import ingest, store
from smartcity.sensing.sta.times import Interval
from smartcity.settings import Settings
from tests.sensing.factories import ROOT_URL
from tests.sensing.rule_helpers import deliver, feed, observed_property, station

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
ADMIN = Principal(id=None, kind="admin", name="管理员")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def observation_events(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(OutboxEvent.payload)
        .where(OutboxEvent.topic == OBSERVATIONS_CREATED.name)
        .order_by(OutboxEvent.seq)
    )
    return [row["payload"] for row in rows]


async def per_observation_events(session: AsyncSession) -> int:
    rows = await session.scalars(
        select(OutboxEvent.payload).where(OutboxEvent.topic == ENTITY_CREATED.name)
    )
    return sum(1 for row in rows if row["payload"].get("entity_set") == "Observations")


# --- the events ingestion writes ------------------------------------------------------------


async def test_create_observations_of_1200_rows_makes_ceil_n_events(sta, session):
    ids = await sta.thing()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [[(start + timedelta(seconds=i)).isoformat(), i % 97] for i in range(1200)]
    body = [
        {
            "Datastream": {"@iot.id": ids["datastream"]},
            "components": ["phenomenonTime", "result"],
            "dataArray": rows,
        }
    ]
    response = await sta.client.post(
        f"{ROOT_URL}/CreateObservations", json=body, headers=sta.headers
    )
    assert response.status_code == 201, response.text
    urls = response.json()
    assert "error" not in urls
    events = await observation_events(session)
    size = store.OBSERVATIONS_PER_EVENT
    assert len(events) == math.ceil(1200 / size) == 3
    assert [len(e["observations"]) for e in events] == [size, size, 1200 - 2 * size]
    items = [item for e in events for item in e["observations"]]
    # In the rows' order, each exactly what one Observation's own event carried before.
    assert [f"{ROOT_URL}/Observations({item['id']})" for item in items] == [
        u.removeprefix("http://testserver") for u in urls
    ]
    assert items[7] == {
        "entity_set": "Observations",
        "id": items[7]["id"],
        "entity": {
            "@iot.id": items[7]["id"],
            "phenomenonTime": "2026-01-01T00:00:07Z",
            "resultTime": None,
            "result": 7,
        },
        "stream": {"kind": "Datastream", "id": ids["datastream"]},
    }
    assert await per_observation_events(session) == 0


async def test_bad_rows_are_refused_one_by_one_and_left_out_of_the_event(sta, session):
    ids = await sta.thing()
    body = [
        {
            "Datastream": {"@iot.id": ids["datastream"]},
            "components": ["phenomenonTime", "result"],
            "dataArray": [
                ["2026-01-01T00:00:00Z", 1],
                ["2026-01-01T00:01:00Z", {"not": "a number"}],
                ["not a time", 3],
                ["2026-01-01T00:03:00Z", 4],
            ],
        }
    ]
    response = await sta.client.post(
        f"{ROOT_URL}/CreateObservations", json=body, headers=sta.headers
    )
    assert response.status_code == 201, response.text
    urls = response.json()
    assert [u == "error" for u in urls] == [False, True, True, False]
    [event] = await observation_events(session)
    assert [item["entity"]["result"] for item in event["observations"]] == [1, 4]
    assert [item["id"] for item in event["observations"]] == [
        int(urls[0].rsplit("(", 1)[1].rstrip(")")),
        int(urls[3].rsplit("(", 1)[1].rstrip(")")),
    ]


async def test_all_rows_refused_writes_no_event(session):
    stream, _feature = await station(session)
    row = ingest.ObservationRow(
        datastream_id=stream, phenomenon_time=Interval(at(0)), result="x", has_result=True
    )
    [outcome] = await ingest.ingest_observations(session, SYSTEM, [row])
    assert not isinstance(outcome, int)
    assert await observation_events(session) == []


async def test_large_observations_are_cut_by_size(session, monkeypatch):
    stream, feature = await station(session)
    monkeypatch.setattr(store, "OBSERVATION_EVENT_BYTES", 3000)
    rows = [
        ingest.ObservationRow(
            datastream_id=stream,
            phenomenon_time=Interval(at(i)),
            result=i,
            has_result=True,
            parameters={"note": "x" * 1000},
            feature_of_interest_id=feature,
        )
        for i in range(5)
    ]
    outcomes = await ingest.ingest_observations(session, SYSTEM, rows)
    events = await observation_events(session)
    # About 1.2 KB each: two fit in 3,000 bytes, the third starts a new event.
    assert [len(e["observations"]) for e in events] == [2, 2, 1]
    assert [i["id"] for e in events for i in e["observations"]] == outcomes


# --- rules over a batch ---------------------------------------------------------------------


async def _world(session: AsyncSession, name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two stations X and Y of an own observed property, with one rule of each kind on X and
    a rule on the property (so on X and Y)."""
    prop = await observed_property(session, f"PM2.5 {name}")
    x = await station(session, f"{name}-X", property_id=prop)
    y = await station(session, f"{name}-Y", property_id=prop)
    specs: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("threshold", {"op": "above", "value": 75, "hysteresis": 5}, {"datastream_id": x[0]}),
        ("rate", {"limit": 20, "window_minutes": 3}, {"datastream_id": x[0]}),
        ("n_of_m", {"op": "above", "value": 100, "n": 2, "m": 3}, {"datastream_id": x[0]}),
        ("silence", {"minutes": 10}, {"datastream_id": x[0]}),
        ("threshold", {"op": "above", "value": 120}, {"observed_property_id": prop}),
    ]
    for kind, params, scope in specs:
        await rules.create_rule(
            session, ADMIN, name=f"{name} {kind}", kind=kind, params=params, **scope
        )
    return x, y


# (station, minute, value): breaches and clears inside the batch, a late reading (X at 13.5
# after 14), readings of Y interleaved.
SEQUENCE = [
    ("X", 10, 50),
    ("Y", 10, 130),
    ("X", 11, 80),
    ("X", 12, 130),
    ("Y", 11, 60),
    ("X", 13, 74),
    ("X", 14, 70),
    ("X", 13.5, 999),
    ("X", 15, 140),
    ("Y", 12, 125),
    ("X", 16, 150),
    ("X", 17, 20),
    ("X", 18, 30),
    ("Y", 13, 10),
]


async def _summary(session: AsyncSession, world: str) -> list[tuple[Any, ...]]:
    """Everything the rules left: alerts, their transitions on the bus, the rules' states."""
    rows = await session.execute(
        select(SensingAlert, SensingRule.kind, m.StaDatastream.name)
        .join(SensingRule, SensingRule.id == SensingAlert.rule_id)
        .join(m.StaDatastream, m.StaDatastream.id == SensingAlert.datastream_id)
        .where(SensingRule.name.like(f"{world} %"))
        .order_by(SensingAlert.id)
    )
    out: list[tuple[Any, ...]] = []
    alert_ids = {}
    for alert, kind, stream in rows:
        alert_ids[alert.id] = len(alert_ids)
        out.append(
            (
                kind,
                stream.split("-")[1].split(" ")[0],
                alert.status,
                alert.first_value,
                alert.last_value,
                alert.last_time,
                alert.breach_count,
                alert.raise_count,
                alert.resolution,
                alert.message,
                alert.note,
            )
        )
    transitions = await session.scalars(
        select(OutboxEvent.payload)
        .where(OutboxEvent.topic.like("sensing.alert.%"))
        .order_by(OutboxEvent.seq)
    )
    for t in transitions:
        if t["payload"]["id"] in alert_ids:
            out.append((t["topic"], alert_ids[t["payload"]["id"]], t["payload"]["status"]))
    states = await session.execute(
        select(SensingRuleState, SensingRule.kind, m.StaDatastream.name)
        .join(SensingRule, SensingRule.id == SensingRuleState.rule_id)
        .join(m.StaDatastream, m.StaDatastream.id == SensingRuleState.datastream_id)
        .where(SensingRule.name.like(f"{world} %"))
        .order_by(SensingRule.kind, m.StaDatastream.name)
    )
    for state, kind, stream in states:
        out.append((kind, stream.split("-")[1].split(" ")[0], state.last_time, state.data))
    return out


def _rows(streams: dict[str, tuple[int, int]]) -> list[ingest.ObservationRow]:
    return [
        ingest.ObservationRow(
            datastream_id=streams[which][0],
            phenomenon_time=Interval(at(minute)),
            result=value,
            has_result=True,
            feature_of_interest_id=streams[which][1],
        )
        for which, minute, value in SEQUENCE
    ]


async def test_a_batch_raises_and_resolves_what_one_by_one_delivery_would(
    session: AsyncSession,
) -> None:
    with clock.frozen(at(0)) as advance:
        one_x, one_y = await _world(session, "one")
        batch_x, batch_y = await _world(session, "batch")
        # Silent for 10 minutes: both worlds' silence rules open an alert, which the first
        # reading resolves.
        advance(timedelta(minutes=10))
        await rule_jobs.check_silence(session)

        streams = {"X": one_x, "Y": one_y}
        for which, minute, value in SEQUENCE:
            await feed(session, streams[which], [(at(minute), value)])

        before = len(await observation_events(session))
        outcomes = await ingest.ingest_observations(
            session, SYSTEM, _rows({"X": batch_x, "Y": batch_y})
        )
        assert all(isinstance(o, int) for o in outcomes)
        assert len(await observation_events(session)) == before + 1  # the whole batch: one
        assert await deliver(session) == 1

    one, batch = await _summary(session, "one"), await _summary(session, "batch")
    assert batch == one
    kinds = [(row[0], row[1], row[2], row[6], row[7]) for row in one if len(row) == 11]
    # The sequence did what it is meant to exercise: raised and cleared inside the batch.
    # (kind, station, status, breaches, raises): a raise soon after clearing reopens the alert
    # (alerts.FOLD_WINDOW), so each rule and station has one alert here.
    assert kinds == [
        ("silence", "X", "resolved", 1, 1),  # opened by the job, resolved by the first reading
        ("threshold", "Y", "resolved", 2, 2),  # the property's rule: 130, 60, 125 again, 10
        # 80, 130, (74 inside the hysteresis), 70; reopened by 140, 150 (not by the late 999)
        ("threshold", "X", "resolved", 4, 2),
        ("rate", "X", "open", 4, 3),
        ("threshold", "X", "resolved", 3, 2),  # the property's rule: 130, 74; 140, 150, 20
        ("n_of_m", "X", "resolved", 1, 1),
    ]


async def test_redelivering_a_batch_event_changes_nothing(
    session: AsyncSession, settings: Settings, database: Database
) -> None:
    stream = await station(session)
    await rules.create_rule(
        session,
        ADMIN,
        name="超标",
        kind="threshold",
        params={"op": "above", "value": 75},
        datastream_id=stream[0],
    )
    rows = [
        ingest.ObservationRow(
            datastream_id=stream[0],
            phenomenon_time=Interval(at(i)),
            result=v,
            has_result=True,
            feature_of_interest_id=stream[1],
        )
        for i, v in enumerate([80, 90, 95])
    ]
    await ingest.ingest_observations(session, SYSTEM, rows)
    row = await session.scalar(
        select(OutboxEvent).where(OutboxEvent.topic == OBSERVATIONS_CREATED.name)
    )
    assert row is not None
    event = Event.from_wire(row.payload)
    await session.commit()  # into the test's outer transaction (a savepoint)

    runtime = Runtime(settings, database, [MODULE])
    [handler] = [h for h in runtime.handlers if h.consumer == "sensing.rules.observations"]
    assert await runtime.deliver(handler, event) is True
    assert await runtime.deliver(handler, event) is False  # by event id: not judged again

    async with database.session_scope() as check:
        [alert] = (await check.scalars(select(SensingAlert))).all()
        assert (alert.breach_count, alert.last_value) == (3, 95)
        done = await check.scalars(
            select(ProcessedEvent.consumer).where(ProcessedEvent.event_id == event.id)
        )
        assert list(done) == ["sensing.rules.observations"]


async def test_streams_without_rules_cost_no_query(session):
    stream = await station(session)
    other = await station(session, "另一站")
    await rules.create_rule(
        session,
        ADMIN,
        name="超标",
        kind="threshold",
        params={"op": "above", "value": 75},
        datastream_id=other[0],
    )
    readings = [evaluation.Reading(stream[0], at(i), 99.0) for i in range(10)]
    await session.flush()
    await rules.load_index(session)  # cached, as between deliveries
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    connection = (await session.connection()).sync_connection
    assert connection is not None
    sa_event.listen(connection, "before_cursor_execute", record)
    try:
        await evaluation.evaluate_many(session, readings)
        assert statements == []
        await evaluation.evaluate_many(session, [evaluation.Reading(other[0], at(0), 99.0)])
        assert statements  # the control: a stream with a rule is judged
    finally:
        sa_event.remove(connection, "before_cursor_execute", record)
