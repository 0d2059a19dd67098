"""Stream a simulation's detectors into sensing, as SensorThings Observations.

Every edge that feeds a signal gets a loop detector (the traffic module's convention,
``smartcity.traffic.types``): a Thing named ``<prefix><edge id>`` with properties
``{"traffic": {"kind": "loop", "segment": "<edge id>"}}`` and three Datastreams,
``<thing>:flow`` (veh/h), ``<thing>:speed`` (km/h) and ``<thing>:occupancy`` (%), told
apart by their ObservedProperty definitions. Each interval (60 simulated seconds by
default) the bridge sends one ``CreateObservations`` request (SensorThings A.6) over HTTP,
or publishes one message per Datastream over MQTT (``v1.1/Datastreams(id)/Observations``,
under the device namespace when a device account is named).

Observation times are the simulated seconds mapped onto ``start`` (the wall clock when the
run began), so the pages show a live-looking feed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

# The traffic module's vocabulary (smartcity/traffic/types.py), repeated here so that this
# sub-package has no import-time dependency on the module that mounts it.
PROPERTIES_KEY = "traffic"
_BASE = "https://smartcity.invalid/def/traffic/"
STREAMS: tuple[tuple[str, str, str, str], ...] = (
    (":flow", f"{_BASE}flow", "vehicles per hour", "veh/h"),
    (":speed", f"{_BASE}speed", "kilometre per hour", "km/h"),
    (":occupancy", f"{_BASE}occupancy", "percent", "%"),
)
MAX_DETECTORS = 2000
MAX_ROWS_PER_REQUEST = 5000


class StreamError(RuntimeError):
    """Sensing refused the detectors or their Observations."""


@dataclass
class EdgeWindow:
    """One detector's counts over the current interval."""

    seen: set[str] = field(default_factory=set)
    passed: int = 0
    speed_sum: float = 0.0
    speed_n: int = 0
    occupancy_sum: float = 0.0
    seconds: int = 0


@dataclass(frozen=True)
class Reading:
    edge: str
    flow: float  # veh/h
    speed: float | None  # km/h; None when nobody drove the edge
    occupancy: float  # %


class DetectorBank:
    """Aggregates SUMO edge measurements second by second into per-interval readings."""

    def __init__(self, edges: Iterable[str], interval: int = 60) -> None:
        if not 10 <= interval <= 3600:
            raise ValueError(f"interval {interval} s: must be 10–3600 s")
        self.edges = sorted(set(edges))
        if len(self.edges) > MAX_DETECTORS:
            raise ValueError(f"{len(self.edges)} detectors: at most {MAX_DETECTORS}")
        self.interval = interval
        self._windows = {edge: EdgeWindow() for edge in self.edges}

    def sample(self, conn: Any) -> None:
        edge_api = conn.edge
        for edge, window in self._windows.items():
            ids = set(edge_api.getLastStepVehicleIDs(edge))
            window.passed += len(window.seen - ids)
            window.seen = ids
            if ids:
                window.speed_sum += float(edge_api.getLastStepMeanSpeed(edge)) * 3.6
                window.speed_n += 1
            window.occupancy_sum += float(edge_api.getLastStepOccupancy(edge))
            window.seconds += 1

    def due(self, elapsed: float) -> bool:
        return elapsed > 0 and round(elapsed) % self.interval == 0

    def flush(self) -> list[Reading]:
        readings = []
        for edge, window in self._windows.items():
            seconds = max(window.seconds, 1)
            readings.append(
                Reading(
                    edge=edge,
                    flow=round(window.passed * 3600 / seconds, 1),
                    speed=round(window.speed_sum / window.speed_n, 1) if window.speed_n else None,
                    occupancy=round(min(100.0, window.occupancy_sum / seconds), 2),
                )
            )
            self._windows[edge] = EdgeWindow(seen=window.seen)
        return readings


def signal_edges(conn: Any) -> list[str]:
    """The edges that feed a signal (the in-lanes of every controlled link)."""
    edges = set()
    for signal in conn.trafficlight.getIDList():
        for connections in conn.trafficlight.getControlledLinks(signal):
            for in_lane, _out, _via in connections:
                if not in_lane.startswith(":"):
                    edges.add(conn.lane.getEdgeID(in_lane))
    return sorted(edges)


def thing_payload(prefix: str, edge: str) -> dict[str, Any]:
    name = f"{prefix}{edge}"
    return {
        "name": name,
        "description": f"SUMO loop detector on edge {edge}",
        "properties": {PROPERTIES_KEY: {"kind": "loop", "segment": edge}},
        "Datastreams": [
            {
                "name": f"{name}{suffix}",
                "description": f"{unit_name} on {edge}",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": unit_name, "symbol": symbol, "definition": ""},
                "ObservedProperty": {
                    "name": suffix.lstrip(":"),
                    "definition": definition,
                    "description": unit_name,
                },
                "Sensor": {
                    "name": "SUMO",
                    "description": "Eclipse SUMO edge measurement",
                    "encodingType": "text/plain",
                    "metadata": "https://eclipse.dev/sumo/",
                },
            }
            for suffix, definition, unit_name, symbol in STREAMS
        ],
    }


def observation_rows(
    readings: Sequence[Reading], streams: dict[str, int], at: datetime
) -> list[dict[str, Any]]:
    """CreateObservations groups: one per Datastream, its row at ``at``."""
    stamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    groups = []
    for reading in readings:
        values = {":flow": reading.flow, ":speed": reading.speed, ":occupancy": reading.occupancy}
        for suffix, value in values.items():
            stream = streams.get(f"{reading.edge}{suffix}")
            if stream is None or value is None:
                continue
            groups.append(
                {
                    "Datastream": {"@iot.id": stream},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[stamp, value]],
                }
            )
    return groups


class Publisher(Protocol):
    def publish(self, groups: list[dict[str, Any]]) -> int: ...


class HttpPublisher:
    """SensorThings over HTTP: Things looked up by name (created when allowed), then
    ``POST CreateObservations`` per interval."""

    def __init__(self, base_url: str, token: str, *, client: httpx.Client | None = None) -> None:
        self.base = base_url.rstrip("/") + "/sta/v1.1"
        self.client = client or httpx.Client(timeout=30.0)
        self.client.headers["Authorization"] = f"Bearer {token}"

    def _thing_streams(self, name: str) -> dict[str, int] | None:
        escaped = name.replace("'", "''")
        response = self.client.get(
            f"{self.base}/Things",
            params={"$filter": f"name eq '{escaped}'", "$expand": "Datastreams($select=id,name)"},
        )
        if response.status_code != 200:
            raise StreamError(f"GET Things: {response.status_code} {response.text[:200]}")
        things = response.json().get("value", [])
        if not things:
            return None
        return {d["name"]: int(d["@iot.id"]) for d in things[0].get("Datastreams", [])}

    def ensure(self, prefix: str, edges: Iterable[str], *, create: bool) -> dict[str, int]:
        """``"<edge>:flow"`` etc. → Datastream id, for every edge."""
        found: dict[str, int] = {}
        for edge in edges:
            name = f"{prefix}{edge}"
            streams = self._thing_streams(name)
            if streams is None:
                if not create:
                    raise StreamError(f"no Thing {name!r} in sensing (run with --create-things)")
                response = self.client.post(f"{self.base}/Things", json=thing_payload(prefix, edge))
                if response.status_code != 201:
                    raise StreamError(
                        f"POST Things {name}: {response.status_code} {response.text[:200]}"
                    )
                streams = self._thing_streams(name) or {}
            for suffix, *_ in STREAMS:
                if f"{name}{suffix}" in streams:
                    found[f"{edge}{suffix}"] = streams[f"{name}{suffix}"]
        return found

    def publish(self, groups: list[dict[str, Any]]) -> int:
        sent = 0
        for start in range(0, len(groups), MAX_ROWS_PER_REQUEST):
            chunk = groups[start : start + MAX_ROWS_PER_REQUEST]
            response = self.client.post(f"{self.base}/CreateObservations", json=chunk)
            if response.status_code != 201:
                raise StreamError(
                    f"CreateObservations: {response.status_code} {response.text[:200]}"
                )
            sent += sum(1 for url in response.json() if url != "error")
        return sent


class MqttPublisher:
    """SensorThings over MQTT: one message per Observation on the Datastream's topic."""

    def __init__(self, send: Callable[[str, bytes], None], device: str | None = None) -> None:
        self.send = send
        self.device = device

    def publish(self, groups: list[dict[str, Any]]) -> int:
        sent = 0
        for group in groups:
            stream = group["Datastream"]["@iot.id"]
            topic = f"v1.1/Datastreams({stream})/Observations"
            if self.device:
                topic = f"devices/{self.device}/{topic}"
            for stamp, value in group["dataArray"]:
                self.send(topic, json.dumps({"phenomenonTime": stamp, "result": value}).encode())
                sent += 1
        return sent


class SimulationFeed:
    """The ``on_second`` hook of :func:`smartcity.traffic.signals.sumo.run`."""

    def __init__(
        self,
        bank: DetectorBank,
        publisher: Publisher,
        streams: dict[str, int],
        *,
        begin: float,
        start: datetime,
        on_publish: Callable[[float, int], None] | None = None,
    ) -> None:
        self.bank = bank
        self.publisher = publisher
        self.streams = streams
        self.begin = begin
        self.start = start
        self.on_publish = on_publish
        self.sent = 0

    def __call__(self, now: float, conn: Any) -> None:
        self.bank.sample(conn)
        if self.bank.due(now - self.begin):
            at = self.start + timedelta(seconds=now - self.begin)
            rows = observation_rows(self.bank.flush(), self.streams, at)
            if rows:
                count = self.publisher.publish(rows)
                self.sent += count
                if self.on_publish is not None:
                    self.on_publish(now, count)
