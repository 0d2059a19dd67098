"""Online service hall (网上办事大厅): service items, online applications on the case engine,
licences, notifications and ratings.

Everything it adds to the platform is declared here: the application case type, its
transition hooks in their order, the case panel, the board's category names, actions and
rules, routers, pages and the service items as reference data."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.cases.contract import CasePanel, CategoryNames, OnRead, OnTransition
from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem, Seeder
from smartcity.services import (
    api,
    home,
    licence_api,
    licence_pages,
    licences,
    notices,
    pages,
    seed,
    service,
    subscriptions,
)
from smartcity.services.application import access, panel, submission
from smartcity.services.types import APPLICATION, BASE_NAME

_router = APIRouter()
_router.include_router(api.router)
_router.include_router(licence_api.router)
_pages = APIRouter()
_pages.include_router(pages.router)
_pages.include_router(licence_pages.router)

ISSUE_LICENCE = "services.licence.issue"
FLAG_NOT_ACCEPTED = "services.application.flag_qualifying_not_accepted"
NOTIFY_APPLICANT = "services.notice.notify_applicant"

MODULE = Module(
    name="services",
    router=_router,
    pages=_pages,
    actions=dict(service.ACTIONS) | access.ACTIONS | licences.ACTIONS | subscriptions.ACTIONS,
    rules=access.RULES | licences.RULES,
    nav=[
        NavItem("/services", N_("Online services")),
        NavItem("/my/applications", N_("My applications"), frozenset({"citizen", "enterprise"})),
        NavItem("/my/licences", N_("My licences"), frozenset({"citizen", "enterprise"})),
    ],
    extends=(
        APPLICATION,
        OnTransition(ISSUE_LICENCE, BASE_NAME, licences.issue_on_approval),
        # The approval notice gives the licence number, so it follows the issue.
        OnTransition(NOTIFY_APPLICANT, BASE_NAME, notices.notify_applicant, after=(ISSUE_LICENCE,)),
        OnTransition(FLAG_NOT_ACCEPTED, BASE_NAME, submission.flag_qualifying_not_accepted),
        CasePanel(BASE_NAME, panel.case_panel),
        # the case engine's API shows the same prefilled data as the panel: logged alike
        OnRead(BASE_NAME, panel.log_api_reads),
        CategoryNames(service.item_names),
        # the search box, one's matters and the popular services on the home page
        *home.HOME_PANELS,
    ),
    reference_data=(Seeder("services.items", seed.seed_service_items),),
)
