"""The SensorThings MQTT bridge (MQTT 接入桥): conformance classes A.7 (create Observations
via MQTT) and A.8 (receive updates via MQTT) on an external broker (Mosquitto).

In: devices PUBLISH one Observation JSON to ``devices/<account>/v1.1/Observations`` or
``devices/<account>/v1.1/{Datastreams,MultiDatastreams,FeaturesOfInterest}(id)/Observations``,
written as that device account (the broker's ACLs, broker_acl.py, tie the namespace to the
account that connected); the standard's own topics without the prefix only with
``mqtt_standard_create_topics``, written as the platform. The bridge takes
what arrived together as one batch, writes it through ``ingest.ingest_observations`` (or the
deep-insert writer when a message nests new entities) in one transaction, records every
refused message as a dead letter (``StaMqttDeadLetter``) in the same transaction, and only
then acknowledges the messages (PUBACK): a crash before the commit leaves them unacknowledged
in the broker's persistent session, which delivers them again. That is at-least-once: a crash
between commit and PUBACK writes those Observations twice.

Out: the bus events ``sensing.entity.created`` / ``updated`` and the Observations of
``sensing.observations.created`` (after commit, via the outbox relay) are published to the
entity, entity-set, property and ``$select`` topics, with ``@iot.selfLink``. Only the bridge
may publish there, so subscribers never see a device's raw message (docs/sensing.md).

MQTT 5 is used for its No Local option: the standard puts creation and entity-set updates on
the same topic (``v1.1/Datastreams(1)/Observations``), and without No Local the bridge would
receive its own republished Observations and try to create them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.bus import Event
from smartcity.core.db import Database
from smartcity.core.errors import Forbidden, Problem
from smartcity.core.limits import check_json_depth
from smartcity.core.models import Account
from smartcity.core.security import principal_of
from smartcity.sensing import access
from smartcity.sensing import models as m
from smartcity.sensing.mqtt.topics import (
    SYS_SUBSCRIBE,
    SYS_UNSUBSCRIBE,
    SelectRegistry,
    create_filters,
    create_target,
    publications,
    split_device_topic,
)
from smartcity.sensing.sta import service
from smartcity.sensing.sta.entities import BY_SET, TYPES, BadRequest
from smartcity.sensing.sta.ingest import ObservationRow, ingest_observations, parse_row
from smartcity.settings import Settings

# Whoever publishes to the broker: not the platform itself, so what only the platform may
# write (computed Datastreams) stays closed to MQTT too.
MQTT_CLIENT = Principal(id=None, kind="system", name="mqtt", via="mqtt")

log = logging.getLogger(__name__)

PAYLOAD_KEPT = 4096  # characters of a dead letter's payload kept for the operator
MAX_PAYLOAD = 256 * 1024  # a larger message is refused without parsing
SESSION_EXPIRY = 7 * 24 * 3600  # how long the broker keeps our queue while we are away
OUTGOING_LIMIT = 100_000  # publications held while the broker is unreachable
PUBLISH_WINDOW = 200  # publications awaiting their PUBACK at once


@dataclass(frozen=True)
class Outcome:
    """What became of one incoming message: an Observation id, or a dead letter's reason."""

    topic: str
    payload: bytes
    observation_id: int | None
    reason: str | None


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"SMARTCITY_MQTT_URL must look like mqtt://host:1883, not {url!r}")
    return parts.hostname, parts.port or 1883


def _reason(problem: Problem) -> str:
    return str(problem.detail) if getattr(problem, "detail", None) else str(problem)


def _with_parent(data: Any, topic: str) -> Any:
    """The message with the link its topic implies (the topic wins, as the path does for an
    HTTP POST to ``Datastreams(1)/Observations``)."""
    target = create_target(split_device_topic(topic)[1])
    if not isinstance(data, dict):
        raise BadRequest("An Observation must be a JSON object.")
    if target is not None:
        data = {**data, target[0]: {"@iot.id": target[1]}}
    return data


def _nests_entities(data: dict[str, Any]) -> bool:
    return any(
        isinstance(data.get(k), dict) and "@iot.id" not in data[k]
        for k in ("Datastream", "MultiDatastream", "FeatureOfInterest")
    )


class MqttBridge:
    """One connection to the broker, kept up with backoff, both ways."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        client_id: str | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.host, self.port = broker_address(settings.mqtt_url)
        self.db = db
        self.client_id = client_id or settings.mqtt_client_id
        self.username = settings.mqtt_username or None
        self.password = settings.mqtt_password.get_secret_value() or None
        self.filters = create_filters(settings.mqtt_standard_create_topics)
        self.backoff = backoff
        self.max_json_depth = settings.max_json_depth
        self.selects = SelectRegistry(settings.mqtt_select_topics.split())
        self.root = settings.sta_public_root.rstrip("/")
        self.outgoing: deque[tuple[str, bytes]] = deque(maxlen=OUTGOING_LIMIT)
        self._has_outgoing = asyncio.Event()
        self.connected = asyncio.Event()
        self.connections = 0  # how many times it (re)connected: for operators and tests
        self.recent: deque[Outcome] = deque(maxlen=10_000)
        self._progress = asyncio.Condition()
        self._client: aiomqtt.Client | None = None
        # Back-pressure: the broker hands over at most this many QoS 1 messages before we
        # acknowledge (MQTT 5 Receive Maximum), and a batch is at most this many; while the
        # writer lags, the rest waits in the broker's persistent session, not in our memory.
        self.max_inflight = max(1, min(settings.mqtt_max_inflight, 65535))
        self.unacked = 0  # messages taken for the current batch and not yet acknowledged

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe, consume and publish until cancelled; reconnect on any broker
        error with exponential backoff."""
        delay = self.backoff[0]
        while True:
            before = self.connections
            try:
                await self._connected_once()
            except aiomqtt.MqttError as exc:
                log.warning("MQTT bridge: %s; reconnecting in %.1fs", exc, delay)
            except Exception:
                # A database outage lands here too: nothing was acknowledged, so the broker
                # delivers the batch again after the reconnect.
                log.exception("MQTT bridge failed; reconnecting in %.1fs", delay)
            finally:
                self.connected.clear()
                self._client = None
            # A connection that came up starts the next outage from the short delay again.
            delay = (
                self.backoff[0] if self.connections > before else min(delay * 2, self.backoff[1])
            )
            await asyncio.sleep(delay)

    def connect_properties(self) -> Properties:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY
        properties.ReceiveMaximum = self.max_inflight
        return properties

    async def _connected_once(self) -> None:
        properties = self.connect_properties()
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            username=self.username,
            password=self.password,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            timeout=10,
            # As many of our publications in flight as the publisher sends at once.
            max_inflight_messages=PUBLISH_WINDOW,
        )
        # aiomqtt has no manual acknowledgement of its own; paho-mqtt 2.x underneath has, and
        # the PUBACK must wait for the database commit.
        client._client.manual_ack_set(True)
        async with client:
            self._client = client
            for topic in self.filters:
                await client.subscribe(topic, options=SubscribeOptions(qos=1, noLocal=True))
            await client.subscribe(SYS_SUBSCRIBE, qos=0)
            await client.subscribe(SYS_UNSUBSCRIBE, qos=0)
            self.connections += 1
            self.connected.set()
            publisher = asyncio.create_task(self._publish_loop(client))
            try:
                await self._consume(client)
            finally:
                publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await publisher

    async def disconnect(self) -> None:
        """Drop the connection as a broker restart would (tests; operators via a signal)."""
        client = self._client
        if client is not None:
            client._client.disconnect()

    async def _consume(self, client: aiomqtt.Client) -> None:
        messages = client.messages
        iterator = messages.__aiter__()
        while True:
            batch = [await iterator.__anext__()]
            # What already arrived goes into the same transaction, up to the bound. Nothing is
            # read while the batch is written: with every message of the bound unacknowledged
            # the broker sends no more (Receive Maximum), so a lagging database stops the
            # reading instead of filling memory.
            while len(messages) and len(batch) < self.max_inflight:
                batch.append(await iterator.__anext__())
            creates = []
            for message in batch:
                topic = message.topic.value
                if topic in (SYS_SUBSCRIBE, SYS_UNSUBSCRIBE):
                    self.selects.on_log_line(topic, _raw(message).decode(errors="replace"))
                    await self._record([])
                else:
                    creates.append(message)
            if creates:
                self.unacked = len(creates)
                outcomes = await self.store([(msg.topic.value, _raw(msg)) for msg in creates])
                for message in creates:
                    client._client.ack(message.mid, message.qos)
                self.unacked = 0
                await self._record(outcomes)

    async def _publish_loop(self, client: aiomqtt.Client) -> None:
        while True:
            while self.outgoing:
                # A window of publications in flight at once, in queue order: waiting for
                # each PUBACK before the next publish held the bridge to one round trip per
                # publication, seven per Observation.
                window = [self.outgoing[i] for i in range(min(PUBLISH_WINDOW, len(self.outgoing)))]
                results = await asyncio.gather(
                    *(client.publish(topic, payload, qos=1) for topic, payload in window),
                    return_exceptions=True,
                )
                failed = next((r for r in results if isinstance(r, BaseException)), None)
                if failed is not None:
                    # Nothing is dropped: the whole window is sent again on the next
                    # connection (at least once, as QoS 1 promises anyway).
                    raise failed
                # Dropped from the queue only once the broker has them. By identity: when the
                # queue is full, appends push out its oldest entries meanwhile.
                for item in window:
                    if self.outgoing and self.outgoing[0] is item:
                        self.outgoing.popleft()
            self._has_outgoing.clear()
            await self._has_outgoing.wait()

    # --- in: Observations -------------------------------------------------------------------

    async def store(self, messages: list[tuple[str, bytes]]) -> list[Outcome]:
        """Write one batch of incoming messages in one transaction; dead letters included."""
        async with self.db.session_scope() as session:
            try:
                async with session.begin_nested():
                    return await self._store(session, messages)
            except Exception:
                # Something unexpected in the batch: retry the messages one by one, so one
                # poison message becomes a dead letter instead of blocking its neighbours.
                log.exception("MQTT batch of %d failed; storing one by one", len(messages))
            outcomes = []
            for message in messages:
                try:
                    async with session.begin_nested():
                        outcomes += await self._store(session, [message])
                except Exception as exc:
                    log.exception("MQTT message on %s failed", message[0])
                    outcomes.append(await self._dead(session, *message, f"internal error: {exc}"))
            return outcomes

    async def _store(self, session: AsyncSession, messages: list[tuple[str, bytes]]) -> list[Any]:
        outcomes: list[Outcome | None] = [None] * len(messages)
        # Rows per publisher: a device's own account (its topic namespace, which the broker's
        # ACLs tie to the account that connected) gets the same checks as over HTTP; the
        # standard topics, which carry no publisher, are written as the MQTT client (not the
        # platform: what only the platform writes, computed Datastreams, stays closed).
        rows: dict[str, tuple[Principal, list[ObservationRow], list[int]]] = {}
        devices: dict[str, Principal | None] = {}
        for index, (topic, payload) in enumerate(messages):
            try:
                if len(payload) > MAX_PAYLOAD:
                    raise BadRequest(f"The message is larger than {MAX_PAYLOAD} bytes.")
                check_json_depth(payload, self.max_json_depth)  # as for HTTP bodies
                username, _standard = split_device_topic(topic)
                principal = MQTT_CLIENT
                if username is not None:
                    if username not in devices:
                        devices[username] = await _device(session, username)
                    found = devices[username]
                    if found is None:
                        raise Forbidden(f"There is no active device account named {username}.")
                    principal = found
                try:
                    data = _with_parent(orjson.loads(payload), topic)
                except orjson.JSONDecodeError as exc:
                    raise BadRequest(f"The message is not valid JSON: {exc}") from exc
                if _nests_entities(data):
                    async with session.begin_nested():
                        obj = await service.create_entity(
                            session, principal, TYPES["Observation"], data
                        )
                    outcomes[index] = Outcome(topic, payload, obj.id, None)
                    continue
                group = rows.setdefault(username or "", (principal, [], []))
                group[1].append(parse_row(data))
                group[2].append(index)
            except Problem as problem:
                outcomes[index] = await self._dead(session, topic, payload, _reason(problem))
        for principal, group_rows, at in rows.values():
            results = await ingest_observations(session, principal, group_rows)
            for index, result in zip(at, results, strict=True):
                topic, payload = messages[index]
                if isinstance(result, Problem):
                    outcomes[index] = await self._dead(session, topic, payload, _reason(result))
                else:
                    outcomes[index] = Outcome(topic, payload, result, None)
        return outcomes

    async def _dead(
        self, session: AsyncSession, topic: str, payload: bytes, reason: str
    ) -> Outcome:
        session.add(
            m.StaMqttDeadLetter(
                received_at=clock.now(),
                topic=topic[:1024],
                payload=payload.decode("utf-8", errors="replace")[:PAYLOAD_KEPT],
                payload_bytes=len(payload),
                reason=reason[:2000],
            )
        )
        return Outcome(topic, payload, None, reason)

    async def _record(self, outcomes: list[Outcome]) -> None:
        async with self._progress:
            self.recent.extend(outcomes)
            self._progress.notify_all()

    async def wait_for(self, done: Callable[[list[Outcome]], bool]) -> None:
        """Wait until ``done(recent outcomes)`` holds (tests; wrap in asyncio.timeout)."""
        async with self._progress:
            await self._progress.wait_for(lambda: done(list(self.recent)))

    async def wait_until(self, check: Callable[[], bool]) -> None:
        """Wait until ``check()`` holds after some message was handled (e.g. a $SYS line)."""
        async with self._progress:
            await self._progress.wait_for(check)

    # --- out: updates -----------------------------------------------------------------------

    def linked(self, entity_set: str, entity: dict[str, Any]) -> dict[str, Any]:
        return _self_linked(self.root, entity_set, entity)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.outgoing.append((topic, orjson.dumps(payload)))
        self._has_outgoing.set()

    async def on_event(self, session: AsyncSession, event: Event) -> None:
        """One ``sensing.entity.created`` / ``updated`` event: publish its entity."""
        changed = event.payload.get("changed") if event.topic.endswith(".updated") else None
        await self.announce(session, [event.payload], changed)

    async def on_observations(self, session: AsyncSession, event: Event) -> None:
        """A ``sensing.observations.created`` event: publish each of its Observations, in
        order, exactly as a per-Observation ``sensing.entity.created`` event would."""
        items = event.payload.get("observations") or []
        await self.announce(session, [p for p in items if isinstance(p, dict)], None)

    async def announce(
        self, session: AsyncSession, payloads: list[dict[str, Any]], changed: Any
    ) -> None:
        """Publish created (``changed`` None) or updated entities of event payloads (entity_set,
        id, entity). Visibility and the to-one links are read in one query for all of them."""
        for entity_set, group in _by_set(payloads):
            etype = BY_SET[entity_set]
            model = etype.model
            # MQTT subscribers are anonymous: what a private Thing holds is never published.
            private = access.entity_conditions(etype.name, None)
            here = [nav for nav in etype.navs.values() if nav.how == "here" and nav.inverse]
            found: dict[int, dict[str, int | None]] | None = None
            if private or here:
                ids = list({int(p["id"]) for p in group})
                rows = await session.execute(
                    select(model.id, *(getattr(model, nav.column) for nav in here)).where(
                        model.id.in_(ids), *private
                    )
                )
                # Missing: not visible, or deleted since (nothing left to announce).
                found = {
                    int(row[0]): {nav.name: v for nav, v in zip(here, row[1:], strict=True)}
                    for row in rows
                }
            for payload in group:
                links: dict[str, int | None] = {}
                if found is not None:
                    got = found.get(int(payload["id"]))
                    if got is None:
                        continue
                    links = got
                entity = self.linked(etype.set_name, payload["entity"])
                for item in publications(etype, entity, links, changed, self.selects):
                    self.publish(item.topic, item.payload)


async def _device(session: AsyncSession, username: str) -> Principal | None:
    """The principal of an active device account, the publisher of its namespace's topics."""
    account = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    if account is None or not account.active or account.kind != "device":
        return None
    return principal_of(account, "mqtt")


def _self_linked(root: str, entity_set: str, entity: dict[str, Any]) -> dict[str, Any]:
    """The entity as the HTTP API shows it: ``@iot.id`` and ``@iot.selfLink`` first."""
    entity_id = entity.get("@iot.id")
    link = {"@iot.id": entity_id, "@iot.selfLink": f"{root}/{entity_set}({entity_id})"}
    return link | {k: v for k, v in entity.items() if k not in link}


def _by_set(payloads: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The payloads of known entity sets with an entity, in runs of one entity set (order kept
    inside and across the runs)."""
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for payload in payloads:
        entity_set = str(payload.get("entity_set"))
        if entity_set not in BY_SET or not isinstance(payload.get("entity"), dict):
            continue
        if runs and runs[-1][0] == entity_set:
            runs[-1][1].append(payload)
        else:
            runs.append((entity_set, [payload]))
    return runs


def _raw(message: aiomqtt.Message) -> bytes:
    payload = message.payload
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()


# The bridge of this process, when SMARTCITY_MQTT_URL is set and the Runtime started it.
active: MqttBridge | None = None


async def run_bridge(runtime: Any) -> None:
    """The Module task: nothing to do without SMARTCITY_MQTT_URL."""
    global active
    if not runtime.settings.mqtt_url:
        return
    bridge = MqttBridge(runtime.settings, runtime.db)
    active = bridge
    try:
        await bridge.run()
    finally:
        if active is bridge:
            active = None
