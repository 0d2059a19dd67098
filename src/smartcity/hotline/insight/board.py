"""The hotline's panel on the supervision board (a ``BoardPanel``): the 12345 KPIs of the
orders received in the board's months per handling department, beside the board's own
figures, with the way to the insight pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import BoardPanel, BoardRange, Panel
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden
from smartcity.core.i18n import gettext as _
from smartcity.hotline import service
from smartcity.hotline.insight import pages
from smartcity.hotline.insight import service as insight

ROWS = 10


async def render(session: AsyncSession, principal: Principal, where: BoardRange) -> Panel | None:
    """Nothing for readers the insight refuses; else the top departments by orders."""
    try:
        await insight.resolve_scope(session, principal)
    except Forbidden:
        return None
    first = clock.to_city(where.start).date()
    win = insight.Window("range", first, clock.to_city(where.end).date() - timedelta(days=1))
    found = await insight.kpis(session, principal, win, department=where.department_code)
    departments = await service.department_names(session)
    return Panel(
        title=_("12345 hotline work orders"),
        template="hotline/insight_board.html",
        context={
            "found": found,
            "rows": found.rows[:ROWS],
            "department_label": pages._department_label(departments),
            "street_names": {},
            "pct": pages.pct,
            "days": pages.days,
        },
    )


BOARD_PANEL = BoardPanel("hotline.insight", render)
