"""The periodic job of the environment module: ``environment.air.reports``, every 5 minutes,
computes the hourly and daily air quality reports not yet stored (compute.py)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import SYSTEM
from smartcity.core.module import Job
from smartcity.environment.compute import compute_reports

log = logging.getLogger(__name__)

REPORTS_EVERY_SECONDS = 300


async def air_reports(session: AsyncSession) -> None:
    """Catch up the hours and days not yet computed (at most 8 days back; idempotent)."""
    outcome = await compute_reports(session, SYSTEM)
    if outcome.hours or outcome.days:
        log.info(
            "air quality: %d hourly and %d daily reports for %d stations",
            outcome.hours,
            outcome.days,
            outcome.stations,
        )


JOBS = [Job("environment.air.reports", REPORTS_EVERY_SECONDS, air_reports)]
