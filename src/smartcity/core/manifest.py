"""The foundation as a module: its routers, pages, actions, jobs and menu entries."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.core import (
    accounts,
    api,
    backup,
    checkpoints,
    notification_api,
    notification_pages,
    notifications,
    pages,
    signatures,
)
from smartcity.core.i18n import N_
from smartcity.core.module import Job, Module, NavItem

# The inbox has its own full-path router; api.router carries the /api/v1 prefix, so it is
# mounted beside it rather than inside.
_router = APIRouter()
_router.include_router(api.router)
_router.include_router(notification_api.router)
pages.router.include_router(notification_pages.router)

MODULE = Module(
    name="core",
    router=_router,
    pages=pages.router,
    actions={
        k: frozenset(v)
        for k, v in (accounts.ACTIONS | signatures.ACTIONS | notifications.ACTIONS).items()
    },
    jobs=[
        Job("core.sessions.expire", 600, accounts.expire_web_sessions),
        # Each runs often and acts only when its own interval setting says one is due.
        Job("core.chains.checkpoint", 60, checkpoints.run_checkpoint_job),
        Job("core.backup.scheduled", 300, backup.run_backup_job),
    ],
    nav=[
        NavItem("/admin/accounts", N_("Accounts"), frozenset({"admin", "security"})),
        NavItem("/admin/departments", N_("Departments"), frozenset({"admin"})),
        NavItem("/admin/calendar", N_("Working-day calendar"), frozenset({"admin"})),
    ],
)
