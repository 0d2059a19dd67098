"""Bus handlers: a change to a Thing or Datastream may move a detector, so it drops the
minute job's detector map (state.py), rebuilt on its next run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.bus import Event
from smartcity.core.module import Handler
from smartcity.sensing import contract as sensing
from smartcity.traffic import state

DETECTOR_SETS = frozenset({"Things", "Datastreams"})


async def drop_detector_map(session: AsyncSession, event: Event) -> None:
    entity_set = event.payload.get("entity_set")
    if entity_set is None or entity_set in DETECTOR_SETS:
        state.forget_detectors()


HANDLERS = [
    Handler(f"traffic.detectors.{topic.name}", topic.name, drop_detector_map)
    for topic in (sensing.ENTITY_CREATED, sensing.ENTITY_UPDATED, sensing.ENTITY_DELETED)
]
