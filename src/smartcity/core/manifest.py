"""The foundation as a module: its routers, pages, actions, jobs and menu entries."""

from __future__ import annotations

from smartcity.core import accounts, api, pages, signatures
from smartcity.core.i18n import N_
from smartcity.core.module import Job, Module, NavItem

MODULE = Module(
    name="core",
    router=api.router,
    pages=pages.router,
    actions={k: frozenset(v) for k, v in (accounts.ACTIONS | signatures.ACTIONS).items()},
    jobs=[Job("core.sessions.expire", 600, accounts.expire_web_sessions)],
    nav=[
        NavItem("/admin/accounts", N_("Accounts"), frozenset({"admin", "security"})),
        NavItem("/admin/departments", N_("Departments"), frozenset({"admin"})),
        NavItem("/admin/calendar", N_("Working-day calendar"), frozenset({"admin"})),
    ],
)
