"""The case engine (办件引擎): declared case types, clocks in working days, queues, timeline."""

from __future__ import annotations

from smartcity.cases import api, clocks, service
from smartcity.core.module import Handler, Job, Module
from smartcity.core.workdays import YEAR_ENTERED_TOPIC

MODULE = Module(
    name="cases",
    router=api.router,
    actions=dict(service.ACTIONS),
    jobs=[Job("cases.warning_sweep", 60, clocks.warning_sweep_job)],
    handlers=[Handler("cases.recompute_provisional", YEAR_ENTERED_TOPIC, clocks.on_year_entered)],
)
