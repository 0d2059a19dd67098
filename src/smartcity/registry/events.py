"""Topics the base registries publish, each with its payload."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from smartcity.core.bus import Payload, Topic


class RecordChanged(Payload):
    """A registry record was created or changed: ``fields`` names the changed data fields
    (empty for a created record; a dict of new values is accepted from other publishers)."""

    id: str
    version: int | None = None
    change: str = ""
    fields: list[str] | dict[str, Any] = Field(default_factory=list)


PERSON_CHANGED = Topic("registry.person.changed", RecordChanged)
ORGANIZATION_CHANGED = Topic("registry.organization.changed", RecordChanged)
PLACE_CHANGED = Topic("registry.place.changed", RecordChanged)
# record type -> the topic of its changes
RECORD_CHANGED: dict[str, Topic[RecordChanged]] = {
    "person": PERSON_CHANGED,
    "organization": ORGANIZATION_CHANGED,
    "place": PLACE_CHANGED,
}
# What a subscriber to every registry's changes listens to.
RECORD_CHANGED_PATTERN = "registry.*.changed"
