"""A.8 Receiving updates via MQTT, against the real Mosquitto: the landing page's endpoints,
and subscribers on the entity, entity-set (direct and through navigation), property and
``$select`` topics, for entities made over HTTP and Observations made over MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import orjson
import pytest
from sqlalchemy import update

from smartcity.core.db import Database
from smartcity.sensing.models import StaThing
from smartcity.settings import Settings, configure
from tests.sensing import test_a7_mqtt_create as a7
from tests.sensing.test_a7_mqtt_create import (
    BROKER,
    MOSQUITTO,
    WAIT,
    PrivateBroker,
    arrived,
    device,
    running_bridge,
    send,
)

# The broker fixtures of the A.7 tests.
shared_broker = a7.shared_broker
bridge = a7.bridge

REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/"


async def test_the_landing_page_lists_the_mqtt_endpoints(client, settings: Settings):
    plain = (await client.get("/sta/v1.1")).json()["serverSettings"]
    assert not any("mqtt" in c for c in plain["conformance"])
    configure(settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1883"}))
    secured = (await client.get("/sta/v1.1")).json()["serverSettings"]
    # Devices publish in their own namespace, not on A.7's topics: A.7 is not claimed.
    assert REQ + "receive-updates-via-mqtt" in secured["conformance"]
    assert REQ + "create-observations-via-mqtt" not in secured["conformance"]
    assert REQ + "create-observations-via-mqtt/observations-creation" not in secured
    configure(
        settings.model_copy(
            update={"mqtt_url": "mqtt://127.0.0.1:1883", "mqtt_standard_create_topics": True}
        )
    )
    server = (await client.get("/sta/v1.1")).json()["serverSettings"]
    assert REQ + "create-observations-via-mqtt" in server["conformance"]
    assert REQ + "receive-updates-via-mqtt" in server["conformance"]
    for key in (
        REQ + "receive-updates-via-mqtt/receive-updates",
        REQ + "create-observations-via-mqtt/observations-creation",
    ):
        assert server[key] == {"endpoints": ["mqtt://127.0.0.1:1883"]}


@contextlib.asynccontextmanager
async def subscriber(
    *topics: str, host: str = BROKER[0], port: int = BROKER[1]
) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(host, port, identifier=f"test-sub-{uuid.uuid4().hex}") as sub:
        for topic in topics:
            await sub.subscribe(topic, qos=1)
        yield sub


async def collect(sub: aiomqtt.Client, wanted: dict[str, Any]) -> dict[str, Any]:
    """The first payload on each wanted topic that matches (a dict of expected items; a
    device's own raw publication on a shared topic has no @iot.id and is passed over)."""
    got: dict[str, Any] = {}
    async with asyncio.timeout(WAIT):
        async for message in sub.messages:
            topic = message.topic.value
            try:
                body = orjson.loads(message.payload)  # type: ignore[arg-type]
            except orjson.JSONDecodeError:
                continue  # another test's malformed publication on the shared broker
            if not isinstance(body, dict):
                continue
            expect = wanted.get(topic)
            matches = expect is not None and all(body.get(k) == v for k, v in expect.items())
            if matches and topic not in got:
                got[topic] = body
            if len(got) == len(wanted):
                return got
    raise AssertionError("unreachable")


@pytest.fixture
async def relay(app: Any) -> AsyncIterator[Any]:
    """Runs the outbox relay on demand: events reach the bridge's handler after commit."""
    runtime = app.state.runtime
    await runtime.start(background=False)

    async def drain() -> None:
        while await runtime.relay_once() > 0:
            pass

    try:
        yield drain
    finally:
        await runtime.stop()


async def test_created_and_updated_entities_reach_each_topic_form(sta, bridge, relay):
    ids = await sta.thing()
    thing, ds = ids["thing"], ids["datastream"]
    select = f"v1.1/Things({thing})?$select=name"
    bridge.selects.subscribe("configured-by-test", select)
    async with subscriber(
        "v1.1/Things",
        f"v1.1/Things({thing})",
        f"v1.1/Things({thing})/name",
        f"v1.1/Things({thing})/description",
        select,
    ) as sub:
        assert (
            await sta.patch(f"Things({thing})", {"name": "空气站 福田 二号"})
        ).status_code == 200
        await relay()
        got = await collect(
            sub,
            {
                "v1.1/Things": {"@iot.id": thing, "name": "空气站 福田 二号"},
                f"v1.1/Things({thing})": {"@iot.id": thing, "name": "空气站 福田 二号"},
                f"v1.1/Things({thing})/name": {"name": "空气站 福田 二号"},
                select: {"name": "空气站 福田 二号"},
            },
        )
    assert got[f"v1.1/Things({thing})"]["description"] == "国控空气质量监测站"
    assert got[select] == {"name": "空气站 福田 二号"}  # only what was selected
    assert got[f"v1.1/Things({thing})/name"] == {"name": "空气站 福田 二号"}

    # A Datastream's entity sets: the plain set and the Thing's navigation path.
    async with subscriber("v1.1/Datastreams", f"v1.1/Things({thing})/Datastreams") as sub:
        assert (
            await sta.patch(f"Datastreams({ds})", {"description": "小时均值"})
        ).status_code == 200
        await relay()
        got = await collect(
            sub,
            {
                "v1.1/Datastreams": {"@iot.id": ds, "description": "小时均值"},
                f"v1.1/Things({thing})/Datastreams": {"@iot.id": ds},
            },
        )


async def test_observations_made_over_mqtt_are_republished(
    sta, settings: Settings, database: Database, relay: Any, shared_broker: str
):
    ids = await sta.thing()
    ds = ids["datastream"]
    select = f"v1.1/Datastreams({ds})/Observations?$select=result,phenomenonTime"
    async with (
        running_bridge(settings, database, shared_broker, mqtt_select_topics=select) as bridge,
        subscriber("v1.1/Observations", f"v1.1/Datastreams({ds})/Observations", select) as sub,
    ):
        async with device() as client:
            raw = await send(
                client,
                f"v1.1/Datastreams({ds})/Observations",
                {"phenomenonTime": "2026-02-01T00:00:00Z", "result": 35.5},
            )
            (outcome,) = await arrived(bridge, raw)
        await relay()
        new = outcome.observation_id
        assert new is not None
        got = await collect(
            sub,
            {
                "v1.1/Observations": {"@iot.id": new},
                f"v1.1/Datastreams({ds})/Observations": {"@iot.id": new},
                select: {"result": 35.5},
            },
        )
    assert got[f"v1.1/Datastreams({ds})/Observations"]["result"] == 35.5
    assert got[select] == {"result": 35.5, "phenomenonTime": "2026-02-01T00:00:00Z"}


async def test_select_topics_announced_through_the_broker_log(
    sta, settings: Settings, database: Database, tmp_path, relay
):
    """With ``log_dest topic`` and ``log_type subscribe`` Mosquitto announces subscriptions on
    $SYS; the bridge learns the $select topics from there, and forgets them on unsubscribe."""
    if MOSQUITTO is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install mosquitto)")
    broker = PrivateBroker(tmp_path, log_to_topic=True)
    await broker.start()
    try:
        ids = await sta.thing()
        ds = ids["datastream"]
        select = f"v1.1/Datastreams({ds})/Observations?$select=result"
        # In this order: the bridge listens to $SYS before the subscriber subscribes.
        async with (
            running_bridge(settings, database, broker.url) as bridge,
            subscriber(select, port=broker.port) as sub,
        ):
            base = f"v1.1/Datastreams({ds})/Observations"
            async with asyncio.timeout(WAIT):
                await bridge.wait_until(lambda: bool(bridge.selects.for_base(base)))
            async with device(port=broker.port) as client:
                raw = await send(client, f"v1.1/Datastreams({ds})/Observations", {"result": 7})
                await arrived(bridge, raw)
            await relay()
            got = await collect(sub, {select: {"result": 7}})
            assert got[select] == {"result": 7}
            await sub.unsubscribe(select)
            async with asyncio.timeout(WAIT):
                await bridge.wait_until(lambda: not bridge.selects.for_base(base))
    finally:
        await broker.stop()


async def test_observation_reaches_its_feature_of_interest_path(sta, bridge, relay):
    ids = await sta.thing()
    ds = ids["datastream"]
    async with device() as client:
        raw = await send(client, f"v1.1/Datastreams({ds})/Observations", {"result": 1})
        (first,) = await arrived(bridge, raw)
    await relay()
    feature = (await sta.json(f"Observations({first.observation_id})/FeatureOfInterest"))["@iot.id"]
    topic = f"v1.1/FeaturesOfInterest({feature})/Observations"
    async with subscriber(topic) as sub:
        async with device() as client:
            raw = await send(client, f"v1.1/Datastreams({ds})/Observations", {"result": 2})
            (second,) = await arrived(bridge, raw)
        await relay()
        got = await collect(sub, {topic: {"@iot.id": second.observation_id}})
    assert got[topic]["result"] == 2


async def test_a_private_things_updates_are_not_published(sta, bridge, relay, session):
    """MQTT subscribers are anonymous: a Thing that is not public stays off the broker."""
    private = (await sta.thing(name="家庭水表"))["thing"]
    public = (await sta.thing())["thing"]
    await session.execute(update(StaThing).where(StaThing.id == private).values(public=False))
    await session.flush()
    # Names of this run alone: other workers' bridges publish their Things on the shared broker.
    run = uuid.uuid4().hex[:8]
    hidden, shown = f"家庭水表 {run}", f"空气站 {run}"
    async with subscriber("v1.1/Things") as sub:
        assert (await sta.patch(f"Things({private})", {"name": hidden})).status_code == 200
        assert (await sta.patch(f"Things({public})", {"name": shown})).status_code == 200
        await relay()
        names = []
        # Events are relayed in order: the private Thing's would come before the public one's.
        async with asyncio.timeout(WAIT):
            async for message in sub.messages:
                with contextlib.suppress(orjson.JSONDecodeError):
                    body = orjson.loads(message.payload)  # type: ignore[arg-type]
                    if isinstance(body, dict):
                        names.append(body.get("name"))
                if names and names[-1] == shown:
                    break
    assert hidden not in names
