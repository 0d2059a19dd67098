"""Environment (生态环境): air quality by China's ambient air quality index (环境空气质量指数).

``aqi`` computes the index of HJ 633 (both the 2012 and the 2026 edition, chosen by the date
of the data); ``reports`` turns series of hourly concentrations into the real-time (实时报)
and daily (日报) reports with the data validity rules of GB 3095-2012 and HJ 663-2013. Both
are pure functions over numbers. ``compute`` feeds them from the air stations' Observations
in the sensing engine (through ``sensing.contract`` only) and stores the reports back as AQI
Observations (a job every five minutes); ``alert_rules`` declares the sensing rules that
raise alerts at the category thresholds; ``api`` and ``pages`` publish it
(/api/v1/environment/air, /air). See docs/environment.md.
"""

from __future__ import annotations

from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.environment import api, home, pages
from smartcity.environment.alert_rules import DECLARED_RULES
from smartcity.environment.cli import cli
from smartcity.environment.handlers import HANDLERS
from smartcity.environment.jobs import JOBS

ACTIONS: dict[str, frozenset[str]] = {
    # Computing and storing the reports: the platform's job and administrators (CLI, demo).
    "environment.air.compute": frozenset({"admin", "system"}),
    "environment.air.alert_rules": frozenset({"admin", "system"}),
}

MODULE = Module(
    name="environment",
    router=api.router,
    pages=pages.router,
    actions=ACTIONS,
    jobs=JOBS,
    handlers=HANDLERS,
    cli=cli,
    nav=[NavItem("/air", N_("Air quality"))],
    # the AQI alert rules, made by the sensing engine (sensing.contract.DeclaredRule)
    # and the air now on the home page (web.home)
    extends=(*DECLARED_RULES, home.AIR_PANEL),
)
