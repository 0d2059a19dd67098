"""The sensing engine (物联感知): every sensor of the city reports here through the OGC
SensorThings API v1.1 (HTTP now; MQTT next). See docs/sensing.md."""

from __future__ import annotations

from smartcity.core.module import Job, Module
from smartcity.sensing import api, partitions, service

MODULE = Module(
    name="sensing",
    router=api.router,
    actions=dict(service.ACTIONS),
    jobs=[Job("sensing.observation_partitions", 6 * 3600, partitions.ensure_partitions)],
)
