"""The bridge's publisher of updates (A.8): a window of QoS 1 publications in flight at
once, in queue order, and nothing dropped from the queue until the broker has it."""

from __future__ import annotations

import asyncio

import pytest

from smartcity.sensing.mqtt import bridge as mqtt
from smartcity.sensing.mqtt.bridge import MqttBridge
from smartcity.settings import Settings


class Broker:
    """A fake client: records publications and refuses the n-th one (which ends the loop,
    as a lost connection does). The PUBACKs of the first ``hold`` publications come back
    only once all of them are out, which proves they were in flight together."""

    def __init__(self, *, fail_at: int, hold: int = 0) -> None:
        self.sent: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_at = fail_at
        self.hold = hold
        self.release = asyncio.Event()

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        assert qos == 1
        if len(self.sent) == self.fail_at:
            raise ConnectionError("broker gone")
        self.sent.append(topic)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if len(self.sent) >= self.hold:
            self.release.set()
        await self.release.wait()
        self.in_flight -= 1


@pytest.fixture
def bridge(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> MqttBridge:
    monkeypatch.setattr(settings, "mqtt_url", "mqtt://127.0.0.1:1")
    monkeypatch.setattr(mqtt, "PUBLISH_WINDOW", 50)
    return MqttBridge(settings, db=None)  # type: ignore[arg-type]


async def test_publishes_in_order_with_a_window_in_flight(bridge: MqttBridge) -> None:
    topics = [f"v1.1/Observations({i})" for i in range(120)]
    bridge.outgoing.extend((t, b"{}") for t in [*topics, "last"])
    # Windows of 50, 50 and 21; the 121st publication fails, so the loop ends there.
    broker = Broker(fail_at=120, hold=50)
    with pytest.raises(ConnectionError):
        await bridge._publish_loop(broker)  # type: ignore[arg-type]
    assert broker.most_in_flight == 50  # a whole window before the first PUBACK
    assert broker.sent == topics  # in queue order
    # The two acknowledged windows left the queue; the failed one stays, whole, to be sent
    # again on the next connection.
    assert [t for t, _p in bridge.outgoing] == [*topics[100:], "last"]


async def test_a_refused_first_publication_keeps_everything(bridge: MqttBridge) -> None:
    bridge.outgoing.extend((f"t/{i}", b"{}") for i in range(30))
    with pytest.raises(ConnectionError):
        await bridge._publish_loop(Broker(fail_at=0))  # type: ignore[arg-type]
    assert len(bridge.outgoing) == 30
