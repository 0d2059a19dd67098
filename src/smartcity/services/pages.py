"""Public pages of the service hall (网上办事大厅): the catalog (/services) and one item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.services import service
from smartcity.web.pages import page_principal
from smartcity.web.render import render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Visitor = Annotated[Principal | None, Depends(page_principal)]


@router.get("/services", dependencies=[Depends(public)])
async def catalog(
    request: Request,
    session: DbSession,
    principal: Visitor,
    q: str = "",
    life_event: str = "",
    department: str = "",
) -> Response:
    q, life_event, department = q.strip()[:100], life_event.strip()[:20], department[:32]
    departments = await service.departments_of_items(session, None)
    try:
        items = await service.list_service_items(
            session, None, q=q or None, life_event=life_event or None, department=department or None
        )
    except InvalidInput:
        # An unknown department in a hand-edited link: show nothing rather than an error page.
        items = []
    return render(
        request,
        "services/catalog.html",
        {
            "items": items,
            "departments": departments,
            "life_events": await service.life_events(session, None),
            "q": q,
            "life_event": life_event,
            "department": department,
            "total": len(await service.list_service_items(session, None)),
        },
        principal=principal,
    )


@router.get("/services/{code}", dependencies=[Depends(public)])
async def item_page(
    request: Request, session: DbSession, principal: Visitor, code: str
) -> Response:
    item = await service.get_service_item(session, None, code[:32])
    departments = await service.departments_of_items(session, None)
    return render(
        request,
        "services/item.html",
        {"item": item, "department": departments[item.department_id]},
        principal=principal,
    )
