"""The foundation as a module: its API routers, actions and jobs (its pages are the
portal's, smartcity.portal)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import (
    accounts,
    api,
    backup,
    checkpoints,
    notification_api,
    notifications,
    seed,
    signatures,
)
from smartcity.core.authz import Principal
from smartcity.core.module import Job, Module, Seeder

# The inbox has its own full-path router; api.router carries the /api/v1 prefix, so it is
# mounted beside it rather than inside.
_router = APIRouter()
_router.include_router(api.router)
_router.include_router(notification_api.router)


async def _divisions(session: AsyncSession, principal: Principal) -> int:
    return await seed.seed_divisions(session)


MODULE = Module(
    name="core",
    router=_router,
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
    # the divisions (Shenzhen and its districts) and the city's departments
    reference_data=(
        Seeder("core.divisions", _divisions),
        Seeder("core.departments", seed.seed_departments),
    ),
)
