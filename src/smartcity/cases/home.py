"""The case desk's panel on the home page (web.home): for staff, supervisors and
administrators, their desk's open cases per tab with the red and yellow ones, instead of the
citizens' panels."""

from __future__ import annotations

from fastapi import Request
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service
from smartcity.cases.pages import DESK_KINDS, TAB_LABEL_ALL, TAB_LABELS, _reads_all
from smartcity.core.authz import Principal
from smartcity.web.home import HomePanel, fragment


async def desk_panel(
    request: Request, session: AsyncSession, principal: Principal | None
) -> Markup | None:
    """The counts the work queue (/cases) shows on its tabs, each a link to that tab."""
    if principal is None:
        return None
    counts = await service.desk_counts(session, principal)
    labels = dict(TAB_LABELS)
    if _reads_all(principal):
        labels["department"] = TAB_LABEL_ALL
    return fragment(
        request,
        "cases/home_desk.html",
        {"tabs": [(tab, labels[tab], counts[tab]) for tab in service.QUEUE_TABS]},
    )


DESK_PANEL = HomePanel("cases.desk", 10, desk_panel, DESK_KINDS)
