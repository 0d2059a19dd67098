"""Online service hall (网上办事大厅): service items, online applications on the case engine,
licences, notifications and ratings."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.services import (
    api,
    licence_api,
    licence_pages,
    licences,
    pages,
    seed,
    service,
    subscriptions,
    types,
)
from smartcity.services.application import access, panel, submission

# Importing submission and panel registers the application's transition hook and case panel.
__all__ = ["MODULE", "panel", "seed", "submission", "types"]

_router = APIRouter()
_router.include_router(api.router)
_router.include_router(licence_api.router)
_pages = APIRouter()
_pages.include_router(pages.router)
_pages.include_router(licence_pages.router)

MODULE = Module(
    name="services",
    router=_router,
    pages=_pages,
    actions=dict(service.ACTIONS) | access.ACTIONS | licences.ACTIONS | subscriptions.ACTIONS,
    nav=[
        NavItem("/services", N_("Online services")),
        NavItem("/my/applications", N_("My applications"), frozenset({"citizen", "enterprise"})),
        NavItem("/my/licences", N_("My licences"), frozenset({"citizen", "enterprise"})),
    ],
)
