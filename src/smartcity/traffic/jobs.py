"""The minute job of the traffic module: ``traffic.state.minute`` computes the road state
of the minutes due and of those with late readings (state.py)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.module import Job
from smartcity.traffic.state import compute_state

log = logging.getLogger(__name__)


async def road_state(session: AsyncSession) -> None:
    outcome = await compute_state(session)
    if outcome.minutes:
        log.info(
            "traffic: %d minutes (%d late), %d states, %d events in %.2f s",
            len(outcome.minutes),
            len(outcome.late),
            outcome.states,
            outcome.events,
            outcome.seconds,
        )


JOBS = [Job("traffic.state.minute", 60, road_state)]
