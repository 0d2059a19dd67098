"""The insight API: /api/v1/hotline/insight/hotspots, /topics and /kpis, added to the
hotline's router (``add_routes``). Bounded parameters; a bad one is a 422 problem."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from smartcity.core.authz import Principal
from smartcity.core.security import require_principal
from smartcity.core.uow import DbSession
from smartcity.hotline.categories import NODES
from smartcity.hotline.insight import service as insight
from smartcity.hotline.insight.schemas import (
    CategoryCountRead,
    HotspotsRead,
    KpisRead,
    PlaceCountRead,
    SeriesPointRead,
    TopicRead,
    TopicsRead,
    kpi_read,
    window_read,
)
from smartcity.hotline.schemas import CATEGORY_PATTERN, DEPARTMENT_PATTERN

# Citizens are refused by the service (403): the insight is the city's, not a caller's.
Reader = Annotated[
    Principal, Depends(require_principal("staff", "supervisor", "admin", "auditor", "citizen"))
]
PeriodQ = Annotated[insight.Period, Query()]
DayQ = Annotated[date | None, Query()]
CategoryQ = Annotated[str | None, Query(pattern=CATEGORY_PATTERN)]
DepartmentQ = Annotated[str | None, Query(pattern=DEPARTMENT_PATTERN)]


async def hotspots(
    session: DbSession,
    principal: Reader,
    period: PeriodQ = "month",
    date_: Annotated[date | None, Query(alias="date")] = None,
    first: DayQ = None,
    last: DayQ = None,
    level: Annotated[insight.Level, Query()] = "district",
    category: CategoryQ = None,
    depth: Annotated[int, Query(ge=1, le=3)] = 1,
    department: DepartmentQ = None,
) -> HotspotsRead:
    """Orders received in a period (the day, week or month holding ``date``; or ``first`` to
    ``last``, at most a year) per district or street, per category and per day."""
    win = insight.window(period, date_, first, last)
    found = await insight.hotspots(
        session,
        principal,
        win,
        level=level,
        category=category,
        category_depth=depth,
        department=department,
    )
    return HotspotsRead(
        window=window_read(win),
        level=found.level,
        category=found.category,
        department=found.department,
        total=found.total,
        places=[
            PlaceCountRead(code=p.code, district_code=p.district_code, count=p.count)
            for p in found.places
        ],
        categories=[
            CategoryCountRead(
                code=c.code,
                name=NODES[c.code].name if c.code in NODES else c.code,
                name_en=NODES[c.code].name_en if c.code in NODES else c.code,
                count=c.count,
            )
            for c in found.categories
        ],
        series=[SeriesPointRead(bucket=b, count=n) for b, n in found.series],
    )


async def topics(
    session: DbSession,
    principal: Reader,
    date_: Annotated[date | None, Query(alias="date")] = None,
    category: CategoryQ = None,
    min_count: Annotated[int, Query(ge=1, le=insight.MIN_COUNT_MAX)] = insight.MIN_COUNT,
    limit: Annotated[int, Query(ge=1, le=insight.TOPICS_MAX)] = 20,
    department: DepartmentQ = None,
) -> TopicsRead:
    """The terms whose share of the week's orders grew most against the 4 weeks before."""
    if date_ is not None:
        insight.window("week", date_)  # the date's bounds, as for the other figures
    found = await insight.topics(
        session,
        principal,
        on=date_,
        category=category,
        min_count=min_count,
        limit=limit,
        department=department,
    )
    return TopicsRead(
        week_first=found.week_first,
        week_last=found.week_last,
        orders=found.orders,
        previous_orders=found.previous_orders,
        min_count=found.min_count,
        category=found.category,
        topics=[
            TopicRead(
                term=t.term,
                count=t.count,
                share=t.share,
                previous_count=t.previous_count,
                previous_share=t.previous_share,
                growth=t.growth,
            )
            for t in found.topics
        ],
    )


async def kpis(
    session: DbSession,
    principal: Reader,
    period: PeriodQ = "month",
    date_: Annotated[date | None, Query(alias="date")] = None,
    first: DayQ = None,
    last: DayQ = None,
    by: Annotated[insight.KpiBy, Query()] = "department",
    category: CategoryQ = None,
    department: DepartmentQ = None,
) -> KpisRead:
    """办结率, 按时办结率, 满意率, 回退率, 重办率 and handling time (working days: average and
    90th percentile) of the orders received in the period, per department or street."""
    win = insight.window(period, date_, first, last)
    found = await insight.kpis(
        session, principal, win, by=by, category=category, department=department
    )
    return KpisRead(
        window=window_read(win),
        by=found.by,
        category=found.category,
        rows=[kpi_read(r) for r in found.rows],
        total=kpi_read(found.total),
    )


def add_routes(router: APIRouter) -> None:
    """Add the insight's routes to the hotline's API router (under its prefix)."""
    router.add_api_route("/insight/hotspots", hotspots, methods=["GET"])
    router.add_api_route("/insight/topics", topics, methods=["GET"])
    router.add_api_route("/insight/kpis", kpis, methods=["GET"])
