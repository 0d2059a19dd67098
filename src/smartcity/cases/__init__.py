"""The case engine (办件引擎): declared case types, clocks in working days, queues, timeline,
staff pages and electronic supervision (电子监察).

Its extension points: other modules list ``CaseType``s, ``OnTransition`` hooks, ``CasePanel``s,
``OnRead`` hooks, ``BoardPanel``s and ``CategoryNames`` in their ``MODULE.extends`` (all
importable from ``cases.contract``)."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.cases import (
    api,
    cli,
    clocks,
    flags,
    handlers,
    home,
    hooks,
    pages,
    service,
    supervision,
    supervision_api,
    supervision_pages,
    types,
)
from smartcity.core.module import ExtensionPoint, Handler, Job, Module
from smartcity.core.workdays import YEAR_ENTERED_TOPIC

_router = APIRouter()
_router.include_router(api.router)
_router.include_router(supervision_api.router)
_pages = APIRouter()
_pages.include_router(pages.router)
_pages.include_router(supervision_pages.router)

MODULE = Module(
    name="cases",
    router=_router,
    pages=_pages,
    actions=service.ACTIONS | flags.ACTIONS,
    rules=dict(service.RULES),
    jobs=[Job("cases.warning_sweep", 60, clocks.warning_sweep_job)],
    handlers=[Handler("cases.recompute_provisional", YEAR_ENTERED_TOPIC, handlers.on_year_entered)],
    cli=cli.cli,
    nav=[pages.NAV, supervision_pages.NAV],
    # the desk's counts on the home page of staff (web.home)
    extends=(home.DESK_PANEL,),
    extension_points=(
        ExtensionPoint(types.CaseType, types.install_case_types),
        ExtensionPoint(hooks.OnTransition, hooks.install_hooks),
        ExtensionPoint(hooks.CasePanel, hooks.install_panels),
        ExtensionPoint(hooks.OnRead, hooks.install_read_hooks),
        ExtensionPoint(hooks.BoardPanel, hooks.install_board_panels),
        ExtensionPoint(supervision.CategoryNames, supervision.install_category_names),
    ),
)
