"""Many Things at once, with their history (批量建档): the rows a deep insert of each Thing
would make (Thing, Location, HistoricalLocation, Datastreams), the ``sensing.entity.created``
events a POST would emit, and the history written in bulk, not as bus events, which would
flood the outbox: one FeatureOfInterest per Thing, derived from its Location exactly as
ingestion derives it, one executemany (COPY on PostgreSQL) of the Observations, then each
stream's phenomenonTime and observedArea widened once. Used through sensing.contract by
seeders (the demo city, load tests); a client's Things go through the SensorThings API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.sensing import models as m
from smartcity.sensing.events import ENTITY_CREATED
from smartcity.sensing.sta.entities import TYPES
from smartcity.sensing.sta.ingest import feature_hash, result_columns
from smartcity.sensing.sta.serialize import plain
from smartcity.sensing.sta.store import copy_rows, emit_all, widen


@dataclass(frozen=True)
class NewReading:
    """One Observation of a new Datastream's history."""

    phenomenon_time_start: datetime
    phenomenon_time_end: datetime | None
    result_time: datetime
    result: Any


@dataclass(frozen=True)
class NewDatastream:
    name: str
    description: str
    observation_type: str
    unit_of_measurement: Any
    properties: Any
    sensor_id: int
    observed_property_id: int
    history: Sequence[NewReading] = ()


@dataclass(frozen=True)
class NewThing:
    """A Thing owned by a device account, standing at one Location (GeoJSON)."""

    name: str
    description: str
    properties: Any
    owner_account_id: uuid.UUID
    location_name: str
    location_description: str
    encoding_type: str
    location: Any
    datastreams: Sequence[NewDatastream] = ()


@dataclass(frozen=True)
class Created:
    things: int
    datastreams: int
    observations: int


async def _insert(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """One executemany; the new ids in the order of ``rows``."""
    if not rows:
        return []
    result = await session.execute(
        insert(model).returning(model.id, sort_by_parameter_order=True), rows
    )
    return [int(i) for i in result.scalars()]


async def _announce(
    session: AsyncSession, entity: str, ids: list[int], rows: list[dict[str, Any]]
) -> None:
    """The ``sensing.entity.created`` events a POST would emit (MQTT subscribers, rules)."""
    etype = TYPES[entity]
    await emit_all(
        session,
        ENTITY_CREATED.name,
        [
            {
                "entity_set": etype.set_name,
                "id": new_id,
                "entity": plain(etype, SimpleNamespace(id=new_id, **row)),
            }
            for new_id, row in zip(ids, rows, strict=True)
        ],
    )


async def _features(
    session: AsyncSession, locations: list[dict[str, Any]]
) -> list[tuple[int, Any]]:
    """Per Location the FeatureOfInterest ingestion would derive from it (reused when an
    identical one exists, as ingest._derive_feature does): (id, GeoJSON)."""
    hashes = [feature_hash(loc["encoding_type"], loc["location"]) for loc in locations]
    known: dict[str, int] = {}
    for digest, feature_id in (
        await session.execute(
            select(m.StaFeatureOfInterest.feature_hash, m.StaFeatureOfInterest.id)
            .where(m.StaFeatureOfInterest.feature_hash.in_(set(hashes)))
            .order_by(m.StaFeatureOfInterest.id.desc())
        )
    ).all():
        known[digest] = int(feature_id)  # descending: the lowest id wins, as in ingest
    new_rows: list[dict[str, Any]] = []
    for loc, digest in zip(locations, hashes, strict=True):
        if digest in known or any(r["feature_hash"] == digest for r in new_rows[-1:]):
            continue
        new_rows.append(
            {
                "name": loc["name"],
                "description": loc["description"],
                "encoding_type": loc["encoding_type"],
                "feature": loc["location"],
                "properties": None,
                "feature_hash": digest,
            }
        )
    new_ids = await _insert(session, m.StaFeatureOfInterest, new_rows)
    await _announce(session, "FeatureOfInterest", new_ids, new_rows)
    for row, new_id in zip(new_rows, new_ids, strict=True):
        known.setdefault(row["feature_hash"], new_id)
    return [(known[d], loc["location"]) for loc, d in zip(locations, hashes, strict=True)]


async def _write_history(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (store.copy_rows); elsewhere an executemany on the Table, not the
    mapped class, whose bulk path costs more per row than the insert itself."""
    postgres = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(rows), 10_000):
        chunk = rows[start : start + 10_000]
        if postgres:
            await copy_rows(session, chunk)
        else:
            await session.execute(insert(cast(Table, m.StaObservation.__table__)), chunk)


def _history_rows(stream: NewDatastream, feature_id: int) -> list[dict[str, Any]]:
    return [
        {
            "phenomenon_time_start": r.phenomenon_time_start,
            "phenomenon_time_end": r.phenomenon_time_end,
            "result_time": r.result_time,
            "result_quality": None,
            "valid_time_start": None,
            "valid_time_end": None,
            "parameters": None,
            "multi_datastream_id": None,
            "feature_of_interest_id": feature_id,
            **result_columns(r.result),
        }
        for r in stream.history
    ]


def _datastream_row(stream: NewDatastream, thing_id: int) -> dict[str, Any]:
    return {
        "name": stream.name,
        "description": stream.description,
        "observation_type": stream.observation_type,
        "unit_of_measurement": stream.unit_of_measurement,
        "observed_area": None,
        "phenomenon_time_start": None,
        "phenomenon_time_end": None,
        "result_time_start": None,
        "result_time_end": None,
        "properties": stream.properties,
        "retention_days": None,
        "thing_id": thing_id,
        "sensor_id": stream.sensor_id,
        "observed_property_id": stream.observed_property_id,
    }


async def create_things(
    session: AsyncSession,
    principal: Principal,
    things: Sequence[NewThing],
    *,
    now: datetime | None = None,
) -> Created:
    """Create the Things (each owned by its device account, public) in bulk, with the rows a
    deep insert makes and their Datastreams' history. Flushes, never commits."""
    authorize(principal, "sensing.entity.write")
    now = now or clock.now()
    # Things, their Locations and HistoricalLocations.
    thing_rows = [
        {
            "name": t.name,
            "description": t.description,
            "properties": t.properties,
            "owner_account_id": t.owner_account_id,
            "public": True,
        }
        for t in things
    ]
    thing_ids = await _insert(session, m.StaThing, thing_rows)
    location_rows = [
        {
            "name": t.location_name,
            "description": t.location_description,
            "encoding_type": t.encoding_type,
            "location": t.location,
            "properties": None,
        }
        for t in things
    ]
    location_ids = await _insert(session, m.StaLocation, location_rows)
    if thing_ids:
        await session.execute(
            insert(m.thing_location),
            [
                {"thing_id": t, "location_id": loc}
                for t, loc in zip(thing_ids, location_ids, strict=True)
            ],
        )
    history_rows: list[dict[str, Any]] = [{"time": now, "thing_id": t} for t in thing_ids]
    history_ids = await _insert(session, m.StaHistoricalLocation, history_rows)
    if history_ids:
        await session.execute(
            insert(m.historical_location_location),
            [
                {"historical_location_id": h, "location_id": loc}
                for h, loc in zip(history_ids, location_ids, strict=True)
            ],
        )
    # Datastreams, with the ranges of their history, and the history itself.
    with_history = any(s.history for t in things for s in t.datastreams)
    features = await _features(session, location_rows) if with_history else []
    stream_rows: list[dict[str, Any]] = []
    observations: list[list[dict[str, Any]]] = []
    for index, (thing, thing_id) in enumerate(zip(things, thing_ids, strict=True)):
        for stream in thing.datastreams:
            row = _datastream_row(stream, thing_id)
            history: list[dict[str, Any]] = []
            if stream.history:
                feature_id, feature = features[index]
                history = _history_rows(stream, feature_id)
                ranges = SimpleNamespace(**row)
                widen(ranges, history, {feature_id: feature})
                row = vars(ranges)
            stream_rows.append(row)
            observations.append(history)
    stream_ids = await _insert(session, m.StaDatastream, stream_rows)
    flat = [
        {**obs, "datastream_id": stream_id}
        for stream_id, rows in zip(stream_ids, observations, strict=True)
        for obs in rows
    ]
    await _write_history(session, flat)
    await _announce(session, "Thing", thing_ids, thing_rows)
    await _announce(session, "Location", location_ids, location_rows)
    await _announce(session, "HistoricalLocation", history_ids, history_rows)
    await _announce(session, "Datastream", stream_ids, stream_rows)
    await session.flush()
    return Created(len(thing_ids), len(stream_ids), len(flat))
