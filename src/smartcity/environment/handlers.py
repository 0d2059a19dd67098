"""The bus handlers of the environment module (listed in its MODULE): what the public air
pages show changes when a station (a sensing Thing), its place or its Datastreams change, or
a Thing is made public or private, so those events drop the cached pages (web/cache.py). The
hourly reports themselves drop them from the report job (jobs.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.bus import Event
from smartcity.core.module import Handler
from smartcity.environment.compute import AIR_PAGES
from smartcity.sensing import contract as sensing
from smartcity.web import cache

# The entity sets an air page is made of; an Observation's own events are not among them
# (new readings reach the pages through the hourly reports).
STATION_SETS = frozenset({"Things", "Locations", "Datastreams"})


async def drop_air_pages(session: AsyncSession, event: Event) -> None:
    entity_set = event.payload.get("entity_set")
    if entity_set is None or entity_set in STATION_SETS:
        cache.invalidate(AIR_PAGES)


HANDLERS = [
    Handler(f"environment.air_pages.{topic.name}", topic.name, drop_air_pages)
    for topic in (
        sensing.ENTITY_CREATED,
        sensing.ENTITY_UPDATED,
        sensing.ENTITY_DELETED,
        sensing.VISIBILITY_CHANGED,
    )
]
