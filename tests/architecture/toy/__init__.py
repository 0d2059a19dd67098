"""A toy domain for tests/architecture/test_toy_domain.py: a case type with a hook, a sensing
rule and a page, all in this folder and declared in its MODULE, so adding it to the platform
is one line in ``modules()``."""

from __future__ import annotations

from smartcity.cases.contract import OnTransition
from smartcity.core.module import Module
from smartcity.sensing.contract import ABOVE, THRESHOLD, DeclaredRule
from tests.architecture.toy import hooks, pages, types

MODULE = Module(
    name="toy",
    pages=pages.router,
    extends=(
        types.PERMIT,
        OnTransition("toy.tell_applicant", types.NAME, hooks.tell_applicant),
        # every Datastream of the toy's water level, in every city: an alert above 9 m
        DeclaredRule(
            observed_property=types.WATER_LEVEL,
            kind=THRESHOLD,
            params={"op": ABOVE, "value": 9.0},
            name="玩具水位超过9米",
            severity="critical",
        ),
    ),
    # outside the smartcity package: where app.py finds its templates/
    extra={"package": "tests.architecture.toy"},
)
