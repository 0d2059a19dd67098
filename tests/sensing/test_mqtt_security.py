"""The broker authenticates and authorizes (issue 10 §1), against a real Mosquitto that each
test starts on a free port with the dynamic-security plugin, kept in sync by the platform:
anonymous, wrong-key, revoked-key, other-device and private-Thing clients are refused; the
owner's publication is stored and subscribers get only the server's entity JSON."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts, clock
from smartcity.core.db import Database, make_engine
from smartcity.core.models import Account
from smartcity.sensing import models as m
from smartcity.sensing import service as extras
from smartcity.sensing.mqtt import dynsec
from smartcity.sensing.mqtt import jobs as mqtt_jobs
from smartcity.sensing.mqtt.bridge import MqttBridge
from smartcity.sensing.mqtt.topics import device_topic
from smartcity.sensing.sta import service
from smartcity.settings import Settings, configure
from tests.core import factories
from tests.core.factories import ROOT
from tests.sensing.test_a7_mqtt_create import (
    MOSQUITTO,
    WAIT,
    PrivateBroker,
    arrived,
    device,
    free_port,
    private_broker,  # noqa: F401  (fixture)
    running_bridge,
    send,
)
from tests.sensing.test_a8_mqtt_receive import (
    relay,  # noqa: F401  (fixture)
    subscriber,
)
from tests.sensing.test_extras import smartcity

PLUGIN = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")
CTRL = shutil.which("mosquitto_ctrl")
HAS_PLUGIN = PLUGIN.exists()
NOT_AUTHORIZED = 135  # MQTT 5 reason code 0x87


class SecuredBroker(PrivateBroker):
    """A Mosquitto of this test alone with dynamic security; ``admin`` may use $CONTROL."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.dynsec_file = directory / "dynamic-security.json"
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    "user root",
                    f"plugin {PLUGIN}",
                    f"plugin_opt_config_file {self.dynsec_file}",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_type information",
                ]
            )
            + "\n"
        )
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        assert CTRL is not None
        init = await asyncio.create_subprocess_exec(
            CTRL,
            "dynsec",
            "init",
            str(self.dynsec_file),
            "admin",
            self.password,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert await init.wait() == 0
        await super().start()


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[SecuredBroker]:
    if MOSQUITTO is None or CTRL is None:
        pytest.skip("mosquitto and mosquitto_ctrl are not installed (apt-get install mosquitto)")
    if not HAS_PLUGIN:
        pytest.skip(f"the dynamic-security plugin is not at {PLUGIN}")
    running = SecuredBroker(tmp_path)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def secured(settings: Settings, broker: SecuredBroker, app: Any) -> Settings:
    """The platform's settings for this broker; the bus handlers read them too (configured
    after the app is built, which configures its own)."""
    return configure(
        settings.model_copy(
            update={
                "mqtt_url": broker.url,
                "mqtt_username": "admin",
                "mqtt_password": SecretStr(broker.password),
                "mqtt_dynsec": True,
                "mqtt_anonymous_read": True,
            }
        )
    )


@contextlib.asynccontextmanager
async def connected(
    broker: SecuredBroker, username: str | None = None, password: str | None = None
) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=f"test-{uuid.uuid4().hex}",
        username=username,
        password=password,
        protocol=aiomqtt.ProtocolVersion.V5,
        timeout=WAIT,
    ) as client:
        yield client


async def refused_at_connect(broker: SecuredBroker, username: str, password: str) -> bool:
    try:
        async with connected(broker, username, password):
            return False
    except aiomqtt.MqttError:
        return True


async def subscribe_codes(client: aiomqtt.Client, topic: str) -> list[int]:
    granted: Any = await client.subscribe(topic, qos=1)
    return [code.value if isinstance(code, ReasonCode) else int(code) for code in granted]


async def device_with_thing(sta: Any, session: AsyncSession, name: str) -> dict[str, Any]:
    """A device account owning a new Thing, with an API key."""
    ids = await sta.thing(name=name)
    account = await factories.create_account(session, kind="device")
    await service.assign_thing_owner(session, ROOT, ids["thing"], account.username)
    row, key = await accounts.issue_api_key(session, ROOT, username=account.username, name="mqtt")
    await session.flush()
    topic = device_topic(account.username, f"v1.1/Datastreams({ids['datastream']})/Observations")
    return {**ids, "username": account.username, "key": key, "prefix": row.prefix, "topic": topic}


async def stored(session: AsyncSession, datastream: int) -> list[Any]:
    rows = await session.scalars(
        select(m.StaObservation.result_number).where(m.StaObservation.datastream_id == datastream)
    )
    return list(rows)


async def rebuild(session: AsyncSession, settings: Settings) -> dynsec.SyncReport:
    """What ``smartcity sensing mqtt-sync`` does."""
    async with dynsec.Control(settings) as control:
        return await dynsec.sync_all(session, control, settings)


async def test_the_broker_refuses_strangers_and_stores_the_owners_publication(
    sta: Any,
    session: AsyncSession,
    database: Database,
    secured: Settings,
    broker: SecuredBroker,
    relay: Any,  # noqa: F811
) -> None:
    meter = await device_with_thing(sta, session, "水表 一号")
    other = await device_with_thing(sta, session, "水表 二号")
    private = await sta.thing(name="家庭水表")
    await extras.set_visibility(session, ROOT, private["thing"], False)
    await session.flush()
    # A rebuild from the database alone: the broker had none of these clients.
    report = await rebuild(session, secured)
    assert report.accounts[meter["username"]] == "created"
    assert report.accounts[other["username"]] == "created"

    assert await refused_at_connect(broker, meter["username"], meter["key"][:-2] + "xx")
    assert await refused_at_connect(broker, meter["username"], other["key"])
    assert await refused_at_connect(broker, "nobody-here", meter["key"])

    async with (
        running_bridge(secured, database, broker.url, mqtt_standard_create_topics=False) as bridge,
        connected(broker) as reader,
    ):
        entity_topic = f"v1.1/Datastreams({meter['datastream']})/Observations"
        assert await subscribe_codes(reader, entity_topic) == [1]
        # Private: refused to anonymous readers and to devices alike.
        for topic in (
            f"v1.1/Things({private['thing']})",
            f"v1.1/Datastreams({private['datastream']})/Observations",
        ):
            assert await subscribe_codes(reader, topic) == [NOT_AUTHORIZED]
        async with connected(broker, other["username"], other["key"]) as stranger:
            assert await subscribe_codes(stranger, f"v1.1/Things({private['thing']})/#") == [
                NOT_AUTHORIZED
            ]
            # Raw device topics are the bridge's alone.
            assert await subscribe_codes(stranger, "devices/#") == [NOT_AUTHORIZED]
        assert await subscribe_codes(reader, "devices/#") == [NOT_AUTHORIZED]

        refused: list[bytes] = []
        async with connected(broker) as anonymous:
            refused.append(orjson.dumps({"result": 1001}))
            await anonymous.publish(meter["topic"], refused[-1], qos=1)
            refused.append(orjson.dumps({"result": 1002}))
            await anonymous.publish(entity_topic, refused[-1], qos=1)
        async with connected(broker, other["username"], other["key"]) as stranger:
            # In the owner's namespace, and in its own namespace with the owner's Datastream.
            refused.append(orjson.dumps({"result": 1003}))
            await stranger.publish(meter["topic"], refused[-1], qos=1)
            refused.append(orjson.dumps({"result": 1004}))
            await stranger.publish(
                device_topic(
                    other["username"], f"v1.1/Datastreams({meter['datastream']})/Observations"
                ),
                refused[-1],
                qos=1,
            )
            refused.append(orjson.dumps({"result": 1005}))
            await stranger.publish(entity_topic, refused[-1], qos=1)
        async with connected(broker, meter["username"], meter["key"]) as owner:
            good = orjson.dumps({"result": 42, "phenomenonTime": "2026-03-01T00:00:00Z"})
            await owner.publish(meter["topic"], good, qos=1)
            (outcome,) = await arrived(bridge, good)
        assert outcome.reason is None and outcome.observation_id is not None
        # The refused ones were published before the good one and would have come first.
        assert not {o.payload for o in bridge.recent} & set(refused)
        assert await stored(session, meter["datastream"]) == [42]

        await relay()
        async with asyncio.timeout(WAIT):
            message = await anext(aiter(reader.messages))
        body = orjson.loads(bytes(message.payload))  # type: ignore[arg-type]
        # The first thing the reader gets is the server's entity, not a device's raw message.
        assert message.topic.value == entity_topic
        assert body["@iot.id"] == outcome.observation_id
        assert body["@iot.selfLink"].endswith(f"/Observations({outcome.observation_id})")
        assert body["result"] == 42


async def test_a_revoked_key_is_refused_within_seconds(
    sta: Any,
    session: AsyncSession,
    secured: Settings,
    broker: SecuredBroker,
    relay: Any,  # noqa: F811
) -> None:
    async with dynsec.Control(secured) as control:
        await dynsec.sync_shared(session, control, secured)
    meter = await device_with_thing(sta, session, "水表 三号")
    # The key's issue reaches the broker through the bus (after commit), not a rebuild.
    await relay()
    async with connected(broker, meter["username"], meter["key"]) as live:
        await live.subscribe(f"v1.1/Datastreams({meter['datastream']})/Observations", qos=1)
        await accounts.revoke_api_key(session, ROOT, meter["prefix"])
        await session.flush()
        loop = asyncio.get_running_loop()
        revoked_at = loop.time()
        await relay()
        # The live connection is dropped...
        with pytest.raises(aiomqtt.MqttError):
            async with asyncio.timeout(5):
                async for _message in live.messages:
                    pass
    # ...and a new one with the same key is refused.
    async with asyncio.timeout(5):
        for _attempt in itertools.count():
            if await refused_at_connect(broker, meter["username"], meter["key"]):
                break
            await asyncio.sleep(0.05)  # polling the broker, under the deadline above
    assert loop.time() - revoked_at < 5


async def test_a_new_key_replaces_the_password_and_deactivation_disables(
    sta: Any,
    session: AsyncSession,
    secured: Settings,
    broker: SecuredBroker,
    relay: Any,  # noqa: F811
) -> None:
    meter = await device_with_thing(sta, session, "水表 四号")
    await relay()
    assert not await refused_at_connect(broker, meter["username"], meter["key"])
    _row, newer = await accounts.issue_api_key(
        session, ROOT, username=meter["username"], name="rotated"
    )
    await session.flush()
    await relay()
    # The newest key in force is the broker password.
    assert not await refused_at_connect(broker, meter["username"], newer)
    assert await refused_at_connect(broker, meter["username"], meter["key"])
    from smartcity.core.schemas import AccountUpdate

    await accounts.update_account(session, ROOT, meter["username"], AccountUpdate(active=False))
    await session.flush()
    await relay()
    assert await refused_at_connect(broker, meter["username"], newer)


async def test_anonymous_reading_can_be_turned_off(
    session: AsyncSession, secured: Settings, broker: SecuredBroker
) -> None:
    closed = secured.model_copy(update={"mqtt_anonymous_read": False})
    await rebuild(session, closed)
    async with connected(broker) as anonymous:
        assert await subscribe_codes(anonymous, "v1.1/Things") == [NOT_AUTHORIZED]
    await rebuild(session, secured)
    async with connected(broker) as anonymous:
        assert await subscribe_codes(anonymous, "v1.1/Things") == [1]


async def test_a_rebuild_disables_clients_whose_account_is_gone(
    sta: Any, session: AsyncSession, secured: Settings, broker: SecuredBroker
) -> None:
    meter = await device_with_thing(sta, session, "水表 五号")
    await rebuild(session, secured)
    assert not await refused_at_connect(broker, meter["username"], meter["key"])
    account = await session.scalar(select(Account).where(Account.username == meter["username"]))
    await session.delete(account)
    await session.flush()
    assert (
        await session.scalar(
            select(func.count()).select_from(Account).where(Account.username == meter["username"])
        )
        == 0
    )
    report = await rebuild(session, secured)
    assert report.accounts[meter["username"]] == "disabled (account gone)"
    assert await refused_at_connect(broker, meter["username"], meter["key"])


async def test_the_bridge_refuses_a_device_namespace_of_another_owner(
    sta: Any, session: AsyncSession, database: Database, settings: Settings
) -> None:
    """On a broker without ACLs (development) the bridge still writes a device namespace's
    messages as that device: another device's Datastream is a dead letter, not an Observation."""
    meter = await device_with_thing(sta, session, "水表 六号")
    other = await device_with_thing(sta, session, "水表 七号")
    bridge = MqttBridge(settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"}), database)
    wrong = device_topic(other["username"], f"v1.1/Datastreams({meter['datastream']})/Observations")
    outcomes = await bridge.store(
        [
            (wrong, b'{"result": 7}'),
            (meter["topic"], b'{"result": 8}'),
            ("devices/no-such-device/v1.1/Observations", b'{"result": 9}'),
            ("devices/BAD NAME/v1.1/Observations", b'{"result": 10}'),
        ]
    )
    assert outcomes[0].observation_id is None and "own Things" in (outcomes[0].reason or "")
    assert outcomes[1].reason is None and outcomes[1].observation_id is not None
    assert "no active device account" in (outcomes[2].reason or "")
    assert "devices/<account name>" in (outcomes[3].reason or "")
    assert await stored(session, meter["datastream"]) == [8]


async def _seed_device(url: str) -> tuple[str, str]:
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            account = await factories.create_account(session, kind="device")
            _row, key = await accounts.issue_api_key(
                session, ROOT, username=account.username, name="mqtt"
            )
            return account.username, key
    finally:
        await db.dispose()


async def test_the_mqtt_sync_command(tmp_path: Path, secured: Settings, broker: SecuredBroker):
    url = f"sqlite+aiosqlite:///{tmp_path / 'city.db'}"
    assert (
        await asyncio.to_thread(smartcity, "db", "upgrade", "--database-url", url)
    ).exit_code == 0
    username, key = await _seed_device(url)
    assert await refused_at_connect(broker, username, key)
    done = await asyncio.to_thread(smartcity, "sensing", "mqtt-sync", "--database-url", url)
    assert done.exit_code == 0, done.output
    assert f"{username}: created" in done.output
    assert not await refused_at_connect(broker, username, key)
    # A second run changes nothing that would disconnect the device.
    again = await asyncio.to_thread(smartcity, "sensing", "mqtt-sync", "--database-url", url)
    assert f"{username}: updated" in again.output

    configure(secured.model_copy(update={"mqtt_password": SecretStr("wrong")}))
    refused = await asyncio.to_thread(smartcity, "sensing", "mqtt-sync", "--database-url", url)
    assert refused.exit_code == 1 and "the MQTT broker" in refused.output
    configure(secured.model_copy(update={"mqtt_url": ""}))
    unset = await asyncio.to_thread(smartcity, "sensing", "mqtt-sync", "--database-url", url)
    assert unset.exit_code == 2 and "SMARTCITY_MQTT_URL" in unset.output


async def test_an_expired_key_leaves_the_broker_at_the_next_job_run(
    sta: Any,
    session: AsyncSession,
    secured: Settings,
    broker: SecuredBroker,
    relay: Any,  # noqa: F811
) -> None:
    meter = await device_with_thing(sta, session, "水表 八号")
    start = clock.now()
    _row, short = await accounts.issue_api_key(
        session,
        ROOT,
        username=meter["username"],
        name="short",
        expires_at=start + timedelta(hours=1),
    )
    await session.flush()
    await relay()
    assert not await refused_at_connect(broker, meter["username"], short)
    with clock.frozen(start + timedelta(minutes=30)):
        await mqtt_jobs.expire_keys(session)  # nothing expired yet: no change
    assert not await refused_at_connect(broker, meter["username"], short)
    with clock.frozen(start + timedelta(hours=1, minutes=5)):
        await mqtt_jobs.expire_keys(session)
    # The older key, still in force, is the broker password again.
    assert await refused_at_connect(broker, meter["username"], short)
    assert not await refused_at_connect(broker, meter["username"], meter["key"])


async def test_a_rolled_back_key_reaches_no_broker_and_a_first_key_needs_no_rebuild(
    session: AsyncSession,
    secured: Settings,
    broker: SecuredBroker,
    relay: Any,  # noqa: F811
) -> None:
    account = await factories.create_account(session, kind="device")
    await session.flush()
    savepoint = await session.begin_nested()
    _row, lost = await accounts.issue_api_key(session, ROOT, username=account.username, name="lost")
    await savepoint.rollback()
    _row, kept = await accounts.issue_api_key(session, ROOT, username=account.username, name="kept")
    await session.flush()
    await relay()
    assert not await refused_at_connect(broker, account.username, kept)
    assert await refused_at_connect(broker, account.username, lost)


async def test_on_an_open_broker_readers_get_only_the_servers_entities(
    sta: Any,
    session: AsyncSession,
    database: Database,
    settings: Settings,
    private_broker: PrivateBroker,  # noqa: F811
    relay: Any,  # noqa: F811
) -> None:
    """Without authentication (development), the topic design alone keeps raw device messages
    away from the standard topics: the first thing a reader gets is the server's entity. On an
    open broker of this test alone: on the shared one, other tests publish raw payloads."""
    host, port = "127.0.0.1", private_broker.port
    meter = await device_with_thing(sta, session, "水表 九号")
    entity_topic = f"v1.1/Datastreams({meter['datastream']})/Observations"
    async with (
        running_bridge(
            settings, database, private_broker.url, mqtt_standard_create_topics=False
        ) as bridge,
        subscriber(entity_topic, "v1.1/Observations", host=host, port=port) as reader,
        device(host, port) as client,
    ):
        raw = await send(client, meter["topic"], {"result": 77})
        (outcome,) = await arrived(bridge, raw)
        await relay()
        async with asyncio.timeout(WAIT):
            message = await anext(aiter(reader.messages))
    body = orjson.loads(bytes(message.payload))  # type: ignore[arg-type]
    assert body["@iot.id"] == outcome.observation_id
    assert body["@iot.selfLink"].endswith(f"/Observations({outcome.observation_id})")
