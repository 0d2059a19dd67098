"""The event bus: events are written to the outbox in the business transaction, relayed to the
bus after commit, and delivered at least once to handlers that are idempotent by event id.

Backends: in-process (default) and NATS JetStream (``SMARTCITY_BUS_URL=nats://...``); both
share the outbox, the relay and the idempotency table, so a module never knows which runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.models import OutboxEvent


@dataclass(frozen=True)
class Event:
    """An event: ``topic`` is dotted and past tense, e.g. ``core.account.created``."""

    topic: str
    payload: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=clock.now)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "topic": self.topic,
            "occurred_at": self.occurred_at.isoformat(),
            "payload": self.payload,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Event:
        return cls(
            topic=data["topic"],
            payload=data["payload"],
            id=uuid.UUID(data["id"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
        )


async def emit(session: AsyncSession, topic: str, payload: dict[str, Any]) -> Event:
    """Write an event to the outbox in the caller's transaction; it leaves only if that commits."""
    event = Event(topic=topic, payload=payload)
    session.info["outbox"] = True  # wakes the relay after commit (core.runtime)
    session.add(
        OutboxEvent(id=event.id, topic=topic, payload=event.to_wire(), created_at=event.occurred_at)
    )
    return event


class Payload(BaseModel):
    """Base of a topic's payload. Unknown keys are kept, so an event published by a newer
    version of the platform (or by an older one, relayed late) still reads."""

    model_config = ConfigDict(extra="allow", frozen=True)


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class Topic(Generic[P]):
    """A topic a module publishes, declared once in that module's ``events.py`` with the type
    of its payload; publishers call ``emit`` and subscribers ``read``, so the name is written
    once and the payload's shape is checked on both sides."""

    name: str
    payload: type[P]

    async def emit(self, session: AsyncSession, payload: P) -> Event:
        return await emit(session, self.name, payload.model_dump(mode="json"))

    def read(self, event: Event) -> P:
        return self.payload.model_validate(event.payload)
