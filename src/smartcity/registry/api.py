"""REST API of the registry module: persons (人口库), organizations (法人库), 我的数据."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from smartcity.core.api import oauth2
from smartcity.core.authz import Principal
from smartcity.core.security import require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.registry import organizations, service, validation
from smartcity.registry.history import VersionView
from smartcity.registry.organizations import OrganizationView
from smartcity.registry.schemas import (
    AccessLogPage,
    AccessLogRead,
    AccountLink,
    OrganizationCreate,
    OrganizationPage,
    OrganizationRead,
    PersonCreate,
    PersonPage,
    PersonRead,
    RecordUpdate,
    RecordVersionRead,
)
from smartcity.registry.service import PersonView

router = APIRouter(
    prefix="/api/v1/registry",
    route_class=UnitOfWorkRoute,
    tags=["registry"],
    dependencies=[Depends(oauth2)],
)

Reader = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin", "system"))]
# Citizens may ask for a person too: they find only their own record (others are 404).
PersonReader = Annotated[
    Principal, Depends(require_principal("staff", "supervisor", "admin", "system", "citizen"))
]
Writer = Annotated[Principal, Depends(require_principal("staff", "admin", "system"))]
Citizen = Annotated[Principal, Depends(require_principal("citizen"))]
Purpose = Annotated[
    str,
    Query(max_length=200, description="Why the record is read; shown to the person (access log)"),
]
Limit = Annotated[int, Query(ge=1, le=validation.MAX_PAGE)]
Offset = Annotated[int, Query(ge=0)]
PROBLEMS: dict[int | str, dict[str, str]] = {
    403: {"description": "Not the source department of these fields (一数一源)"},
    404: {"description": "No such record, or not readable by the caller"},
    409: {"description": "The ID number or credit code is already registered"},
    422: {"description": "Invalid input, e.g. a wrong check digit"},
}


def person_read(view: PersonView) -> PersonRead:
    return PersonRead(
        id=view.id,
        version=view.version,
        masked_fields=sorted(view.masked),
        as_of=view.as_of,
        **view.data,
    )


def organization_read(view: OrganizationView) -> OrganizationRead:
    return OrganizationRead(
        id=view.id,
        version=view.version,
        legal_representative_name=view.legal_representative_name,
        as_of=view.as_of,
        **view.data,
    )


def version_read(view: VersionView) -> RecordVersionRead:
    return RecordVersionRead(
        version=view.version,
        valid_from=view.valid_from,
        valid_to=view.valid_to,
        attribute_group=view.attribute_group,
        source_department_code=view.source_department_code,
        source_department_name=view.source_department_name,
        actor=view.actor,
        reason=view.reason,
        changes=view.changes,
    )


# --- persons ---------------------------------------------------------------------------------


@router.post("/persons", response_model=PersonRead, status_code=201, responses=PROBLEMS)
async def create_person(session: DbSession, principal: Writer, data: PersonCreate) -> PersonRead:
    """Register a person. Only the identity source (公安局) or an admin; sex and birth date
    are derived from the ID number."""
    person = await service.create_person(session, principal, data)
    return person_read(await service.present_person(session, principal, person))


@router.get("/persons", response_model=PersonPage, responses=PROBLEMS)
async def search_persons(
    session: DbSession,
    principal: PersonReader,
    id_number: Annotated[str | None, Query(description="Exact 公民身份号码")] = None,
    name_prefix: Annotated[str | None, Query(max_length=50)] = None,
    district: Annotated[
        str | None, Query(description="District code: 户籍地 or residence in it")
    ] = None,
    status: Annotated[str | None, Query(description="living, deceased or moved_out")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    purpose: Purpose = "",
) -> PersonPage:
    """Search persons (masked). Every person in the answer gets an access-log row."""
    views, more = await service.search_persons(
        session,
        principal,
        id_number=id_number,
        name_prefix=name_prefix,
        district=district,
        status=status,
        limit=limit,
        offset=offset,
        purpose=purpose,
        via="api",
    )
    return PersonPage(
        items=[person_read(v) for v in views], limit=limit, offset=offset, has_more=more
    )


@router.get("/persons/{person_id}", response_model=PersonRead, responses=PROBLEMS)
async def get_person(
    session: DbSession,
    principal: PersonReader,
    person_id: uuid.UUID,
    as_of: Annotated[
        AwareDatetime | None, Query(description="Read the record as it was at this instant")
    ] = None,
    purpose: Purpose = "",
) -> PersonRead:
    """One person, masked for the caller, now or as of an instant; the read is logged."""
    if as_of is not None:
        view = await service.get_person_as_of(
            session, principal, person_id, as_of, purpose=purpose, via="api"
        )
    else:
        view = await service.get_person(session, principal, person_id, purpose=purpose, via="api")
    return person_read(view)


@router.patch("/persons/{person_id}", response_model=PersonRead, responses=PROBLEMS)
async def update_person(
    session: DbSession, principal: Writer, person_id: uuid.UUID, data: RecordUpdate
) -> PersonRead:
    """Change fields of one source department's groups; a 403 names the source otherwise."""
    await service.update_person(
        session, principal, person_id, fields=data.fields, reason=data.reason
    )
    view = await service.get_person(session, principal, person_id, purpose="更正", via="api")
    return person_read(view)


@router.get(
    "/persons/{person_id}/history", response_model=list[RecordVersionRead], responses=PROBLEMS
)
async def person_history(
    session: DbSession, principal: PersonReader, person_id: uuid.UUID, purpose: Purpose = ""
) -> list[RecordVersionRead]:
    """Every version of the record, newest first: who, when, which source, old → new."""
    views = await service.person_history(session, principal, person_id, purpose=purpose, via="api")
    return [version_read(v) for v in views]


@router.put("/persons/{person_id}/account", response_model=PersonRead, responses=PROBLEMS)
async def link_account(
    session: DbSession, principal: Writer, person_id: uuid.UUID, data: AccountLink
) -> PersonRead:
    """Link a citizen's account to their record for 我的数据 (公安局 or admin)."""
    await service.link_account(session, principal, person_id=person_id, username=data.username)
    view = await service.get_person(session, principal, person_id, purpose="账号关联", via="api")
    return person_read(view)


# --- 我的数据 ----------------------------------------------------------------------------------


@router.get("/me", response_model=PersonRead, responses=PROBLEMS)
async def my_record(session: DbSession, principal: Citizen) -> PersonRead:
    """The signed-in citizen's own record, unmasked to them."""
    return person_read(await service.get_my_record(session, principal, via="api"))


@router.get("/me/access-log", response_model=AccessLogPage, responses=PROBLEMS)
async def my_access_log(
    session: DbSession,
    principal: Citizen,
    limit: Limit = 50,
    offset: Annotated[int, Query(ge=0, le=service.MAX_ACCESS_LOG_OFFSET)] = 0,
) -> AccessLogPage:
    """Who read the citizen's record — department, officer or system, purpose, case number
    or grant, when — newest first; one row per reader, purpose and case a city day, with
    how many reads it stands for (``reads``, ``last_at``). The page /my/data shows the same."""
    entries, more = await service.my_access_log(session, principal, limit=limit, offset=offset)
    return AccessLogPage(
        items=[AccessLogRead.model_validate(e) for e in entries],
        limit=limit,
        offset=offset,
        has_more=more,
    )


# --- organizations ---------------------------------------------------------------------------


@router.post("/organizations", response_model=OrganizationRead, status_code=201, responses=PROBLEMS)
async def create_organization(
    session: DbSession, principal: Writer, data: OrganizationCreate
) -> OrganizationRead:
    """Register an organization. Only the registration source (市场监管局) or an admin."""
    org = await organizations.create_organization(session, principal, data)
    return organization_read(await organizations.get_organization(session, principal, org.id))


@router.get("/organizations", response_model=OrganizationPage, responses=PROBLEMS)
async def search_organizations(
    session: DbSession,
    principal: Reader,
    uscc: Annotated[str | None, Query(description="Exact 统一社会信用代码")] = None,
    name_prefix: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(description="active, revoked or cancelled")] = None,
    industry: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> OrganizationPage:
    """Search organizations, ordered by name."""
    views, more = await organizations.search_organizations(
        session,
        principal,
        uscc=uscc,
        name_prefix=name_prefix,
        status=status,
        industry=industry,
        limit=limit,
        offset=offset,
    )
    return OrganizationPage(
        items=[organization_read(v) for v in views], limit=limit, offset=offset, has_more=more
    )


@router.get("/organizations/{organization_id}", response_model=OrganizationRead, responses=PROBLEMS)
async def get_organization(
    session: DbSession,
    principal: Reader,
    organization_id: uuid.UUID,
    as_of: Annotated[
        AwareDatetime | None, Query(description="Read the record as it was at this instant")
    ] = None,
) -> OrganizationRead:
    """One organization, now or as of an instant."""
    if as_of is not None:
        view = await organizations.get_organization_as_of(
            session, principal, organization_id, as_of
        )
    else:
        view = await organizations.get_organization(session, principal, organization_id)
    return organization_read(view)


@router.patch(
    "/organizations/{organization_id}", response_model=OrganizationRead, responses=PROBLEMS
)
async def update_organization(
    session: DbSession, principal: Writer, organization_id: uuid.UUID, data: RecordUpdate
) -> OrganizationRead:
    """Change registration fields (市场监管局 only); ``legal_representative_id_number`` names
    a new legal representative by ID number."""
    await organizations.update_organization(
        session, principal, organization_id, fields=data.fields, reason=data.reason
    )
    return organization_read(
        await organizations.get_organization(session, principal, organization_id)
    )


@router.get(
    "/organizations/{organization_id}/history",
    response_model=list[RecordVersionRead],
    responses=PROBLEMS,
)
async def organization_history(
    session: DbSession, principal: Reader, organization_id: uuid.UUID
) -> list[RecordVersionRead]:
    """Every version of the organization's record, newest first."""
    views = await organizations.organization_history(session, principal, organization_id)
    return [version_read(v) for v in views]
