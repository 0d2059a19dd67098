"""HTTP of the extensions beyond the SensorThings standard, at /api/v1/sensing (outside the
standard's namespace: ``/sta/v1.1/Datastreams/latest`` would clash with its path grammar).
Reads are public and see only what the caller may read (access.py); changes are staff's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from smartcity.core.authz import Principal
from smartcity.core.security import OptionalPrincipal, public, require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing import jobs as retention
from smartcity.sensing import service as extras

router = APIRouter(prefix="/api/v1/sensing", route_class=UnitOfWorkRoute, tags=["sensing"])

Staff = Annotated[Principal, Depends(require_principal("staff", "admin"))]


def service_root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/sta/v1.1"


@router.get(
    "/latest",
    response_model=extras.LatestPage,
    dependencies=[Depends(public)],
    summary="The latest Observation of each Datastream, in one call",
)
async def latest(
    request: Request,
    session: DbSession,
    principal: OptionalPrincipal,
    datastream: Annotated[str | None, Query(description="Datastream ids, e.g. 1,2,3")] = None,
    thing: Annotated[str | None, Query(description="Thing ids")] = None,
    observed_property: Annotated[str | None, Query(description="ObservedProperty ids")] = None,
    after: Annotated[int, Query(ge=0, description="Datastream id the page starts after")] = 0,
    limit: Annotated[int, Query(ge=1, le=extras.LATEST_MAX)] = extras.LATEST_DEFAULT,
) -> extras.LatestPage:
    return await extras.latest_observations(
        session,
        principal,
        service_root(request),
        datastreams=extras.parse_ids(datastream, "datastream"),
        things=extras.parse_ids(thing, "thing"),
        observed_properties=extras.parse_ids(observed_property, "observed_property"),
        after=after,
        limit=limit,
    )


@router.get(
    "/datastreams/{datastream_id}/aggregates",
    response_model=extras.Aggregates,
    dependencies=[Depends(public)],
    summary="avg/min/max/count/sum of a Datastream per 1min, 5min, 1h or 1d bucket",
)
async def aggregates(
    datastream_id: int,
    session: DbSession,
    principal: OptionalPrincipal,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    interval: str = "1h",
    functions: str | None = None,
) -> extras.Aggregates:
    request = extras.parse_aggregate_request(start, end, interval, functions)
    return await extras.aggregates(session, principal, datastream_id, request)


class RetentionUpdate(BaseModel):
    """How many days a Datastream's Observations are kept; null keeps them for ever."""

    days: int | None = Field(ge=1, le=retention.MAX_RETENTION_DAYS)


class RetentionRead(BaseModel):
    datastream_id: int
    days: int | None


@router.put(
    "/datastreams/{datastream_id}/retention",
    response_model=RetentionRead,
    summary="Set how long a Datastream's Observations are kept",
)
async def set_retention(
    datastream_id: int, body: RetentionUpdate, session: DbSession, principal: Staff
) -> RetentionRead:
    stream = await retention.set_retention(session, principal, datastream_id, body.days)
    return RetentionRead(datastream_id=stream.id, days=stream.retention_days)


class VisibilityUpdate(BaseModel):
    """Whether anyone may read the Thing, or only staff and its owner device."""

    public: bool


class VisibilityRead(BaseModel):
    thing_id: int
    public: bool


@router.put(
    "/things/{thing_id}/visibility",
    response_model=VisibilityRead,
    summary="Make a Thing and everything under it public or restricted",
)
async def set_visibility(
    thing_id: int, body: VisibilityUpdate, session: DbSession, principal: Staff
) -> VisibilityRead:
    thing = await extras.set_visibility(session, principal, thing_id, body.public)
    return VisibilityRead(thing_id=thing.id, public=thing.public)
