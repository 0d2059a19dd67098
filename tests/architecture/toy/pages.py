"""The toy domain's page: a permit as the department sees it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from smartcity.cases import contract as cases
from smartcity.core.authz import Principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.web.pages import require_page
from smartcity.web.render import render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Staff = Annotated[Principal, Depends(require_page("staff", "admin"))]


@router.get("/toy/permits/{case_id}")
async def permit_page(
    request: Request, session: DbSession, principal: Staff, case_id: uuid.UUID
) -> Response:
    case_ = await cases.get_case(session, principal, case_id)
    state = cases.get_case_type(case_.case_type).state(case_.state)
    return render(request, "toy/permit.html", {"case": case_, "state": state}, principal=principal)
