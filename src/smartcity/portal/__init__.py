"""The portal (门户): signing in with TOTP, one's account and inbox, and the administrators'
pages for accounts, departments and the working-day calendar, over core's services."""

from __future__ import annotations

from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.portal import pages

MODULE = Module(
    name="portal",
    pages=pages.router,
    nav=[
        NavItem("/admin/accounts", N_("Accounts"), frozenset({"admin", "security"})),
        NavItem("/admin/departments", N_("Departments"), frozenset({"admin"})),
        NavItem("/admin/calendar", N_("Working-day calendar"), frozenset({"admin"})),
    ],
)
