"""Helpers of the rules and alerts tests: a station made straight in the tables, readings fed
through the real ingestion path, and the bus handler run on the events that path wrote."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.core.bus import Event
from smartcity.core.models import OutboxEvent
from smartcity.sensing import models as m
from smartcity.sensing.events import ENTITY_CREATED, OBSERVATIONS_CREATED
from smartcity.sensing.rules import handlers as rule_handlers
from smartcity.sensing.sta import ingest
from smartcity.sensing.sta.times import Interval

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


async def observed_property(session: AsyncSession, name: str = "PM2.5") -> int:
    prop = m.StaObservedProperty(
        name=name, definition=f"https://example.org/{name}", description=""
    )
    session.add(prop)
    await session.flush()
    return prop.id


async def station(
    session: AsyncSession, name: str = "福田站", *, property_id: int | None = None
) -> tuple[int, int]:
    """A Thing with one Datastream; (datastream id, FeatureOfInterest id)."""
    thing = m.StaThing(name=name, description="空气站")
    sensor = m.StaSensor(name="BAM", description="", encoding_type="text/plain", sensor_metadata="")
    feature = m.StaFeatureOfInterest(
        name=name,
        description="",
        encoding_type="application/geo+json",
        feature={"type": "Point", "coordinates": [114.05, 22.54]},
        feature_hash=f"h-{name}",
    )
    session.add_all([thing, sensor, feature])
    await session.flush()
    if property_id is None:
        property_id = await observed_property(session)
    stream = m.StaDatastream(
        name=f"{name} PM2.5",
        description="",
        observation_type=MEASUREMENT,
        unit_of_measurement={"name": "µg/m³", "symbol": "µg/m³", "definition": "ucum:ug/m3"},
        thing_id=thing.id,
        sensor_id=sensor.id,
        observed_property_id=property_id,
    )
    session.add(stream)
    await session.flush()
    return stream.id, feature.id


HANDLERS = {
    ENTITY_CREATED.name: rule_handlers.on_observation_created,
    OBSERVATIONS_CREATED.name: rule_handlers.on_observations_created,
}


async def deliver(session: AsyncSession) -> int:
    """Run the rules' bus handlers on every undelivered sensing.entity.created and
    sensing.observations.created event, in order, as the relay would after commit; returns
    how many events it saw."""
    rows = (
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic.in_(HANDLERS), OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.seq)
        )
    ).all()
    for row in rows:
        await HANDLERS[row.topic](session, Event.from_wire(row.payload))
        row.published_at = clock.now()
    await session.flush()
    return len(rows)


async def feed(
    session: AsyncSession,
    stream: tuple[int, int],
    readings: Iterable[tuple[datetime, object]],
) -> None:
    """Ingest readings (time, result) into the stream, then deliver the events."""
    stream_id, feature_id = stream
    rows = [
        ingest.ObservationRow(
            datastream_id=stream_id,
            phenomenon_time=Interval(at),
            result=value,
            has_result=True,
            feature_of_interest_id=feature_id,
        )
        for at, value in readings
    ]
    outcomes = await ingest.ingest_observations(session, SYSTEM, rows)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    await deliver(session)
