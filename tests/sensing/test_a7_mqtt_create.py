"""A.7 Create Observations via MQTT, against the real Mosquitto: each create topic form,
deep insert, dead letters for malformed messages, and a broker restart mid-stream.

The broker this test process shares (tests/sensing/brokers.py) carries the topic tests; the
restart test runs its own Mosquitto on a free port (started and stopped by its process id),
so it never disturbs a broker other tests share. Tests skip with the reason when there is no broker.

The bridge takes the standard's create topics here only because the tests turn on
``mqtt_standard_create_topics``: by default devices publish under ``devices/<account>/``, so
that subscribers of the standard topics never see raw publications (docs/sensing.md)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.db import Database
from smartcity.sensing import models as m
from smartcity.sensing.mqtt import bridge as mqtt
from smartcity.sensing.mqtt.bridge import MqttBridge, Outcome
from smartcity.settings import Settings
from tests.sensing import brokers
from tests.sensing.test_a5_multidatastream import multi_body

BROKER = brokers.SHARED  # this process's own (tests/sensing/brokers.py)
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
WAIT = 15.0


def listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture
def shared_broker() -> str:
    if not listening(*BROKER):
        pytest.skip(f"no MQTT broker listens on {brokers.SHARED_URL} (start: mosquitto -d)")
    return brokers.SHARED_URL


async def forget_session(host: str, port: int, client_id: str) -> None:
    """Drop the bridge's persistent session so it holds no queue after the test."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with aiomqtt.Client(host, port, identifier=client_id, clean_session=True):
            pass


@contextlib.asynccontextmanager
async def running_bridge(
    settings: Settings, database: Database, url: str, **settings_changes: Any
) -> AsyncIterator[MqttBridge]:
    # The A.7 topics (v1.1/Datastreams(1)/Observations) as the standard has them: these tests
    # run the conformance class on brokers without authentication. A secured city takes
    # devices' Observations only under devices/<account>/ (test_mqtt_security.py).
    changes = {"mqtt_url": url, "mqtt_standard_create_topics": True, **settings_changes}
    configured = settings.model_copy(update=changes)
    bridge = MqttBridge(
        configured, database, client_id=f"test-bridge-{uuid.uuid4().hex}", backoff=(0.05, 0.5)
    )
    task = asyncio.create_task(bridge.run())
    mqtt.active = bridge
    try:
        async with asyncio.timeout(WAIT):
            await bridge.connected.wait()
        yield bridge
    finally:
        mqtt.active = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await forget_session(bridge.host, bridge.port, bridge.client_id)


@pytest.fixture
async def bridge(
    shared_broker: str, settings: Settings, database: Database
) -> AsyncIterator[MqttBridge]:
    async with running_bridge(settings, database, shared_broker) as running:
        yield running


@contextlib.asynccontextmanager
async def device(host: str = BROKER[0], port: int = BROKER[1]) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(host, port, identifier=f"test-device-{uuid.uuid4().hex}") as c:
        yield c


async def send(client: aiomqtt.Client, topic: str, payload: Any) -> bytes:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    await client.publish(topic, raw, qos=1)
    return raw


def seen(*payloads: bytes) -> Callable[[list[Outcome]], bool]:
    def done(outcomes: list[Outcome]) -> bool:
        got = {o.payload for o in outcomes}
        return all(p in got for p in payloads)

    return done


def outcome_of(bridge: MqttBridge, payload: bytes) -> Outcome:
    return next(o for o in reversed(bridge.recent) if o.payload == payload)


async def arrived(bridge: MqttBridge, *payloads: bytes) -> list[Outcome]:
    async with asyncio.timeout(WAIT):
        await bridge.wait_for(seen(*payloads))
    return [outcome_of(bridge, p) for p in payloads]


async def test_create_on_each_topic_form(sta, bridge):
    ids = await sta.thing()
    ds = ids["datastream"]
    feature = await sta.create(
        "FeaturesOfInterest",
        {
            "name": "福田 路口",
            "description": "检测点",
            "encodingType": "application/vnd.geo+json",
            "feature": {"type": "Point", "coordinates": [114.06, 22.55]},
        },
    )
    multi = await sta.create("MultiDatastreams", multi_body(ids))
    async with device() as client:
        by_stream = await send(
            client,
            f"v1.1/Datastreams({ds})/Observations",
            {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 11},
        )
        plain = await send(
            client,
            "v1.1/Observations",
            {"phenomenonTime": "2026-01-01T01:00:00Z", "result": 12, "Datastream": {"@iot.id": ds}},
        )
        by_feature = await send(
            client,
            f"v1.1/FeaturesOfInterest({feature})/Observations",
            {"phenomenonTime": "2026-01-01T02:00:00Z", "result": 13, "Datastream": {"@iot.id": ds}},
        )
        by_multi = await send(
            client,
            f"v1.1/MultiDatastreams({multi})/Observations",
            {"phenomenonTime": "2026-01-01T03:00:00Z", "result": [21.5, 60, "http://x/clear"]},
        )
        outcomes = await arrived(bridge, by_stream, plain, by_feature, by_multi)
    assert all(o.reason is None and o.observation_id for o in outcomes), outcomes
    a, b, c, d = (o.observation_id for o in outcomes)
    observations = await sta.json(f"Datastreams({ds})/Observations", **{"$orderby": "id"})
    assert [(o["@iot.id"], o["result"]) for o in observations["value"]] == [
        (a, 11),
        (b, 12),
        (c, 13),
    ]
    assert (await sta.json(f"Observations({c})/FeatureOfInterest"))["@iot.id"] == feature
    # No FeatureOfInterest given: derived from the Thing's Location, as over HTTP.
    assert (await sta.json(f"Observations({a})/FeatureOfInterest"))["@iot.id"] != feature
    assert (await sta.json(f"Observations({d})"))["result"] == [21.5, 60, "http://x/clear"]
    assert (await sta.json(f"Observations({d})/MultiDatastream"))["@iot.id"] == multi


async def test_deep_insert_of_a_feature_of_interest(sta, bridge):
    ids = await sta.thing()
    async with device() as client:
        raw = await send(
            client,
            f"v1.1/Datastreams({ids['datastream']})/Observations",
            {
                "result": 30,
                "FeatureOfInterest": {
                    "name": "移动监测车",
                    "description": "车载",
                    "encodingType": "application/vnd.geo+json",
                    "feature": {"type": "Point", "coordinates": [114.1, 22.6]},
                },
            },
        )
        (outcome,) = await arrived(bridge, raw)
    assert outcome.reason is None, outcome.reason
    feature = await sta.json(f"Observations({outcome.observation_id})/FeatureOfInterest")
    assert feature["name"] == "移动监测车"
    # No phenomenonTime: the server's time of receipt, as the standard says.
    assert (await sta.json(f"Observations({outcome.observation_id})"))["phenomenonTime"]


async def test_malformed_messages_become_dead_letters_and_the_stream_goes_on(
    sta, bridge, session: AsyncSession
):
    ids = await sta.thing()
    ds = ids["datastream"]
    topic = f"v1.1/Datastreams({ds})/Observations"
    marker = uuid.uuid4().hex
    async with device() as client:
        bad = [
            (topic, f'{{"result": 1, "broken {marker}'.encode(), "not valid JSON"),
            (
                "v1.1/Datastreams(987654321)/Observations",
                orjson.dumps({"result": 1, "parameters": {"m": marker}}),
                "no Datastream with the id 987654321",
            ),
            (
                topic,
                orjson.dumps({"result": "high", "parameters": {"m": marker}}),
                "Wrong result type",
            ),
            (
                topic,
                orjson.dumps(
                    {
                        "phenomenonTime": "2099-01-01T00:00:00Z",
                        "result": 1,
                        "parameters": {"m": marker},
                    }
                ),
                "ahead of the server's clock",
            ),
            (topic, orjson.dumps([{"result": 1, "m": marker}]), "JSON object"),
            (
                topic,
                b'{"result": 1, "parameters": {"m": "%s", "deep": %s%s}}'
                % (marker.encode(), b"[" * 300, b"]" * 300),
                "levels deep",
            ),
            (
                f"v1.1/Things({ids['thing']})/Observations",
                orjson.dumps({"result": 2, "parameters": {"m": marker}}),
                "create Observations on",
            ),
        ]
        for bad_topic, payload, _reason in bad:
            await send(client, bad_topic, payload)
        good = await send(client, topic, {"result": 42, "parameters": {"m": marker}})
        outcomes = await arrived(bridge, *(p for _t, p, _r in bad), good)
    for (_topic, _payload, reason), outcome in zip(bad, outcomes, strict=False):
        assert outcome.observation_id is None
        assert outcome.reason is not None and reason in outcome.reason, outcome.reason
    assert outcomes[-1].reason is None
    stored = await sta.json(f"Datastreams({ds})/Observations")
    assert [o["result"] for o in stored["value"]] == [42]
    letters = (
        (
            await session.execute(
                select(m.StaMqttDeadLetter).where(m.StaMqttDeadLetter.payload.contains(marker))
            )
        )
        .scalars()
        .all()
    )
    assert len(letters) == len(bad)
    assert {letter.topic for letter in letters} == {t for t, _p, _r in bad}
    for letter in letters:
        assert letter.reason and letter.received_at is not None
        assert letter.payload_bytes == len(
            next(p for _t, p, _r in bad if p.decode() == letter.payload)
        )


async def test_an_oversized_payload_is_kept_truncated(sta, bridge, session: AsyncSession):
    ids = await sta.thing()
    marker = uuid.uuid4().hex
    raw = (marker + "x" * (mqtt.MAX_PAYLOAD + 10)).encode()
    async with device() as client:
        await send(client, f"v1.1/Datastreams({ids['datastream']})/Observations", raw)
        (outcome,) = await arrived(bridge, raw)
    assert outcome.reason and "larger than" in outcome.reason
    letter = (
        await session.execute(
            select(m.StaMqttDeadLetter).where(m.StaMqttDeadLetter.payload.startswith(marker))
        )
    ).scalar_one()
    assert len(letter.payload) == mqtt.PAYLOAD_KEPT
    assert letter.payload_bytes == len(raw)


# --- a broker restart mid-stream, on a private Mosquitto -----------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateBroker:
    """A Mosquitto of this test alone: persistence on, so a restart keeps sessions."""

    def __init__(self, directory: Path, *, log_to_topic: bool = False) -> None:
        self.port = free_port()
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            # Started as root, Mosquitto would drop to its own user, which cannot write the
            # persistence file under pytest's private temporary directory.
            "user root",
            "persistence true",
            f"persistence_location {directory}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if log_to_topic:
            lines += ["log_dest topic", "log_type subscribe", "log_type unsubscribe"]
        self.config.write_text("\n".join(lines) + "\n")
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> None:
        assert MOSQUITTO is not None
        self.process = await asyncio.create_subprocess_exec(
            MOSQUITTO,
            "-c",
            str(self.config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stderr is not None
        async with asyncio.timeout(WAIT):
            # Mosquitto logs "... running" once its listener is open.
            while b" running" not in await self.process.stderr.readline():
                pass

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()  # SIGTERM: Mosquitto writes its persistence file
            await self.process.wait()
        self.process = None


@pytest.fixture
async def private_broker(tmp_path: Path) -> AsyncIterator[PrivateBroker]:
    if MOSQUITTO is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install mosquitto)")
    broker = PrivateBroker(tmp_path)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def test_a_broker_restart_mid_stream_loses_nothing(
    sta, settings: Settings, database: Database, private_broker: PrivateBroker
):
    ids = await sta.thing()
    topic = f"v1.1/Datastreams({ids['datastream']})/Observations"
    port = private_broker.port
    sent: list[bytes] = []
    async with running_bridge(settings, database, private_broker.url) as bridge:
        async with device(port=port) as client:
            for i in range(20):
                sent.append(await send(client, topic, {"result": i}))
        # The broker has every one of them (QoS 1 PUBACKs); restart it at once, mid-stream.
        await private_broker.stop()
        await private_broker.start()
        async with device(port=port) as client:
            for i in range(20, 40):
                sent.append(await send(client, topic, {"result": i}))
        await arrived(bridge, *sent)
        assert bridge.connections >= 2
    stored = await sta.json(topic.removeprefix("v1.1/"), **{"$top": "1000"})
    results = {o["result"] for o in stored["value"]}
    assert results == set(range(40))


async def test_a_dropped_connection_reconnects_and_resubscribes(
    sta, settings: Settings, database: Database, private_broker: PrivateBroker
):
    ids = await sta.thing()
    topic = f"v1.1/Datastreams({ids['datastream']})/Observations"
    async with running_bridge(settings, database, private_broker.url) as bridge:
        await bridge.disconnect()
        # Whether these reach the broker before or after the reconnect, none is lost.
        async with device(port=private_broker.port) as client:
            late = [await send(client, topic, {"result": 100 + i}) for i in range(5)]
        await arrived(bridge, *late)
    stored = await sta.json(topic.removeprefix("v1.1/"))
    assert sorted(o["result"] for o in stored["value"]) == [100, 101, 102, 103, 104]


async def test_the_bridge_url_is_checked():
    with pytest.raises(ValueError, match="mqtt://"):
        mqtt.broker_address("http://127.0.0.1:1883")
    assert mqtt.broker_address("mqtt://broker.local") == ("broker.local", 1883)
