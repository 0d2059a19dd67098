"""The portal (门户): signing in with TOTP, one's account and inbox, and the administrators'
pages for accounts, departments and the working-day calendar, over core's services."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.core import registration
from smartcity.core.i18n import N_
from smartcity.core.module import ExtensionPoint, Module, NavItem
from smartcity.portal import home, identity, pages
from smartcity.web.home import HOME_PANELS

# Unified identity sign-in and enterprise registration have their own file of pages.
_pages = APIRouter(include_in_schema=False)
_pages.include_router(pages.router)
_pages.include_router(identity.router)

MODULE = Module(
    name="portal",
    pages=_pages,
    # the population registry declares how self-registration checks a person (实名)
    extension_points=(
        ExtensionPoint(
            accepts=registration.PersonRegistry, install=registration.install_person_registry
        ),
        # the legal-entity registry declares how enterprise registration checks the
        # legal representative (法人注册)
        ExtensionPoint(
            accepts=registration.EnterpriseRegistry,
            install=registration.install_enterprise_registry,
        ),
        # the panels of the home page (web.home; web/ is no module of its own)
        HOME_PANELS,
    ),
    extends=(home.MESSAGES_PANEL,),
    nav=[
        NavItem("/admin/accounts", N_("Accounts"), frozenset({"admin", "security"})),
        NavItem("/admin/departments", N_("Departments"), frozenset({"admin"})),
        NavItem("/admin/calendar", N_("Working-day calendar"), frozenset({"admin"})),
    ],
)
