"""Storing accepted Observations (观测数据写入): the one statement that writes them (COPY on
PostgreSQL, executemany on SQLite), widening their streams' phenomenonTime, resultTime and
observedArea, recomputing a stream's ranges after changes, and the events that announce new
Observations (``sensing.observations.created``, up to OBSERVATIONS_PER_EVENT each). What
ingest.py (checking rows) and the simulated city's bulk history use."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import bus
from smartcity.core.geo import envelope, to_geometry
from smartcity.core.models import OutboxEvent
from smartcity.sensing import models as m
from smartcity.sensing.events import OBSERVATIONS_CREATED
from smartcity.sensing.sta.entities import TYPES
from smartcity.sensing.sta.times import format_interval

# Below this many rows a batch is one INSERT … RETURNING (one round trip); from it on, COPY
# (two: ids from the sequence, then the COPY). See docs/benchmarks.md, "Sensing".
COPY_MIN_ROWS = 2
COPY_COLUMNS = (
    "id",
    "phenomenon_time_start",
    "phenomenon_time_end",
    "result_time",
    "result_kind",
    "result_number",
    "result_string",
    "result_boolean",
    "result_json",
    "result_quality",
    "valid_time_start",
    "valid_time_end",
    "parameters",
    "datastream_id",
    "multi_datastream_id",
    "feature_of_interest_id",
)
JSON_COLUMNS = frozenset({"result_json", "result_quality", "parameters"})
# The Observations one ingestion call created are announced together (events.OBSERVATIONS_CREATED,
# written in bulk by emit_all): one outbox row, one relay delivery and one handler transaction
# per chunk instead of per Observation (the relay runs each handler of each event in its own
# transaction, which held handling to ~100/s).
# At most this many Observations per event, and about this many bytes of their JSON: a
# typical reading is ~200 bytes, so 500 make ~100 KB, far below NATS's 1 MB default
# max_payload; the byte budget keeps Observations with large parameters/resultQuality apart.
OBSERVATIONS_PER_EVENT = 500
OBSERVATION_EVENT_BYTES = 256 * 1024


async def write_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert accepted Observations, returning their ids in order: COPY on PostgreSQL from
    COPY_MIN_ROWS rows on, otherwise one executemany (INSERT … RETURNING)."""
    dialect = session.get_bind().dialect.name
    if len(rows) >= COPY_MIN_ROWS and dialect == "postgresql":
        return await copy_rows(session, rows)
    if len(rows) >= COPY_MIN_ROWS and dialect == "sqlite":
        # RETURNING with ordered ids makes SQLAlchemy run the rows one statement at a time
        # on SQLite (a thread hop each through aiosqlite); a plain executemany is one call.
        # The ids are contiguous: AUTOINCREMENT hands out max + 1 per row, and the
        # transaction holds the write lock since its BEGIN IMMEDIATE (core.db), so nobody
        # else inserts in between.
        await session.execute(insert(m.StaObservation), rows)
        last = int(await session.scalar(text("SELECT last_insert_rowid()")) or 0)
        return list(range(last - len(rows) + 1, last + 1))
    result = await session.execute(
        insert(m.StaObservation).returning(m.StaObservation.id, sort_by_parameter_order=True),
        rows,
    )
    return list(result.scalars())


async def copy_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """COPY (binary) into the partitioned parent on the session's own connection, so it is
    part of the request's transaction and savepoints. COPY returns no ids: they are taken from
    the table's sequence first, all in one round trip. PostgreSQL routes each row to its
    month's partition (or DEFAULT, see jobs.py)."""
    # COPY bypasses the ORM: anything pending (a deep insert's new Datastream or feature)
    # must be in the database before the foreign keys are checked.
    await session.flush()
    ids = list(
        (
            await session.execute(
                text("SELECT nextval('sta_observation_id_seq') FROM generate_series(1, :n)"),
                {"n": len(rows)},
            )
        ).scalars()
    )
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    records = [
        tuple(
            _copy_value(column, row.get(column)) if column != "id" else new_id
            for column in COPY_COLUMNS
        )
        for row, new_id in zip(rows, ids, strict=True)
    ]
    await raw.copy_records_to_table(
        m.StaObservation.__tablename__, records=records, columns=COPY_COLUMNS
    )
    return [int(i) for i in ids]


def _copy_value(column: str, value: Any) -> Any:
    # What the SQLAlchemy JSON type binds: the JSON text, None included (JSON null), since
    # the asyncpg dialect's json codec takes text.
    if column in JSON_COLUMNS:
        return json.dumps(value)
    return value


def widen(stream: Any, rows: list[dict[str, Any]], features: dict[int, Any]) -> None:
    """Widen a stream's phenomenonTime, resultTime and observedArea with a batch of its new
    Observations, once per stream (the ORM writes the stream row once at flush)."""
    starts = [r["phenomenon_time_start"] for r in rows]
    ends = [r["phenomenon_time_end"] or r["phenomenon_time_start"] for r in rows]
    if stream.phenomenon_time_start is not None:
        starts.append(stream.phenomenon_time_start)
    if stream.phenomenon_time_end is not None:
        ends.append(stream.phenomenon_time_end)
    stream.phenomenon_time_start, stream.phenomenon_time_end = min(starts), max(ends)
    result_times = [r["result_time"] for r in rows if r["result_time"] is not None]
    if result_times:
        if stream.result_time_start is not None:
            result_times += [stream.result_time_start, stream.result_time_end]
        stream.result_time_start, stream.result_time_end = min(result_times), max(result_times)
    bounds = []
    for feature_id in {r["feature_of_interest_id"] for r in rows}:
        shape = to_geometry(features.get(feature_id))
        if shape is not None and not shape.is_empty:
            bounds.append(shape.bounds)
    current = to_geometry(stream.observed_area)
    if not bounds:
        return
    if current is not None and not current.is_empty:
        bounds.append(current.bounds)
    area = envelope(
        min(b[0] for b in bounds),
        min(b[1] for b in bounds),
        max(b[2] for b in bounds),
        max(b[3] for b in bounds),
    )
    if area != stream.observed_area:
        stream.observed_area = area


def observation_json(new_id: int, values: dict[str, Any], result: Any) -> dict[str, Any]:
    """What serialize.plain gives for this Observation, built from the inserted values
    without an ORM object (this runs once per ingested row)."""
    out: dict[str, Any] = {
        "@iot.id": new_id,
        "phenomenonTime": format_interval(
            values["phenomenon_time_start"], values["phenomenon_time_end"]
        ),
        "resultTime": format_interval(values["result_time"], None),
        "result": result,
    }
    if values["result_quality"] is not None:
        out["resultQuality"] = values["result_quality"]
    valid = format_interval(values["valid_time_start"], values["valid_time_end"])
    if valid is not None:
        out["validTime"] = valid
    if values["parameters"] is not None:
        out["parameters"] = values["parameters"]
    return out


async def emit_all(session: AsyncSession, topic: str, payloads: list[dict[str, Any]]) -> None:
    """core.bus.emit for many events of one topic in one statement: the outbox rows an
    ingestion batch produces are written like its Observations, with one executemany."""
    if not payloads:
        return
    events = [bus.Event(topic=topic, payload=payload) for payload in payloads]
    session.info["outbox"] = True  # wakes the relay after commit, as bus.emit does
    await session.execute(
        insert(OutboxEvent),
        [
            {"id": e.id, "topic": topic, "payload": e.to_wire(), "created_at": e.occurred_at}
            for e in events
        ],
    )


def observation_chunks(payloads: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The Observations' payloads cut, in order, into the lists one event each carries: at
    most OBSERVATIONS_PER_EVENT, and no more than OBSERVATION_EVENT_BYTES of JSON unless a
    single Observation is larger by itself."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for payload in payloads:
        length = len(orjson.dumps(payload, default=str))
        if current and (
            len(current) >= OBSERVATIONS_PER_EVENT or size + length > OBSERVATION_EVENT_BYTES
        ):
            chunks.append(current)
            current, size = [], 0
        current.append(payload)
        size += length
    if current:
        chunks.append(current)
    return chunks


async def emit_observations(session: AsyncSession, payloads: list[dict[str, Any]]) -> None:
    """Announce new Observations: ``sensing.observations.created`` events whose payload is
    ``{"observations": [...]}``, each item exactly what one Observation's
    ``sensing.entity.created`` payload used to be (entity_set, id, entity, stream), in the
    order of the call's rows."""
    await emit_all(
        session,
        OBSERVATIONS_CREATED.name,
        [{"observations": chunk} for chunk in observation_chunks(payloads)],
    )


async def recompute_stream(session: AsyncSession, kind: str, stream_id: int) -> None:
    """Recompute a stream's ranges and area after Observations were changed or deleted (the
    ingest path only ever widens them)."""
    model = TYPES[kind].model
    stream = await session.get(model, stream_id)
    if stream is None:
        return
    column = (
        m.StaObservation.datastream_id
        if kind == "Datastream"
        else (m.StaObservation.multi_datastream_id)
    )
    obs = m.StaObservation
    row = (
        await session.execute(
            select(
                func.min(obs.phenomenon_time_start),
                func.max(func.coalesce(obs.phenomenon_time_end, obs.phenomenon_time_start)),
                func.min(obs.result_time),
                func.max(obs.result_time),
            ).where(column == stream_id)
        )
    ).one()
    stream.phenomenon_time_start, stream.phenomenon_time_end = _aware(row[0]), _aware(row[1])
    stream.result_time_start, stream.result_time_end = _aware(row[2]), _aware(row[3])
    features = (
        await session.execute(
            select(m.StaFeatureOfInterest.feature).where(
                m.StaFeatureOfInterest.id.in_(
                    select(obs.feature_of_interest_id).where(column == stream_id).distinct()
                )
            )
        )
    ).scalars()
    bounds = [
        s.bounds for s in (to_geometry(f) for f in features) if s is not None and not s.is_empty
    ]
    stream.observed_area = (
        envelope(
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        )
        if bounds
        else None
    )


def _aware(value: Any) -> datetime | None:
    """Aggregates bypass the column type: SQLite gives text, PostgreSQL an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        from datetime import UTC

        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    if value.tzinfo is None:
        from datetime import UTC

        return value.replace(tzinfo=UTC)
    return value
