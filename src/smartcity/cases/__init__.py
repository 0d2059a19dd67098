"""The case engine (办件引擎): declared case types, clocks in working days, queues, timeline,
staff pages and electronic supervision (电子监察)."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.cases import (
    api,
    cli,
    clocks,
    flags,
    pages,
    service,
    supervision_api,
    supervision_pages,
)
from smartcity.core.module import Handler, Job, Module
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
    jobs=[Job("cases.warning_sweep", 60, clocks.warning_sweep_job)],
    handlers=[Handler("cases.recompute_provisional", YEAR_ENTERED_TOPIC, clocks.on_year_entered)],
    cli=cli.cli,
    nav=[pages.NAV, supervision_pages.NAV],
)
