"""The bus handlers the exchange subscribes (listed in its MODULE).

The registries announce a changed record on their RECORD_CHANGED topics with
``{"id": <record id>, "version": <int>, "change": "created" | "updated", "fields": [<changed
field>, ...]}`` (a dict of new values is accepted too). The exchange fans each change out to
the subscriptions whose grant covers one of those fields (every granted field for a created
record), reading the values through the registry so that the disclosure lands in the
person's access log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.bus import Event
from smartcity.core.module import Handler
from smartcity.exchange import webhooks
from smartcity.registry.contract import RECORD_CHANGED, RECORD_CHANGED_PATTERN


def _changed_fields(raw: Any) -> tuple[list[str], dict[str, Any]]:
    if isinstance(raw, dict):
        return list(raw), dict(raw)
    if isinstance(raw, list):
        return [str(name) for name in raw], {}
    return [], {}


async def on_registry_change(session: AsyncSession, event: Event) -> None:
    """Fan a changed registry record out to the subscriptions that may see it."""
    record_type = event.topic.split(".")[1]
    if record_type not in RECORD_CHANGED:
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


HANDLERS = [Handler("exchange.registry_changes", RECORD_CHANGED_PATTERN, on_registry_change)]
