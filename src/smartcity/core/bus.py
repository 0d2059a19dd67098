"""The event bus: events are written to the outbox in the business transaction, relayed to the
bus after commit, and delivered at least once to handlers that are idempotent by event id.

Backends: in-process (default) and NATS JetStream (``SMARTCITY_BUS_URL=nats://...``); both
share the outbox, the relay and the idempotency table, so a module never knows which runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
