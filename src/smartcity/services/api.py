"""REST API of the service hall (网上办事大厅): the public service item catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.services import service
from smartcity.services.schemas import CODE_PATTERN, ApplicantKind, ServiceItemRead

router = APIRouter(prefix="/api/v1/services", route_class=UnitOfWorkRoute, tags=["services"])


@router.get("/items", response_model=list[ServiceItemRead], dependencies=[Depends(public)])
async def list_items(
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    life_event: Annotated[str | None, Query(max_length=20)] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    applicant_kind: ApplicantKind | None = None,
) -> list[ServiceItemRead]:
    """The service item catalog (事项目录), for everyone; filters by words, life event,
    department and who may apply."""
    items = await service.list_service_items(
        session,
        None,
        q=q,
        life_event=life_event,
        department=department,
        applicant_kind=applicant_kind,
    )
    departments = await service.departments_of_items(session, None)
    return [service.item_read(i, departments[i.department_id]) for i in items]


@router.get("/items/{code}", response_model=ServiceItemRead, dependencies=[Depends(public)])
async def get_item(
    session: DbSession, code: Annotated[str, Path(pattern=CODE_PATTERN)]
) -> ServiceItemRead:
    """One service item: what to hand in, limits, fees and legal basis."""
    item = await service.get_service_item(session, None, code)
    departments = await service.departments_of_items(session, None)
    return service.item_read(item, departments[item.department_id])
