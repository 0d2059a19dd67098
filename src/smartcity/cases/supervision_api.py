"""REST API of the electronic supervision board (电子监察): the figures, the yellow and red
lists, the cases behind any figure and CSV exports. The flags and their review are the cases
API's (``/api/v1/cases/flags``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from smartcity.cases import supervision
from smartcity.cases.supervision import BoardFilter, BoardRow, CaseLine, CaseQuery
from smartcity.core.authz import Principal
from smartcity.core.security import require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute

router = APIRouter(prefix="/api/v1/supervision", route_class=UnitOfWorkRoute, tags=["supervision"])

# Department staff see their own department's figures; the service narrows them.
Board = Annotated[Principal, Depends(require_principal("supervisor", "admin", "auditor", "staff"))]
MONTH = r"^\d{4}-\d{2}$"


def board_filter(
    department: Annotated[str | None, Query(max_length=32)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    case_type: Annotated[str | None, Query(max_length=64)] = None,
    first_month: Annotated[
        str | None, Query(alias="from", pattern=MONTH, description="First month, YYYY-MM")
    ] = None,
    last_month: Annotated[
        str | None, Query(alias="to", pattern=MONTH, description="Last month, YYYY-MM")
    ] = None,
) -> BoardFilter:
    """The board's filter from the query string; the range defaults to the last 12 months."""
    return BoardFilter(department, category, case_type, first_month, last_month)


Filter = Annotated[BoardFilter, Depends(board_filter)]


def case_query(
    status: Literal["open", "closed"] | None = None,
    state: Annotated[str | None, Query(max_length=64)] = None,
    warning: Literal["red", "yellow"] | None = None,
    month: Annotated[str | None, Query(pattern=MONTH)] = None,
    late: bool = False,
    poor: bool = False,
    flag: Annotated[
        str | None, Query(max_length=32, description="Open flags of a kind, or any")
    ] = None,
) -> CaseQuery:
    return CaseQuery(status, state, warning, month, late, poor, flag)


Drill = Annotated[CaseQuery, Depends(case_query)]


class OpenFiguresRead(BaseModel):
    open: int
    yellow: int
    red: int
    paused: int


class ClosedFiguresRead(BaseModel):
    closed: int
    on_time: int
    on_time_rate: float | None
    average_workdays: float | None
    p90_workdays: int | None
    ratings: int
    rating_average: float | None
    poor_ratings: int
    poor_share: float | None


class BoardRowRead(BaseModel):
    """One line of a table: a department (key = code), a category or a month (YYYY-MM)."""

    key: str
    label: str
    open: OpenFiguresRead
    closed: ClosedFiguresRead
    open_flags: dict[str, int]


class StateCountRead(BaseModel):
    case_type: str
    state: str
    title: str
    count: int


class SummaryRead(BaseModel):
    """The tiles: open figures now, closed figures in the months, open flags by kind."""

    first_month: str
    last_month: str
    own_department_only: bool
    open: OpenFiguresRead
    closed: ClosedFiguresRead
    open_flags: dict[str, int]
    open_by_state: list[StateCountRead]


class CaseLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    title: str
    case_type: str
    state: str
    state_title: str
    department_code: str
    department_name: str
    category: str
    category_name: str
    opened_at: datetime
    next_due_at: datetime
    promised_due_at: datetime | None
    statutory_due_at: datetime
    closed_at: datetime | None
    paused: bool
    warnings: dict[str, str]
    handled_workdays: int | None
    on_time: bool | None
    overdue_workdays: int | None
    left_workdays: int | None
    # The case's one deadline (cases/deadline.py), as the pages and messages show it.
    due_date: date | None
    deadline_state: Literal["on_time", "warning", "overdue", "paused", "closed"] | None
    remaining_workdays: int | None


class CasePage(BaseModel):
    total: int
    items: list[CaseLineRead]


def _closed(row: BoardRow) -> ClosedFiguresRead:
    c = row.closed
    return ClosedFiguresRead(
        closed=c.closed,
        on_time=c.on_time,
        on_time_rate=c.on_time_rate,
        average_workdays=c.average_days,
        p90_workdays=c.p90_days,
        ratings=c.ratings,
        rating_average=c.rating_average,
        poor_ratings=c.poor,
        poor_share=c.poor_share,
    )


def _row(row: BoardRow) -> BoardRowRead:
    o = row.open
    return BoardRowRead(
        key=row.key,
        label=row.label,
        open=OpenFiguresRead(open=o.open, yellow=o.yellow, red=o.red, paused=o.paused),
        closed=_closed(row),
        open_flags=row.flags,
    )


def _page(lines: list[CaseLine], total: int) -> CasePage:
    return CasePage(total=total, items=[CaseLineRead.model_validate(line) for line in lines])


@router.get("/summary", response_model=SummaryRead)
async def summary(principal: Board, session: DbSession, f: Filter) -> SummaryRead:
    """The board's tiles for the filter."""
    s = await supervision.summary(session, principal, f)
    row = _row(s.total)
    return SummaryRead(
        first_month=s.scope.months[0],
        last_month=s.scope.months[-1],
        own_department_only=s.scope.own_department_only,
        open=row.open,
        closed=row.closed,
        open_flags=row.open_flags,
        open_by_state=[StateCountRead(**vars(x)) for x in s.by_state],
    )


@router.get("/by-department", response_model=list[BoardRowRead])
async def by_department(principal: Board, session: DbSession, f: Filter) -> list[BoardRowRead]:
    """Per department, red first."""
    return [_row(r) for r in await supervision.by_department(session, principal, f)]


@router.get("/by-category", response_model=list[BoardRowRead])
async def by_category(principal: Board, session: DbSession, f: Filter) -> list[BoardRowRead]:
    """Per category (the service item's code for applications), red first."""
    return [_row(r) for r in await supervision.by_category(session, principal, f)]


@router.get("/by-month", response_model=list[BoardRowRead])
async def by_month(principal: Board, session: DbSession, f: Filter) -> list[BoardRowRead]:
    """Per month of closing, every month of the range: the trend."""
    return [_row(r) for r in await supervision.by_month(session, principal, f)]


@router.get("/red", response_model=CasePage)
async def red(
    principal: Board,
    session: DbSession,
    f: Filter,
    limit: Annotated[int, Query(ge=1, le=supervision.LIST_MAX)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CasePage:
    """Open cases past a limit (红牌), the longest overdue first."""
    lines, total = await supervision.case_list(
        session, principal, f, CaseQuery(warning="red"), limit=limit, offset=offset
    )
    return _page(lines, total)


@router.get("/yellow", response_model=CasePage)
async def yellow(
    principal: Board,
    session: DbSession,
    f: Filter,
    limit: Annotated[int, Query(ge=1, le=supervision.LIST_MAX)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CasePage:
    """Open cases near a limit (黄牌) and not past any, the nearest end first."""
    lines, total = await supervision.case_list(
        session, principal, f, CaseQuery(warning="yellow"), limit=limit, offset=offset
    )
    return _page(lines, total)


@router.get("/cases", response_model=CasePage)
async def cases(
    principal: Board,
    session: DbSession,
    f: Filter,
    q: Drill,
    limit: Annotated[int, Query(ge=1, le=supervision.LIST_MAX)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CasePage:
    """The cases behind a figure (钻取): the board's filter plus status, state, warning, month
    of closing, late, poorly rated, open flag."""
    lines, total = await supervision.case_list(session, principal, f, q, limit=limit, offset=offset)
    return _page(lines, total)


def csv_response(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/export", response_class=Response)
async def export(
    principal: Board,
    session: DbSession,
    f: Filter,
    table: Literal["department", "category", "month"] = "department",
) -> Response:
    """A table as CSV (UTF-8 with a byte-order mark, for Excel)."""
    content = await supervision.export_table(session, principal, table, f)
    return csv_response(content, f"supervision-{table}.csv")


@router.get("/export/cases", response_class=Response)
async def export_cases(principal: Board, session: DbSession, f: Filter, q: Drill) -> Response:
    """The cases behind a drill-down as CSV, at most 100,000."""
    content = await supervision.export_cases(session, principal, f, q)
    return csv_response(content, "supervision-cases.csv")
