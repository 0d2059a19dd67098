"""Back-pressure of ingestion: the HTTP gate (503 + Retry-After when saturated, admitted
again after a release, nothing accepted lost) and the MQTT bridge's bound on unacknowledged
messages (a slow writer stops the reading)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.sensing.mqtt.bridge import MqttBridge, Outcome
from smartcity.sensing.sta import backpressure
from smartcity.settings import Settings
from tests.sensing.factories import Sta, caller


@pytest.fixture
def tight(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(settings, "sta_ingest_max_requests", 2)
    monkeypatch.setattr(settings, "sta_ingest_wait_seconds", 0.0)
    monkeypatch.setattr(settings, "sta_ingest_retry_after_seconds", 7.0)
    return settings


async def _fill(gate: backpressure.Gate, places: int) -> list[Any]:
    """Take ``places`` places of the gate as requests in flight would."""
    held = [gate.admit() for _ in range(places)]
    for cm in held:
        await cm.__aenter__()
    return held


async def _release(held: list[Any]) -> None:
    for cm in held:
        await cm.__aexit__(None, None, None)


def _observation(ds: int, value: float) -> dict[str, Any]:
    return {"Datastream": {"@iot.id": ds}, "result": value}


async def test_saturated_gate_answers_503_then_admits_after_release(
    client: httpx.AsyncClient, session: AsyncSession, tight: Settings
) -> None:
    _account, headers = await caller(session, "system")
    sta = Sta(client, headers)
    ds = (await sta.thing())["datastream"]
    assert (await sta.post("Observations", _observation(ds, 1))).status_code == 201

    gate = backpressure.gate()
    held = await _fill(gate, 2)
    for path, body in (
        ("Observations", _observation(ds, 2)),
        (f"Datastreams({ds})/Observations", {"result": 3}),
        (
            "CreateObservations",
            [
                {
                    "Datastream": {"@iot.id": ds},
                    "components": ["result"],
                    "dataArray": [[4], [5]],
                }
            ],
        ),
    ):
        refused = await sta.post(path, body)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "7"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/ingestion-overloaded")
    # Reading and writing other entities are not gated.
    assert (await sta.get(f"Datastreams({ds})/Observations")).status_code == 200
    assert (
        await sta.post(
            "Sensors",
            {"name": "s", "description": "d", "encodingType": "text/plain", "metadata": "m"},
        )
    ).status_code == 201
    await _release(held)

    assert (await sta.post("Observations", _observation(ds, 6))).status_code == 201
    results = await sta.json(f"Datastreams({ds})/Observations", **{"$orderby": "id"})
    # The one accepted before and the one after; nothing of the refused ones.
    assert [o["result"] for o in results["value"]] == [1, 6]
    assert gate.active == 0


async def test_batch_with_observations_is_gated(
    client: httpx.AsyncClient, session: AsyncSession, tight: Settings
) -> None:
    _account, headers = await caller(session, "system")
    body = (
        "--b\r\nContent-Type: application/http\r\n\r\n"
        "POST /sta/v1.1/Observations HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
        '{"Datastream": {"@iot.id": 1}, "result": 1}\r\n--b--\r\n'
    )
    held = await _fill(backpressure.gate(), 2)
    response = await client.post(
        "/sta/v1.1/$batch",
        content=body,
        headers={**headers, "Content-Type": "multipart/mixed; boundary=b"},
    )
    await _release(held)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"


async def test_a_waiting_request_is_admitted_when_a_place_frees(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tight: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _account, headers = await caller(session, "system")
    sta = Sta(client, headers)
    ds = (await sta.thing())["datastream"]
    monkeypatch.setattr(tight, "sta_ingest_wait_seconds", 30.0)
    gate = backpressure.gate()
    held = await _fill(gate, 2)
    pending = asyncio.create_task(sta.post("Observations", _observation(ds, 9)))
    async with asyncio.timeout(10):
        await gate.wait_until(lambda g: g.waiting == 1)
    assert not pending.done()
    await _release(held[:1])
    response = await asyncio.wait_for(pending, 10)
    await _release(held[1:])
    assert response.status_code == 201, response.text


async def test_gate_never_admits_more_than_the_limit(tight: Settings) -> None:
    gate = backpressure.gate()
    most = 0
    release = asyncio.Event()

    async def request() -> None:
        nonlocal most
        async with gate.admit():
            most = max(most, gate.active)
            await release.wait()

    tight.sta_ingest_wait_seconds = 30.0
    tasks = [asyncio.create_task(request()) for _ in range(5)]
    async with asyncio.timeout(10):
        await gate.wait_until(lambda g: g.active == 2 and g.waiting == 3)
    release.set()
    await asyncio.gather(*tasks)
    assert most == 2 and gate.active == 0 and gate.waiting == 0


# --- MQTT: the bridge holds at most mqtt_max_inflight unacknowledged messages -------------


class FakeMessage:
    def __init__(self, mid: int) -> None:
        self.mid, self.qos = mid, 1
        self.topic = type("T", (), {"value": "v1.1/Datastreams(1)/Observations"})()
        self.payload = b'{"result": %d}' % mid


class FakeQueue:
    """aiomqtt's Client.messages: what the client already received, and an iterator."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[FakeMessage] = asyncio.Queue()
        self.pulled = 0

    def __len__(self) -> int:
        return self.items.qsize()

    def __aiter__(self) -> FakeQueue:
        return self

    async def __anext__(self) -> FakeMessage:
        message = await self.items.get()
        self.pulled += 1
        return message


class FakeClient:
    def __init__(self) -> None:
        self.messages = FakeQueue()
        self.acked: list[int] = []
        outer = self

        class Paho:
            def ack(self, mid: int, qos: int) -> None:
                outer.acked.append(mid)

        self._client = Paho()


class SlowBridge(MqttBridge):
    """The bridge with a writer that waits for the test's go."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, db=None)  # type: ignore[arg-type]
        self.batches: list[int] = []
        self.writing = asyncio.Event()
        self.go = asyncio.Event()

    async def store(self, messages: list[tuple[str, bytes]]) -> list[Outcome]:
        self.batches.append(len(messages))
        self.writing.set()
        await self.go.wait()
        self.go.clear()
        self.writing.clear()
        return [Outcome(t, p, 1, None) for t, p in messages]


@pytest.fixture
def mqtt_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(settings, "mqtt_url", "mqtt://127.0.0.1:1")
    monkeypatch.setattr(settings, "mqtt_max_inflight", 4)
    return settings


@pytest.fixture
async def consuming(mqtt_settings: Settings) -> AsyncIterator[tuple[SlowBridge, FakeClient]]:
    bridge = SlowBridge(mqtt_settings)
    client = FakeClient()
    task = asyncio.create_task(bridge._consume(client))  # type: ignore[arg-type]
    yield bridge, client
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_slow_writer_stops_the_reading_at_the_bound(
    consuming: tuple[SlowBridge, FakeClient],
) -> None:
    bridge, client = consuming
    for mid in range(1, 11):  # ten messages already received, bound 4
        client.messages.items.put_nowait(FakeMessage(mid))
    async with asyncio.timeout(10):
        await bridge.writing.wait()
        # The writer is stuck: the bridge took the bound and no more, acknowledged nothing.
        assert client.messages.pulled == 4 and bridge.batches == [4]
        assert client.acked == [] and bridge.unacked == 4
        bridge.go.set()
        await bridge.wait_for(lambda outcomes: len(outcomes) >= 4)
        assert client.acked == [1, 2, 3, 4]
        await bridge.writing.wait()
        assert client.messages.pulled == 8 and bridge.unacked == 4
        bridge.go.set()
        await bridge.wait_for(lambda outcomes: len(outcomes) >= 8)
        await bridge.writing.wait()
        bridge.go.set()
        await bridge.wait_for(lambda outcomes: len(outcomes) >= 10)
    assert bridge.batches == [4, 4, 2]
    assert client.acked == list(range(1, 11)) and bridge.unacked == 0


def test_the_bound_is_announced_to_the_broker(mqtt_settings: Settings) -> None:
    bridge = MqttBridge(mqtt_settings, db=None)  # type: ignore[arg-type]
    assert bridge.connect_properties().ReceiveMaximum == 4  # type: ignore[attr-defined]
