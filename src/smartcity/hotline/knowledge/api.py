"""REST API of the knowledge base: the public search over published answers, the intake
desk's suggestions as an agent types, the departments' writing (only the owner edits), and
answering a consultation with an answer at intake (直接办结)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from smartcity.core.authz import Principal
from smartcity.core.ratelimit import limit_public
from smartcity.core.security import optional_principal, public, require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.hotline.knowledge import service, views
from smartcity.hotline.knowledge.schemas import (
    QUERY_MAX,
    AnswerFull,
    AnswerInput,
    AnswerPage,
    HitPage,
    State,
    UsedRead,
    UseInput,
)
from smartcity.hotline.schemas import CATEGORY_PATTERN, DEPARTMENT_PATTERN

router = APIRouter(
    prefix="/api/v1/hotline/knowledge", route_class=UnitOfWorkRoute, tags=["hotline"]
)

Staff = Annotated[Principal, Depends(require_principal("staff"))]
Visitor = Annotated[Principal | None, Depends(optional_principal)]
Q = Annotated[str, Query(max_length=QUERY_MAX)]
Category = Annotated[str | None, Query(pattern=CATEGORY_PATTERN)]


@router.get("", response_model=HitPage, dependencies=[Depends(public), Depends(limit_public)])
async def search(
    session: DbSession,
    q: Q = "",
    category: Category = None,
    limit: Annotated[int, Query(ge=1, le=service.SEARCH_MAX)] = 10,
) -> HitPage:
    """Search the published answers (常见问题), best first; without ``q`` none are listed."""
    hits = await service.search_answers(session, None, q, limit=limit, category=category)
    return HitPage(query=q.strip(), items=[views.hit(a, s) for a, s in hits])


@router.get("/suggest", response_model=HitPage)
async def suggest(
    session: DbSession,
    principal: Staff,
    q: Q = "",
    limit: Annotated[int, Query(ge=1, le=service.SEARCH_MAX)] = 5,
) -> HitPage:
    """The answers that fit what an agent is typing at the intake desk (not rate limited)."""
    hits = await service.search_answers(session, principal, q, limit=limit)
    return HitPage(query=q.strip(), items=[views.hit(a, s) for a, s in hits])


@router.get("/answers", response_model=AnswerPage)
async def list_answers(
    session: DbSession,
    principal: Staff,
    department: Annotated[str | None, Query(pattern=DEPARTMENT_PATTERN)] = None,
    category: Category = None,
    state: State | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=service.LIST_MAX)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AnswerPage:
    """The answers staff may read; ``overdue=true``: published ones past their review date."""
    rows, total = await service.list_answers(
        session,
        principal,
        department=department,
        category=category,
        state=state,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )
    return AnswerPage(
        items=[views.summary(a) for a in rows], total=total, limit=limit, offset=offset
    )


@router.post("/answers", response_model=AnswerFull, status_code=201)
async def create(session: DbSession, principal: Staff, data: AnswerInput) -> AnswerFull:
    """A new answer of the caller's department, as a draft."""
    answer = await service.create_answer(session, principal, data)
    return await views.full(session, answer, history=True)


@router.get("/answers/{answer_id}", response_model=AnswerFull, dependencies=[Depends(public)])
async def get_answer(session: DbSession, principal: Visitor, answer_id: uuid.UUID) -> AnswerFull:
    """One answer: published ones for anyone; drafts and retired ones for their department
    and the 12345 centre, with the earlier versions."""
    answer = await service.get_answer(session, principal, answer_id)
    staff = principal is not None and principal.kind != "citizen"
    return await views.full(session, answer, history=staff)


@router.put("/answers/{answer_id}", response_model=AnswerFull)
async def update(
    session: DbSession, principal: Staff, answer_id: uuid.UUID, data: AnswerInput
) -> AnswerFull:
    """A new version by the owning department; the replaced text is kept."""
    answer = await service.update_answer(session, principal, answer_id, data)
    return await views.full(session, answer, history=True)


@router.post("/answers/{answer_id}/publish", response_model=AnswerFull)
async def publish(session: DbSession, principal: Staff, answer_id: uuid.UUID) -> AnswerFull:
    """发布 a draft."""
    answer = await service.publish(session, principal, answer_id)
    return await views.full(session, answer, history=True)


@router.post("/answers/{answer_id}/retire", response_model=AnswerFull)
async def retire(session: DbSession, principal: Staff, answer_id: uuid.UUID) -> AnswerFull:
    """下线: no longer given to callers, kept for the record."""
    answer = await service.retire(session, principal, answer_id)
    return await views.full(session, answer, history=True)


@router.post("/answers/{answer_id}/use", response_model=UsedRead, status_code=201)
async def use(
    session: DbSession, principal: Staff, answer_id: uuid.UUID, data: UseInput
) -> UsedRead:
    """A consultation taken on the call and answered with this answer (直接办结)."""
    order, answer = await service.answer_at_intake(session, principal, answer_id, data)
    return UsedRead(order_id=order.id, number=order.number, state=order.state, uses=answer.uses)
