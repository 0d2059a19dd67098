"""Bus handlers of the sensing rules: each new Observation is judged by the rules of its
datastream (evaluation.py). Listed in the sensing MODULE."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.bus import Event
from smartcity.sensing.rules.evaluation import Reading, evaluate, evaluate_many
from smartcity.sensing.sta.times import parse_time_value


def reading_of(event: Event) -> Reading | None:
    """The numeric reading in a ``sensing.entity.created`` event of an Observation, if any."""
    return reading_in(event.payload)


def reading_in(payload: dict[str, Any]) -> Reading | None:
    """The numeric reading of one Observation's event payload (entity_set, id, entity,
    stream), if any."""
    if payload.get("entity_set") != "Observations":
        return None
    stream = payload.get("stream") or {}
    if stream.get("kind") != "Datastream":
        return None  # MultiDatastream results are arrays: rules do not cover them yet
    entity = payload.get("entity") or {}
    value = entity.get("result")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    when = entity.get("phenomenonTime")
    if not isinstance(when, str):
        return None
    return Reading(int(stream["id"]), parse_time_value(when).last, float(value))


async def on_observation_created(session: AsyncSession, event: Event) -> None:
    """The bus handler of ``sensing.entity.created``: evaluate the rules of one Observation's
    datastream. Ingestion announces Observations in batches now (below); this still takes
    per-Observation events, e.g. those in an outbox written before that change."""
    reading = reading_of(event)
    if reading is not None:
        await evaluate(session, reading)


async def on_observations_created(session: AsyncSession, event: Event) -> None:
    """The bus handler of ``sensing.observations.created``: the Observations of one ingestion
    call (up to store.OBSERVATIONS_PER_EVENT), judged one after the other in their order,
    in the one transaction that records the event as processed."""
    items = event.payload.get("observations") or []
    readings = [r for r in (reading_in(p) for p in items if isinstance(p, dict)) if r]
    await evaluate_many(session, readings)
