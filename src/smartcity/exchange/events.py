"""Events the exchange publishes, and the registry events it subscribes to.

The registries announce a changed record as ``registry.<record_type>.changed`` with
``{"id": <record id>, "version": <int>, "change": "created" | "updated", "fields": [<changed
field>, ...]}`` (a dict of new values is accepted too). For every subscription whose grant
covers one of those fields (every granted field for a created record) the exchange publishes
``exchange.resource.<code>.changed`` and queues a signed webhook delivery, both carrying only
the granted fields with their current values, read through the registry so that the
disclosure lands in the person's access log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.bus import Event
from smartcity.core.module import Handler

GRANT_REQUESTED = "exchange.grant.requested"
GRANT_APPROVED = "exchange.grant.approved"
GRANT_REFUSED = "exchange.grant.refused"
GRANT_REVOKED = "exchange.grant.revoked"

REGISTRY_CHANGED = {
    "person": "registry.person.changed",
    "organization": "registry.organization.changed",
    "place": "registry.place.changed",
}
REGISTRY_CHANGED_PATTERN = "registry.*.changed"


def resource_changed(code: str) -> str:
    """The bus topic of changes to a resource: ``exchange.resource.<code>.changed``."""
    return f"exchange.resource.{code}.changed"


def _changed_fields(raw: Any) -> tuple[list[str], dict[str, Any]]:
    if isinstance(raw, dict):
        return list(raw), dict(raw)
    if isinstance(raw, list):
        return [str(name) for name in raw], {}
    return [], {}


async def on_registry_change(session: AsyncSession, event: Event) -> None:
    """Fan a changed registry record out to the subscriptions that may see it."""
    from smartcity.exchange import webhooks

    record_type = event.topic.split(".")[1]
    if record_type not in REGISTRY_CHANGED:
        return
    names, values = _changed_fields(event.payload.get("fields"))
    await webhooks.fan_out_change(
        session,
        record_type=record_type,
        record_id=str(event.payload.get("id", "")),
        version=event.payload.get("version"),
        created=event.payload.get("change") == "created",
        changed=names,
        values=values,
        event_id=event.id,
    )


HANDLERS = [Handler("exchange.registry_changes", REGISTRY_CHANGED_PATTERN, on_registry_change)]
