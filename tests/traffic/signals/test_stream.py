"""Streaming detectors to sensing: per-interval readings from SUMO edge measurements, the
Thing/Datastream convention, CreateObservations over HTTP and topics over MQTT."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from smartcity.traffic.signals import stream


class FakeEdges:
    """SUMO's edge API over a script of (vehicle ids, mean speed m/s, occupancy %)."""

    def __init__(self, script: dict[str, list[tuple[set[str], float, float]]]) -> None:
        self.script = script
        self.second = 0

    def getLastStepVehicleIDs(self, edge: str) -> list[str]:
        return sorted(self.script[edge][self.second][0])

    def getLastStepMeanSpeed(self, edge: str) -> float:
        return self.script[edge][self.second][1]

    def getLastStepOccupancy(self, edge: str) -> float:
        return self.script[edge][self.second][2]


class FakeConn:
    def __init__(self, edges: FakeEdges) -> None:
        self.edge = edges


def test_readings_count_vehicles_leaving_and_average_speed_and_occupancy() -> None:
    script = {
        "e1": [({"a", "b"}, 10.0, 20.0), ({"b"}, 5.0, 10.0)] * 5,
        "e2": [(set(), 0.0, 0.0)] * 10,
    }
    edges = FakeEdges(script)
    bank = stream.DetectorBank(["e2", "e1", "e1"], interval=10)
    assert bank.edges == ["e1", "e2"]
    for second in range(10):
        edges.second = second
        bank.sample(FakeConn(edges))
    assert bank.due(10) and not bank.due(5)
    e1, e2 = bank.flush()
    # "a" leaves at seconds 1, 3, 5, 7, 9 → 5 vehicles in 10 s = 1800 veh/h
    assert e1 == stream.Reading("e1", 1800.0, 27.0, 15.0)
    assert e2 == stream.Reading("e2", 0.0, None, 0.0)


def test_bad_intervals_and_too_many_detectors_are_refused() -> None:
    with pytest.raises(ValueError, match="interval 5 s"):
        stream.DetectorBank(["e1"], interval=5)
    with pytest.raises(ValueError, match="at most 2000"):
        stream.DetectorBank([f"e{i}" for i in range(2001)])


def test_the_detector_thing_follows_the_traffic_convention() -> None:
    thing = stream.thing_payload("sumo-", "-28198821#3")
    assert thing["name"] == "sumo--28198821#3"
    assert thing["properties"] == {"traffic": {"kind": "loop", "segment": "-28198821#3"}}
    names = [d["name"] for d in thing["Datastreams"]]
    assert names == [
        "sumo--28198821#3:flow",
        "sumo--28198821#3:speed",
        "sumo--28198821#3:occupancy",
    ]
    symbols = [d["unitOfMeasurement"]["symbol"] for d in thing["Datastreams"]]
    assert symbols == ["veh/h", "km/h", "%"]


def test_create_observations_over_http_after_creating_missing_things() -> None:
    requests: list[httpx.Request] = []
    created: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        assert request.headers["Authorization"] == "Bearer key-1"
        if request.method == "GET":
            name = request.url.params["$filter"].split("'")[1]
            if name not in created:
                return httpx.Response(200, json={"value": []})
            streams = [
                {"@iot.id": i + 10, "name": d["name"]}
                for i, d in enumerate(created[name]["Datastreams"])
            ]
            return httpx.Response(200, json={"value": [{"Datastreams": streams}]})
        if request.url.path.endswith("/Things"):
            body = json.loads(request.content)
            created[body["name"]] = body
            return httpx.Response(201)
        groups = json.loads(request.content)
        return httpx.Response(201, json=["url"] * (len(groups) - 1) + ["error"])

    client = httpx.Client(transport=httpx.MockTransport(handler))
    http = stream.HttpPublisher("http://city/", "key-1", client=client)
    with pytest.raises(stream.StreamError, match="--create-things"):
        http.ensure("sumo-", ["e1"], create=False)
    streams = http.ensure("sumo-", ["e1"], create=True)
    assert streams == {"e1:flow": 10, "e1:speed": 11, "e1:occupancy": 12}
    at = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    groups = stream.observation_rows([stream.Reading("e1", 900.0, None, 4.5)], streams, at)
    # no speed when nobody drove: two groups, not three
    assert groups == [
        {
            "Datastream": {"@iot.id": 10},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-12-08T01:00:00Z", 900.0]],
        },
        {
            "Datastream": {"@iot.id": 12},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-12-08T01:00:00Z", 4.5]],
        },
    ]
    assert http.publish(groups) == 1  # one row refused by sensing is not counted
    assert requests[-1].url.path == "/sta/v1.1/CreateObservations"


def test_sensing_refusing_the_batch_is_a_stream_error() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(403, text="no")))
    http = stream.HttpPublisher("http://city", "key-1", client=client)
    with pytest.raises(stream.StreamError, match="CreateObservations: 403"):
        http.publish([{"Datastream": {"@iot.id": 1}, "components": [], "dataArray": []}])


def test_mqtt_topics_are_the_datastreams_under_the_device_namespace() -> None:
    sent: list[tuple[str, bytes]] = []
    mqtt = stream.MqttPublisher(lambda topic, payload: sent.append((topic, payload)), "loop-7")
    group = {"Datastream": {"@iot.id": 5}, "dataArray": [["2026-12-08T01:00:00Z", 30.0]]}
    assert mqtt.publish([group]) == 1
    assert sent == [
        (
            "devices/loop-7/v1.1/Datastreams(5)/Observations",
            b'{"phenomenonTime": "2026-12-08T01:00:00Z", "result": 30.0}',
        )
    ]
