"""Air quality in the demo: called after the demo feed has made the air stations and their
history. Makes the alert rules and computes the reports of the history present."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.environment.alert_rules import ensure_alert_rules
from smartcity.environment.compute import Outcome, compute_reports


async def seed_demo(session: AsyncSession, principal: Principal) -> Outcome:
    """Ensure the AQI alert rules, then catch up the reports (the periodic job's run: the
    last 8 days). Idempotent."""
    await ensure_alert_rules(session, principal)
    return await compute_reports(session, principal)
