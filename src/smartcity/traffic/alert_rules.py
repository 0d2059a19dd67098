"""Declared sensing rules on the traffic detectors (交通告警规则): a detector's speed under
5 km/h (a standing queue, 停滞) raises a warning on the sensing engine's alert page, notifying
the traffic police (交警, department code JTJ) when that department exists. Per segment and
per minute the minute job adds its own events (events.py): severe congestion for ten minutes
and a sudden speed drop, a possible incident."""

from __future__ import annotations

from smartcity.sensing import contract as sensing
from smartcity.sensing.contract import DeclaredRule
from smartcity.traffic.types import SPEED_DEFINITION

DEPARTMENT_CODE = "JTJ"
STANDSTILL_KMH = 5.0
HYSTERESIS = 5.0

DECLARED_RULES = (
    DeclaredRule(
        observed_property=SPEED_DEFINITION,
        kind=sensing.THRESHOLD,
        params={"op": sensing.BELOW, "value": STANDSTILL_KMH, "hysteresis": HYSTERESIS},
        name="路段车速低于5公里/小时（交通停滞）",
        severity="warning",
        department_code=DEPARTMENT_CODE,
    ),
)
