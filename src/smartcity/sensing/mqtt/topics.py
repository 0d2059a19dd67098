"""Topics of the SensorThings MQTT extension (OGC 18-088 §14): which topic a device's
Observation arrived on, which topics a created or updated entity is published to, and the
registry of ``$select`` topics that subscribers asked for. Pure functions, no I/O."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from smartcity.sensing.sta.entities import BY_SET, TYPES, BadRequest, EntityType

VERSION = "v1.1"
# MQTT wildcards cover whole levels only, so ``Datastreams(+)`` is no valid filter: the bridge
# takes every ``v1.1/<segment>/Observations`` and parses the segment itself.
CREATE_FILTERS = (f"{VERSION}/Observations", f"{VERSION}/+/Observations")
# Devices publish under their own account name, on topics only devices may publish to and
# only the bridge may read, so subscribers of the standard topics get only the server's
# entity JSON (docs/sensing.md, "MQTT and security"): devices/<username>/v1.1/....
DEVICE_ROOT = "devices"
DEVICE_CREATE_FILTERS = tuple(f"{DEVICE_ROOT}/+/{f}" for f in CREATE_FILTERS)
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
# Mosquitto publishes its subscribe/unsubscribe log lines here when configured with
# ``log_dest topic`` and ``log_type subscribe`` / ``log_type unsubscribe``.
SYS_SUBSCRIBE = "$SYS/broker/log/M/subscribe"
SYS_UNSUBSCRIBE = "$SYS/broker/log/M/unsubscribe"
# The parents an Observation may be created under, and the link each one implies.
CREATE_PARENTS = {
    "Datastreams": "Datastream",
    "MultiDatastreams": "MultiDatastream",
    "FeaturesOfInterest": "FeatureOfInterest",
}
_SEGMENT = re.compile(r"^([A-Za-z]+)\((\d{1,18})\)$")


def create_target(topic: str) -> tuple[str, int] | None:
    """The link a create topic implies: ``("Datastream", 1)`` for
    ``v1.1/Datastreams(1)/Observations``; None for ``v1.1/Observations``."""
    parts = topic.split("/")
    if parts == [VERSION, "Observations"]:
        return None
    if len(parts) != 3 or parts[0] != VERSION or parts[2] != "Observations":
        raise BadRequest(f"{topic} is not a topic Observations are created on.")
    found = _SEGMENT.match(parts[1])
    if found is None or found.group(1) not in CREATE_PARENTS:
        raise BadRequest(
            f"{topic}: create Observations on v1.1/Observations, "
            "v1.1/Datastreams(id)/Observations, v1.1/MultiDatastreams(id)/Observations or "
            "v1.1/FeaturesOfInterest(id)/Observations."
        )
    return CREATE_PARENTS[found.group(1)], int(found.group(2))


def create_filters(standard: bool) -> tuple[str, ...]:
    """What the bridge subscribes to: the device namespace, and the standard create topics
    only when configured (they are the topics subscribers read)."""
    return DEVICE_CREATE_FILTERS + (CREATE_FILTERS if standard else ())


def device_topic(username: str, topic: str) -> str:
    """``devices/meter-7/v1.1/Datastreams(1)/Observations`` for a standard create topic."""
    return f"{DEVICE_ROOT}/{username}/{topic}"


def split_device_topic(topic: str) -> tuple[str | None, str]:
    """(publishing device's account name, standard topic); (None, topic) outside the device
    namespace. The broker's ACLs guarantee that the name is the publisher's own."""
    if not topic.startswith(DEVICE_ROOT + "/"):
        return None, topic
    parts = topic.split("/", 2)
    if len(parts) != 3 or not _USERNAME.match(parts[1]):
        raise BadRequest(f"{topic}: devices publish to devices/<account name>/v1.1/....")
    return parts[1], parts[2]


@dataclass(frozen=True)
class Publication:
    topic: str
    payload: dict[str, Any]


def entity_topics(
    etype: EntityType, entity_id: int, links: dict[str, int | None]
) -> tuple[list[str], str]:
    """The entity-set topics (the plain set and each navigation path that reaches the entity
    through a to-one link: ``Datastreams(1)/Observations``) and the entity topic."""
    sets = [f"{VERSION}/{etype.set_name}"]
    for nav in etype.navs.values():
        if nav.how != "here" or not nav.inverse:
            continue
        parent_id = links.get(nav.name)
        if parent_id is not None:
            sets.append(f"{VERSION}/{TYPES[nav.target].set_name}({parent_id})/{nav.inverse}")
    return sets, f"{VERSION}/{etype.set_name}({entity_id})"


def publications(
    etype: EntityType,
    entity: dict[str, Any],
    links: dict[str, int | None],
    changed: list[str] | None,
    selects: SelectRegistry,
) -> list[Publication]:
    """Everything one created (``changed`` None) or updated entity is published as: the full
    entity on its entity and entity-set topics, each changed property on its property topic,
    and the selected properties on every registered ``$select`` topic of those bases."""
    entity_id = int(entity["@iot.id"])
    sets, single = entity_topics(etype, entity_id, links)
    out = [Publication(topic, entity) for topic in (*sets, single)]
    names = changed if changed is not None else [k for k in entity if not k.startswith("@")]
    for name in names:
        if name in etype.props and name in entity:
            out.append(Publication(f"{single}/{name}", {name: entity[name]}))
    for base in (*sets, single):
        for topic, fields in selects.for_base(base):
            out.append(Publication(topic, {k: entity[k] for k in fields if k in entity}))
    return out


def parse_select_topic(topic: str) -> tuple[str, tuple[str, ...]] | None:
    """``v1.1/Datastreams(1)/Observations?$select=result,phenomenonTime`` -> the base topic
    and the selected names; None for topics that are no valid SensorThings $select topic."""
    if "?" not in topic or not topic.startswith(VERSION + "/") or any(c in topic for c in "+#"):
        return None
    base, query = topic.split("?", 1)
    if not query.startswith("$select="):
        return None
    names = tuple(n.strip() for n in query[len("$select=") :].split(",") if n.strip())
    last = base.rsplit("/", 1)[-1]
    entity = _SEGMENT.match(last)
    etype = BY_SET.get(entity.group(1) if entity else last)
    if etype is None or not names:
        return None
    if any(n != "@iot.id" and n not in etype.props for n in names):
        return None
    return base, names


class SelectRegistry:
    """The ``$select`` topics someone subscribed to. Publishing every possible selection is
    impossible, and Mosquitto tells a client nothing of other clients' subscriptions; the
    bridge learns them from the broker's $SYS log topic (when the broker is configured to
    publish it) and from settings. Bounded: the oldest announcements go first."""

    def __init__(self, configured: list[str] | None = None, limit: int = 10_000) -> None:
        self.limit = limit
        self.by_base: dict[str, dict[str, tuple[str, ...]]] = {}
        self.configured: set[str] = set()
        for topic in configured or []:
            parsed = parse_select_topic(topic)
            if parsed is None:
                raise ValueError(f"{topic} is not a SensorThings $select topic")
            self.by_base.setdefault(parsed[0], {})[topic] = parsed[1]
            self.configured.add(topic)
        # announced topic -> the client ids subscribed to it, oldest first
        self.announced: OrderedDict[str, set[str]] = OrderedDict()

    def subscribe(self, client_id: str, topic: str) -> bool:
        parsed = parse_select_topic(topic)
        if parsed is None:
            return False
        self.announced.setdefault(topic, set()).add(client_id)
        self.announced.move_to_end(topic)
        self.by_base.setdefault(parsed[0], {})[topic] = parsed[1]
        while len(self.announced) > self.limit:
            self._forget(self.announced.popitem(last=False)[0])
        return True

    def unsubscribe(self, client_id: str, topic: str) -> None:
        clients = self.announced.get(topic)
        if clients is not None:
            clients.discard(client_id)
            if not clients:
                del self.announced[topic]
                self._forget(topic)

    def _forget(self, topic: str) -> None:
        if topic in self.configured:
            return
        base = topic.split("?", 1)[0]
        selects = self.by_base.get(base, {})
        selects.pop(topic, None)
        if not selects:
            self.by_base.pop(base, None)

    def on_log_line(self, log_topic: str, line: str) -> None:
        """A Mosquitto log line: ``<time>: <client id> <qos> <topic>`` for subscribe,
        ``<time>: <client id> <topic>`` for unsubscribe."""
        _time, _sep, rest = line.partition(": ")
        if log_topic == SYS_SUBSCRIBE:
            parts = rest.split(" ", 2)
            if len(parts) == 3 and parts[1].isdigit():
                self.subscribe(parts[0], parts[2])
        elif log_topic == SYS_UNSUBSCRIBE:
            parts = rest.split(" ", 1)
            if len(parts) == 2:
                self.unsubscribe(parts[0], parts[1])

    def for_base(self, base: str) -> list[tuple[str, tuple[str, ...]]]:
        return list(self.by_base.get(base, {}).items())
