"""Topics the exchange publishes, each with its payload.

A grant's life (requested, approved, refused, revoked) is published on ``exchange.grant.*``.
For every subscription whose grant covers a changed registry field (see handlers.py) the
exchange publishes ``exchange.resource.<code>.changed``, carrying only the granted fields
with their current values; the same body is what the subscription's webhook receives.
"""

from __future__ import annotations

from typing import Any

from smartcity.core.bus import Payload, Topic


class GrantChanged(Payload):
    """A grant as its decision left it; ``fields`` are the granted fields (the requested ones
    while it has none)."""

    id: str
    resource: str
    consumer_department_id: str
    status: str
    fields: list[str]


GRANT_REQUESTED = Topic("exchange.grant.requested", GrantChanged)
GRANT_APPROVED = Topic("exchange.grant.approved", GrantChanged)
GRANT_REFUSED = Topic("exchange.grant.refused", GrantChanged)
GRANT_REVOKED = Topic("exchange.grant.revoked", GrantChanged)


class ResourceChanged(Payload):
    """A record of a subscribed resource changed, as the subscribing department may see it."""

    event_id: str
    topic: str
    resource: str
    record_type: str
    record_id: str
    version: Any = None
    fields: list[str]
    values: dict[str, Any]
    occurred_at: str
    subscription: str
    consumer: str


def resource_changed(code: str) -> Topic[ResourceChanged]:
    """The topic of changes to a resource: ``exchange.resource.<code>.changed``."""
    return Topic(f"exchange.resource.{code}.changed", ResourceChanged)
