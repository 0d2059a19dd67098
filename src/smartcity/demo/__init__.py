"""The demo city (演示城市): what ``smartcity demo`` seeds and runs, out of the engines and
domains, seeding through their contracts.

- ``sensing``: the simulated city of sensors (district gateways, air stations, traffic
  detectors, water meters) with their history;
- ``air``: the air quality of that history (alert rules, reports);
- ``simulate``, ``simulate_profiles``, ``simulate_load``: the simulated devices' feed, their
  value profiles and ``smartcity sensing simulate``.

``MODULE`` runs the feed while the demo serves (only with SMARTCITY_SIMULATE_FEED).
"""

from __future__ import annotations

from smartcity.core.module import Module
from smartcity.demo.simulate import run_demo_feed

MODULE = Module(
    name="demo",
    # The simulated city feed (only with SMARTCITY_SIMULATE_FEED, as `smartcity demo` sets).
    tasks=[run_demo_feed],
)
