"""Bus handlers of MQTT (listed in the sensing MODULE): the bridge publishes created and
updated entities to subscribers (A.8), and Mosquitto's dynamic security follows accounts, keys
and Things (a no-op unless SMARTCITY_MQTT_DYNSEC). They run after commit, so a rolled-back
change publishes and syncs nothing."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.bus import Event
from smartcity.sensing import models as m
from smartcity.sensing.events import ENTITY_UPDATED
from smartcity.sensing.mqtt import bridge
from smartcity.sensing.mqtt.dynsec import Control, enabled, sync_account, sync_reader


async def handle_event(session: AsyncSession, event: Event) -> None:
    """Bus handler of ``sensing.entity.created`` / ``updated``: publish to subscribers."""
    if bridge.active is not None:
        await bridge.active.on_event(session, event)


async def handle_observations(session: AsyncSession, event: Event) -> None:
    """Bus handler of ``sensing.observations.created``: publish each Observation."""
    if bridge.active is not None:
        await bridge.active.on_observations(session, event)


async def on_key_or_account(session: AsyncSession, event: Event) -> None:
    """``core.api_key.issued`` / ``revoked``, ``core.account.active_changed``."""
    settings = enabled()
    if settings is None:
        return
    raw = event.payload.get("account_id") or event.payload.get("id")
    async with Control(settings) as control:
        await sync_account(session, control, settings, uuid.UUID(str(raw)), password=True)


async def on_owner_assigned(session: AsyncSession, event: Event) -> None:
    settings = enabled()
    if settings is None:
        return
    async with Control(settings) as control:
        for raw in (event.payload.get("before"), event.payload.get("owner_id")):
            if raw:
                await sync_account(session, control, settings, uuid.UUID(str(raw)), password=False)


async def on_visibility_changed(session: AsyncSession, event: Event) -> None:
    settings = enabled()
    if settings is None:
        return
    async with Control(settings) as control:
        await sync_reader(session, control)


STREAM_SETS = ("Datastreams", "MultiDatastreams")


async def on_stream_changed(session: AsyncSession, event: Event) -> None:
    """A Datastream or MultiDatastream created, moved to another Thing or deleted: its owner
    may publish to it (or no longer), and a private Thing's topics grew or shrank."""
    entity_set = event.payload.get("entity_set")
    if entity_set not in STREAM_SETS:
        return
    if event.topic == ENTITY_UPDATED.name and "Thing" not in (event.payload.get("changed") or []):
        return
    settings = enabled()
    if settings is None:
        return
    model: Any = m.StaDatastream if entity_set == "Datastreams" else m.StaMultiDatastream
    stream = await session.get(model, int(event.payload["id"]))
    async with Control(settings) as control:
        await sync_reader(session, control)
        thing = await session.get(m.StaThing, stream.thing_id) if stream is not None else None
        if thing is not None and thing.owner_account_id is not None:
            await sync_account(session, control, settings, thing.owner_account_id, password=False)
