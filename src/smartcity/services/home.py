"""What the service hall puts on the home page (web.home): the search box over the service
items, the popular services, and the signed-in applicant's matters (我的办件)."""

from __future__ import annotations

import uuid

from fastapi import Request
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.models import Department
from smartcity.services import service
from smartcity.services.application import following
from smartcity.services.labels import life_event_name
from smartcity.services.models import Application, ServiceItem
from smartcity.web.home import ANONYMOUS, CITIZENS, SIGNED_IN, HomePanel, fragment
from smartcity.web.render import data_name

POPULAR = 6
MATTERS = 5


async def popular_items(
    session: AsyncSession, *, limit: int = POPULAR
) -> list[tuple[ServiceItem, int]]:
    """The active items most applied for (submitted applications), most first. A city with
    fewer applied-for items than that fills up from the catalogue one department at a time
    (in code order), with a count of 0, so a new city's front door offers a spread of
    services rather than one bureau's."""
    counted = (
        select(Application.item_id, func.count().label("n"))
        .where(Application.status == "submitted")
        .group_by(Application.item_id)
        .subquery()
    )
    rows = (
        await session.execute(
            service.readable_service_items(None)
            .add_columns(func.coalesce(counted.c.n, 0))
            .outerjoin(counted, counted.c.item_id == ServiceItem.id)
            .order_by(None)
            .order_by(func.coalesce(counted.c.n, 0).desc(), ServiceItem.code)
        )
    ).all()
    applied = [(item, int(n)) for item, n in rows if n][:limit]
    rest: dict[uuid.UUID, list[ServiceItem]] = {}
    for item, n in rows:
        if not n:
            rest.setdefault(item.department_id, []).append(item)
    queues = list(rest.values())
    while len(applied) < limit and any(queues):
        for queue in queues:
            if queue and len(applied) < limit:
                applied.append((queue.pop(0), 0))
    return applied


def _department_name(departments: dict[uuid.UUID, Department], item: ServiceItem) -> str | Markup:
    department = departments.get(item.department_id)
    if department is None:
        return ""
    return data_name(department)


async def search_panel(
    request: Request, session: AsyncSession, principal: Principal | None
) -> Markup | None:
    return fragment(request, "services/home_search.html")


async def popular_panel(
    request: Request, session: AsyncSession, principal: Principal | None
) -> Markup | None:
    popular = await popular_items(session)
    if not popular:
        return None
    departments = await service.departments_of_items(session, None)
    return fragment(
        request,
        "services/home_popular.html",
        {
            "popular": [(item, n, _department_name(departments, item)) for item, n in popular],
            "item_name": data_name,
            "life_events": (await service.life_events(session, None))[:8],
            "life_event_name": life_event_name,
        },
    )


async def matters_panel(
    request: Request, session: AsyncSession, principal: Principal | None
) -> Markup | None:
    """The applicant's newest matters with their state and the time left, as /my/applications
    shows them (the one deadline of the case engine)."""
    if principal is None:
        return None
    lines = await following.list_my_applications(session, principal)
    return fragment(
        request,
        "services/home_matters.html",
        {
            "lines": lines[:MATTERS],
            "more": max(len(lines) - MATTERS, 0),
            "item_name": data_name,
        },
    )


HOME_PANELS = (
    HomePanel(
        "services.search",
        0,
        search_panel,
        frozenset({ANONYMOUS}) | SIGNED_IN,
        wide=True,
        page_tags=(service.CATALOGUE_PAGES,),
    ),
    HomePanel("services.matters", 10, matters_panel, CITIZENS),
    HomePanel(
        "services.popular",
        30,
        popular_panel,
        frozenset({ANONYMOUS}) | CITIZENS,
        page_tags=(service.CATALOGUE_PAGES,),
    ),
)
