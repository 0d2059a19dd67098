"""REST API of the hotline's routing: suggestions for a text, an order's routing and its
duplicate proposals, merging (合并工单), 不是重复, and the model versions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.errors import NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.security import require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.hotline import service, views
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.routing import duplicates
from smartcity.hotline.routing import service as routing_service
from smartcity.hotline.routing.models import DuplicateProposal, OrderRouting
from smartcity.hotline.routing.schemas import (
    DuplicateRead,
    MergeInput,
    ModelRead,
    RoutingRead,
    SuggestInput,
    SuggestionRead,
    SuggestionsRead,
)
from smartcity.hotline.schemas import OrderRead
from smartcity.settings import get_settings

router = APIRouter(prefix="/api/v1/hotline", route_class=UnitOfWorkRoute, tags=["hotline"])

Staff = Annotated[Principal, Depends(require_principal("staff"))]
Reader = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin"))]


def suggestion_reads(items: list[dict[str, object]]) -> list[SuggestionRead]:
    english = views.english()
    return [
        SuggestionRead(
            category=str(s["category"]),
            category_name=service.category_name(str(s["category"]), english),
            department=str(s["department"]),
            confidence=float(str(s["confidence"])),
        )
        for s in items
    ]


async def duplicate_reads(
    session: AsyncSession, proposals: list[DuplicateProposal]
) -> list[DuplicateRead]:
    reads = []
    for p in proposals:
        parent = await session.get(WorkOrder, p.parent_id)
        reads.append(
            DuplicateRead(
                id=p.id,
                order_id=p.order_id,
                parent_id=p.parent_id,
                parent_number=parent.number if parent is not None else "",
                distance_m=p.distance_m,
                similarity=p.similarity,
                state=p.state,
            )
        )
    return reads


@router.post("/suggestions", response_model=SuggestionsRead)
async def suggestions(session: DbSession, principal: Staff, data: SuggestInput) -> SuggestionsRead:
    """The model's top three categories for a text, with departments and confidences."""
    found = await routing_service.suggest(session, principal, data.text)
    return SuggestionsRead(
        model_version=found.version,
        suggestions=suggestion_reads([s.as_dict() for s in found.items]),
        department_confidence={k: round(v, 4) for k, v in found.departments.items()},
        threshold=get_settings().hotline_auto_dispatch,
    )


@router.get("/orders/{order_id}/routing", response_model=RoutingRead)
async def order_routing(session: DbSession, principal: Reader, order_id: uuid.UUID) -> RoutingRead:
    """What routing decided for an order: model version, confidence, mode, top three, and
    the open orders it may repeat."""
    order = await service.get_order(session, principal, order_id)
    routing: OrderRouting | None = await routing_service.routing_of(session, order.id)
    if routing is None:
        raise NotFound(_("This order was not routed."))
    return RoutingRead(
        model_version=routing.model_version,
        confidence=routing.confidence,
        mode=routing.mode,
        department=routing.department_code,
        suggestions=suggestion_reads(routing.suggestions),
        routed_at=routing.routed_at,
        duplicates=await duplicate_reads(session, await duplicates.proposals_of(session, order.id)),
    )


@router.post("/orders/{order_id}/merge", response_model=OrderRead)
async def merge(
    session: DbSession, principal: Staff, order_id: uuid.UUID, data: MergeInput
) -> OrderRead:
    """合并工单: the order joins an open one of the same department; its caller is answered
    with that order's answer."""
    order = await duplicates.merge(session, principal, order_id, data.parent)
    return await views.full(session, principal, order)


@router.post("/duplicates/{proposal_id}/reject", response_model=DuplicateRead)
async def reject(session: DbSession, principal: Staff, proposal_id: uuid.UUID) -> DuplicateRead:
    """不是重复: the proposal is set aside; the order waits in the queue as any other."""
    proposal = await duplicates.reject(session, principal, proposal_id)
    return (await duplicate_reads(session, [proposal]))[0]


@router.get("/models", response_model=list[ModelRead])
async def models(session: DbSession, principal: Reader) -> list[ModelRead]:
    """The classifier's versions, newest first, with their held-out metrics."""
    return [
        ModelRead(
            version=m.version,
            created_at=m.created_at,
            trained_on=m.trained_on,
            shipped=m.shipped,
            created_by=m.created_by,
            metrics=m.metrics,
        )
        for m in await routing_service.list_models(session, principal)
    ]
