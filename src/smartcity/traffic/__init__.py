"""Smart traffic (智能交通): road segments and their detectors, the road state per minute,
the traffic performance index (交通运行指数), published feeds and pages, and short-term
forecasts.

``types`` is the vocabulary shared with the signals sub-package and the simulator; ``index``
the TPI and levels (pure); ``netimport`` the SUMO and GeoJSON importers (pure); ``state`` the
minute job over the detectors' readings (through ``sensing.contract``); ``feeds`` and
``api`` the public feeds; ``forecast`` the baselines and the model. See docs/traffic.md."""

from __future__ import annotations

from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.traffic import api, demo, forecast, pages, service
from smartcity.traffic.alert_rules import DECLARED_RULES
from smartcity.traffic.cli import cli
from smartcity.traffic.handlers import HANDLERS
from smartcity.traffic.jobs import JOBS

MODULE = Module(
    name="traffic",
    router=api.router,
    pages=pages.router,
    actions=dict(service.ACTIONS),
    jobs=JOBS,
    handlers=HANDLERS,
    cli=cli,
    nav=[NavItem("/traffic", N_("Traffic"))],
    extends=DECLARED_RULES,
    # the demo detectors' readings while the demo serves (only with SMARTCITY_SIMULATE_FEED)
    # and the forecasts' evaluation, made once at start-up off the event loop
    tasks=[demo.feed_task, forecast.warm],
)
