"""The 12345 citizen hotline (政务服务便民热线): work orders (工单) received by phone or on the
web, dispatched, handled, answered, called back and rated, on the case engine.

Everything it adds to the platform is declared here: the work order case type, the caller's
notices as a transition hook, actions, routers, pages, the portal links and the CLI group."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.cases.contract import CasePanel, OnTransition
from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.hotline import api, extension, notices, pages, panel, service
from smartcity.hotline.cli import cli
from smartcity.hotline.insight import board as insight_board
from smartcity.hotline.open311 import OPEN311_UPDATES
from smartcity.hotline.open311 import api as open311_api
from smartcity.hotline.routing import duplicates
from smartcity.hotline.routing import models as routing_models  # noqa: F401  (its tables)
from smartcity.hotline.routing import service as routing
from smartcity.hotline.types import BASE_NAME, ORDER

GUARD_STEPS = "hotline.order.only_through_the_hotline"
NOTIFY_CALLER = "hotline.notice.notify_caller"
ANSWER_MERGED = "hotline.routing.answer_merged"

# The order's routes, those of 延期 (hotline/extension.py) and Open311 at /open311/v2
# (hotline/open311/, docs/hotline.md).
_router = APIRouter()
_router.include_router(api.router)
_router.include_router(extension.api_router)
_router.include_router(open311_api.router)

MODULE = Module(
    name="hotline",
    router=_router,
    pages=pages.router,
    nav=[
        NavItem("/hotline/report", N_("Report a problem")),
        NavItem("/my/requests", N_("My requests"), frozenset({"citizen"})),
        NavItem("/hotline/desk", N_("12345 work orders"), frozenset({"staff"})),
    ],
    actions={**service.ACTIONS, **extension.ACTIONS, **routing.ACTIONS},
    cli=cli,
    extends=(
        ORDER,
        OnTransition(GUARD_STEPS, BASE_NAME, service.only_through_the_hotline),
        OnTransition(NOTIFY_CALLER, BASE_NAME, notices.notify_caller, after=(GUARD_STEPS,)),
        OnTransition(ANSWER_MERGED, BASE_NAME, duplicates.answer_merged, after=(NOTIFY_CALLER,)),
        CasePanel(BASE_NAME, panel.case_panel),
        OPEN311_UPDATES,
        insight_board.BOARD_PANEL,
    ),
)
