"""The public air quality API (空气质量开放接口), /api/v1/environment/air: read-only, open to
anyone; a station that is not public does not exist for an anonymous caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from smartcity.core import clock
from smartcity.core.security import OptionalPrincipal, public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.environment import schemas, service, views
from smartcity.sensing.contract import format_datetime

router = APIRouter(
    prefix="/api/v1/environment/air", route_class=UnitOfWorkRoute, tags=["environment"]
)
Public = [Depends(public)]
From = Annotated[
    str | None,
    Query(alias="from", description="A date (Asia/Shanghai) or an ISO 8601 time with offset"),
]
To = Annotated[str | None, Query(alias="to", description="Exclusive; a date includes that day")]


@router.get(
    "/stations",
    response_model=list[schemas.StationOut],
    dependencies=Public,
    summary="Air stations with their current hourly AQI",
)
async def stations(session: DbSession, principal: OptionalPrincipal) -> list[schemas.StationOut]:
    views_ = await views.station_views(session, principal)
    return [schemas.StationOut(**schemas.station_out(v)) for v in views_]


@router.get(
    "/stations/{station_id}",
    response_model=schemas.StationDetail,
    dependencies=Public,
    summary="One station: the latest hourly and daily report, per pollutant",
)
async def station(
    station_id: int, session: DbSession, principal: OptionalPrincipal
) -> schemas.StationDetail:
    found = await service.get_station(session, principal, station_id)
    unreadable: set[int] = set()
    hourly = (await service.latest_reports(session, [found], unreadable=unreadable)).get(found.id)
    daily = (await service.latest_reports(session, [found], daily=True, unreadable=unreadable)).get(
        found.id
    )
    view = views.StationView(
        found,
        hourly,
        hourly is None or hourly.end < clock.now() - views.STALE_AFTER,
        found.id in unreadable,
    )
    return schemas.StationDetail(
        **schemas.station_out(view),
        hourly=schemas.report_out(hourly) if hourly else None,
        daily=schemas.report_out(daily) if daily else None,
    )


async def _series(
    session: DbSession,
    principal: OptionalPrincipal,
    station_id: int,
    start: str | None,
    end: str | None,
    *,
    daily: bool,
) -> schemas.Series:
    since, until = views.parse_range(start, end, daily=daily)
    found = await service.get_station(session, principal, station_id)
    reports = await service.reports_between(session, found, since, until, daily=daily)
    return schemas.Series(
        station_id=found.id,
        start=format_datetime(since),
        end=format_datetime(until),
        kind="daily" if daily else "hourly",
        points=[schemas.report_out(r) for r in reports],
    )


@router.get(
    "/stations/{station_id}/hourly",
    response_model=schemas.Series,
    dependencies=Public,
    summary="A station's hourly reports in [from, to) (at most 31 days; default the last 24 h)",
)
async def hourly(
    station_id: int,
    session: DbSession,
    principal: OptionalPrincipal,
    start: From = None,
    end: To = None,
) -> schemas.Series:
    return await _series(session, principal, station_id, start, end, daily=False)


@router.get(
    "/stations/{station_id}/daily",
    response_model=schemas.Series,
    dependencies=Public,
    summary="A station's daily reports in [from, to) (at most 366 days; default 30 days)",
)
async def daily(
    station_id: int,
    session: DbSession,
    principal: OptionalPrincipal,
    start: From = None,
    end: To = None,
) -> schemas.Series:
    return await _series(session, principal, station_id, start, end, daily=True)


@router.get(
    "/summary",
    response_model=schemas.Summary,
    dependencies=Public,
    summary="The city's hourly AQI (mean of the stations' concentrations), stations per category",
)
async def summary(session: DbSession, principal: OptionalPrincipal) -> schemas.Summary:
    return schemas.summary_out(await views.city_summary(session, principal))
