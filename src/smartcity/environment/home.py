"""The environment's panel on the home page (web.home): the city's air quality now, with its
level and a link to /air."""

from __future__ import annotations

from fastapi import Request
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.environment import charts, views
from smartcity.environment.compute import AIR_PAGES
from smartcity.environment.pages import hour_label
from smartcity.web.home import ANONYMOUS, SIGNED_IN, HomePanel, fragment


async def air_panel(
    request: Request, session: AsyncSession, principal: Principal | None
) -> Markup | None:
    """The newest city AQI (the real-time report of the city's latest hour, as /air shows it);
    without reports, a line saying so."""
    summary = await views.city_summary(session, None)
    report = summary.report
    return fragment(
        request,
        "environment/home_air.html",
        {
            "report": report,
            "category": report.category if report else None,
            "hour": hour_label(summary.hour) if summary.hour else "",
            "text_colour": charts.text_colour,
        },
    )


AIR_PANEL = HomePanel(
    "environment.air", 40, air_panel, frozenset({ANONYMOUS}) | SIGNED_IN, page_tags=(AIR_PAGES,)
)
