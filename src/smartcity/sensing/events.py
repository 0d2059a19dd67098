"""Topics the sensing engine publishes (感知事件), each with its payload. Publishers and
subscribers (the MODULE's Handlers) import the topic from here, so no topic string is
written twice. The wire format is what webhook subscribers and NATS consumers read: the keys
and value formats below must not change. The alerts' topics are in rules/events.py."""

from __future__ import annotations

from typing import Any

from smartcity.core.bus import Payload, Topic


class EntityCreated(Payload):
    """A SensorThings entity was created: its set (``Things``, ``Datastreams``, ...), id and
    its properties as JSON (serialize.plain). Observations come in batches instead
    (OBSERVATIONS_CREATED); a per-Observation event of an older outbox also has ``stream``."""

    entity_set: str
    id: int
    entity: dict[str, Any]


class EntityUpdated(Payload):
    """An entity changed: its JSON after the change and the names of what changed (properties
    and navigation links, e.g. ``Thing`` when a Datastream moved)."""

    entity_set: str
    id: int
    entity: dict[str, Any]
    changed: list[str]


class EntityDeleted(Payload):
    entity_set: str
    id: int


class ObservationsCreated(Payload):
    """The Observations one ingestion call created, in chunks of up to
    ``sta.store.OBSERVATIONS_PER_EVENT``: each item is what a per-Observation
    ``sensing.entity.created`` payload used to be (entity_set, id, entity, stream). Written
    in bulk by ``sta.store.emit_all`` (one statement for all chunks), not through
    ``Topic.emit``; the payload class documents and reads it."""

    observations: list[dict[str, Any]]


class OwnerAssigned(Payload):
    """A Thing's owner device account changed (ids as strings, None for no owner)."""

    thing_id: int
    owner_id: str | None
    before: str | None


class VisibilityChanged(Payload):
    """A Thing was made public or private (access.py)."""

    thing_id: int
    public: bool


ENTITY_CREATED = Topic("sensing.entity.created", EntityCreated)
ENTITY_UPDATED = Topic("sensing.entity.updated", EntityUpdated)
ENTITY_DELETED = Topic("sensing.entity.deleted", EntityDeleted)
OBSERVATIONS_CREATED = Topic("sensing.observations.created", ObservationsCreated)
OWNER_ASSIGNED = Topic("sensing.thing.owner_assigned", OwnerAssigned)
VISIBILITY_CHANGED = Topic("sensing.thing.visibility_changed", VisibilityChanged)
