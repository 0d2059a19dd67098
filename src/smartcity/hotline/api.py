"""REST API of the 12345 hotline: the category tree, reports by citizens or anyone (rate
limited), calls taken by agents, the orders a caller may read, and each step of an order."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from smartcity.core.authz import Principal
from smartcity.core.ratelimit import client_ip, limit_public
from smartcity.core.security import optional_principal, public, require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.hotline import service, views
from smartcity.hotline.categories import category_nodes
from smartcity.hotline.routing import api as routing_api
from smartcity.hotline.schemas import (
    CATEGORY_PATTERN,
    DEPARTMENT_PATTERN,
    CallerLookup,
    CallerRead,
    CategoryRead,
    CloseInput,
    DispatchInput,
    OrderCreate,
    OrderPage,
    OrderRead,
    ReasonInput,
    ReplyInput,
    ReportCreate,
    TransferInput,
    VisitInput,
)
from smartcity.hotline.types import Kind

router = APIRouter(prefix="/api/v1/hotline", route_class=UnitOfWorkRoute, tags=["hotline"])

Staff = Annotated[Principal, Depends(require_principal("staff"))]
Reader = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin", "citizen"))]
Visitor = Annotated[Principal | None, Depends(optional_principal)]
Supervisor = Annotated[Principal, Depends(require_principal("supervisor"))]
Rater = Annotated[Principal, Depends(require_principal("staff", "citizen"))]


@router.get("/categories", response_model=list[CategoryRead], dependencies=[Depends(public)])
async def categories() -> list[CategoryRead]:
    """The category tree (诉求分类), parents first; leaves name their default department."""
    return [
        CategoryRead(
            code=n.code, name=n.name, name_en=n.name_en, parent=n.parent, department=n.department
        )
        for n in category_nodes()
    ]


@router.post(
    "/reports",
    response_model=OrderRead,
    status_code=201,
    dependencies=[Depends(public), Depends(limit_public)],
)
async def report(
    request: Request, session: DbSession, principal: Visitor, data: ReportCreate
) -> OrderRead:
    """A report on the web (网上诉求): by a signed-in citizen, or anonymously (no ID asked)."""
    views.check_report_rate(client_ip(request))
    caller = principal if principal is not None and principal.kind == "citizen" else None
    order = await service.create_order(session, caller, data, channel="api")
    return await views.full(session, principal, order)


@router.post("/orders", response_model=OrderRead, status_code=201)
async def take_call(session: DbSession, principal: Staff, data: OrderCreate) -> OrderRead:
    """A call taken by a 12345 agent (来电受理), dispatched at once when it names a department."""
    order = await service.create_order(session, principal, data, channel="phone")
    if data.department and order.state == "accepted":
        order = await service.dispatch(session, principal, order.id, data.department)
    return await views.full(session, principal, order)


@router.post("/callers", response_model=CallerRead)
async def look_up_caller(session: DbSession, principal: Staff, data: CallerLookup) -> CallerRead:
    """The caller in the population registry and their earlier orders (read logged)."""
    found = await service.look_up_caller(
        session, principal, id_number=data.id_number or "", phone=data.phone or ""
    )
    if not found.found:
        return CallerRead(found=False)
    earlier, _total = await service.list_orders(
        session, principal, caller_person_id=found.person_id, limit=10
    )
    return CallerRead(
        found=True,
        name=found.name,
        phone=found.phone,
        id_number=found.id_number,
        earlier_orders=[await views.summary(session, o) for o in earlier],
    )


@router.get("/orders", response_model=OrderPage)
async def list_orders(
    session: DbSession,
    principal: Reader,
    state: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
    kind: Kind | None = None,
    category: Annotated[str | None, Query(pattern=CATEGORY_PATTERN)] = None,
    department: Annotated[str | None, Query(pattern=DEPARTMENT_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=service.LIST_MAX)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> OrderPage:
    """The orders the caller may read, newest first, filtered and paged."""
    rows, total = await service.list_orders(
        session,
        principal,
        state=state,
        kind=kind,
        category=category,
        department=department,
        limit=limit,
        offset=offset,
    )
    return OrderPage(
        items=[await views.summary(session, o) for o in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/orders/{order_id}", response_model=OrderRead)
async def get_order(session: DbSession, principal: Reader, order_id: uuid.UUID) -> OrderRead:
    """One order with its timeline and follow-ups; the caller masked for the department."""
    order = await service.get_order(session, principal, order_id)
    return await views.full(session, principal, order)


@router.post("/orders/{order_id}/dispatch", response_model=OrderRead)
async def dispatch(
    session: DbSession, principal: Staff, order_id: uuid.UUID, data: DispatchInput
) -> OrderRead:
    """派单 to a handling department (the 12345 centre)."""
    order = await service.dispatch(session, principal, order_id, data.department)
    return await views.full(session, principal, order)


@router.post("/orders/{order_id}/sign", response_model=OrderRead)
async def sign(session: DbSession, principal: Staff, order_id: uuid.UUID) -> OrderRead:
    """签收 by the department holding the order."""
    order = await service.sign(session, principal, order_id)
    return await views.full(session, principal, order)


@router.post("/orders/{order_id}/return", response_model=OrderRead)
async def return_order(
    session: DbSession, principal: Staff, order_id: uuid.UUID, data: ReasonInput
) -> OrderRead:
    """退单 to the dispatcher within 2 working days of the dispatch, with the reason."""
    order = await service.return_order(session, principal, order_id, data.reason)
    return await views.full(session, principal, order)


@router.post("/orders/{order_id}/transfer", response_model=OrderRead)
async def transfer(
    session: DbSession, principal: Staff, order_id: uuid.UUID, data: TransferInput
) -> OrderRead:
    """转办 to another department, with the reason."""
    order = await service.transfer_order(session, principal, order_id, data.department, data.reason)
    return await views.full(session, principal, order)


@router.post("/orders/{order_id}/reply", response_model=OrderRead)
async def reply(
    session: DbSession, principal: Staff, order_id: uuid.UUID, data: ReplyInput
) -> OrderRead:
    """答复 to the caller; the order goes back to the 12345 centre for the follow-up."""
    order = await service.reply(session, principal, order_id, data.reply)
    return await views.full(session, principal, order)


@router.post("/orders/{order_id}/visit", response_model=OrderRead)
async def visit(
    session: DbSession, principal: Rater, order_id: uuid.UUID, data: VisitInput
) -> OrderRead:
    """回访: the caller's rating, by the centre or the caller; 不满意 re-handles or escalates."""
    order = await service.visit(session, principal, order_id, data.rating, data.comment)
    return await views.full(session, principal, order)


@router.post("/orders/{order_id}/close", response_model=OrderRead)
async def close(
    session: DbSession, principal: Supervisor, order_id: uuid.UUID, data: CloseInput
) -> OrderRead:
    """督办办结 of an escalated order by a supervisor, with the opinion."""
    order = await service.close_escalated(session, principal, order_id, data.opinion)
    return await views.full(session, principal, order)


# The insight (热点分析与考核) under /api/v1/hotline/insight.
from smartcity.hotline.insight import api as _insight_api  # noqa: E402

_insight_api.add_routes(router)
# Routing (suggestions, merges, models) lives in hotline/routing/ on the same prefix.
router.routes.extend(routing_api.router.routes)
