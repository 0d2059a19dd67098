"""REST API of the case engine (办件): the work queue, a case with its timeline, transitions,
assignment and transfer."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from smartcity.cases import service
from smartcity.cases.schemas import (
    AssignInput,
    CaseDetail,
    CaseEventRead,
    CaseRead,
    TransferInput,
    TransitionInput,
)
from smartcity.core.authz import Principal
from smartcity.core.security import AnyPrincipal, require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute

router = APIRouter(prefix="/api/v1/cases", route_class=UnitOfWorkRoute, tags=["cases"])

Staff = Annotated[Principal, Depends(require_principal("staff", "admin"))]


@router.get("/", response_model=list[CaseRead])
async def queue(
    principal: AnyPrincipal,
    session: DbSession,
    state: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    warning: Literal["red", "yellow"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseRead]:
    """Open cases the caller may see, by urgency: red first, then the nearest due."""
    cases = await service.work_queue(
        session, principal, state=state, department=department, warning=warning, limit=limit
    )
    return [CaseRead.model_validate(c) for c in cases]


@router.get("/{case_id}", response_model=CaseDetail)
async def read_case(case_id: uuid.UUID, principal: AnyPrincipal, session: DbSession) -> CaseDetail:
    """A case and its timeline."""
    case = await service.get_case(session, principal, case_id)
    events = await service.timeline(session, principal, case_id)
    return CaseDetail(
        case=CaseRead.model_validate(case),
        timeline=[CaseEventRead.model_validate(e) for e in events],
    )


@router.post("/{case_id}/transitions/{name}", response_model=CaseRead)
async def take_transition(
    case_id: uuid.UUID,
    name: str,
    body: TransitionInput,
    principal: AnyPrincipal,
    session: DbSession,
) -> CaseRead:
    """Take a step of the case type (409 from the wrong state, 422 without a needed field)."""
    case = await service.transition(session, principal, case_id, name, fields=body.fields)
    return CaseRead.model_validate(case)


@router.post("/{case_id}/assign", response_model=CaseRead)
async def assign(
    case_id: uuid.UUID, body: AssignInput, principal: Staff, session: DbSession
) -> CaseRead:
    """Assign the case to an officer of its department."""
    case = await service.assign(session, principal, case_id, body.officer)
    return CaseRead.model_validate(case)


@router.post("/{case_id}/transfer", response_model=CaseRead)
async def transfer(
    case_id: uuid.UUID, body: TransferInput, principal: Staff, session: DbSession
) -> CaseRead:
    """Transfer the case to another department, with a reason."""
    case = await service.transfer(session, principal, case_id, body.department, body.reason)
    return CaseRead.model_validate(case)
