"""Topics the traffic module publishes (交通事件). The emergency domain consumes
``traffic.incident.suspected``; the payload keys and their formats must not change.

- ``traffic.incident.suspected``: a segment's speed fell below half of its last five
  minutes' mean, and by at least 20 km/h, within one minute (可能发生事故);
- ``traffic.congestion.severe``: a segment has been 严重拥堵 (TPI ≥ 8) for ten minutes."""

from __future__ import annotations

from smartcity.core.bus import Payload, Topic
from smartcity.traffic.types import CONGESTION_TOPIC, INCIDENT_TOPIC


class SuspectedIncident(Payload):
    segment: str  # the segment code
    minute: str  # ISO 8601 UTC, the minute's start
    speed_kmh: float
    baseline_kmh: float
    district: str  # 行政区划代码, "" when unknown


class SevereCongestion(Payload):
    segment: str
    minute: str
    minutes: int
    tpi: float
    speed_kmh: float
    district: str


SUSPECTED_INCIDENT = Topic(INCIDENT_TOPIC, SuspectedIncident)
SEVERE_CONGESTION = Topic(CONGESTION_TOPIC, SevereCongestion)
