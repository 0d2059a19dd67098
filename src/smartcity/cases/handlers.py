"""The bus handlers of the case engine (listed in its MODULE)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.clocks import recompute_provisional
from smartcity.core.bus import Event


async def on_year_entered(session: AsyncSession, event: Event) -> None:
    """Handler of ``core.calendar.year_entered``: provisional clocks become real ones."""
    await recompute_provisional(session, event)
