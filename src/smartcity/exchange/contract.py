"""What other modules may use of the data exchange (政务信息资源共享交换): plain functions and
frozen data types, no tables. Every other import of ``smartcity.exchange`` from outside it is
refused by import-linter (tests/architecture/contracts.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.exchange import grants
from smartcity.exchange.models import Resource

# --- whether a grant is in force ---


@dataclass(frozen=True)
class GrantInForce:
    """Whether a department may read a catalog resource now (共享授权), and under what."""

    resource: str
    department_id: uuid.UUID | None
    in_force: bool
    # "" when in force; else no-resource, no-grant, expired, revoked, not-approved, refused
    reason: str
    # the granted fields the resource still has (empty when not in force)
    fields: tuple[str, ...] = ()
    expires_at: datetime | None = None


async def grant_in_force(
    session: AsyncSession, resource_code: str, department_id: uuid.UUID | None
) -> GrantInForce:
    """The department's approved, unexpired, unrevoked grant for the resource, if it has one
    (the same check the exchange makes before every read)."""
    resource = (
        await session.execute(select(Resource).where(Resource.code == resource_code))
    ).scalar_one_or_none()
    if resource is None:
        return GrantInForce(resource_code, department_id, False, "no-resource")
    check = await grants.grant_in_force(session, resource, department_id)
    if check.grant is None:
        return GrantInForce(resource_code, department_id, False, check.reason)
    return GrantInForce(
        resource_code,
        department_id,
        True,
        "",
        tuple(grants.effective_fields(check.grant, resource)),
        check.grant.expires_at,
    )


# --- what the demo uses ---
# The demo's catalog and ZWSJJ's approved grant on persons (idempotent; answers how many
# entries and grants it added).
from smartcity.exchange.seed import seed_demo_catalog as seed_demo_catalog  # noqa: E402
