"""The cases and flags behind a figure of the board (钻取): the drill-down query
(``CaseQuery``), a case as the lists show it (``CaseLine``) with its working days overdue or
left, and the flags in scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import flags
from smartcity.cases.deadline import DeadlineState, case_deadline
from smartcity.cases.models import FLAG_KINDS, Case, CaseFlag, CaseRating
from smartcity.cases.supervision.months import month_start, parse_month, shift
from smartcity.cases.supervision.names import category_names, state_title
from smartcity.cases.supervision.scope import (
    POOR_SCORE,
    BoardFilter,
    Scope,
    any_red,
    resolve,
    yellow_only,
)
from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.workdays import WorkCalendar, load_calendar

LIST_MAX = 500
EXPORT_MAX = 100_000


@dataclass(frozen=True)
class CaseQuery:
    """What a drill-down list shows, beyond the board's filter: open or closed cases, a state,
    a warning level (red, yellow), a month of closing, only late ones, only poorly rated ones,
    only those with an open flag (``flag``: a kind, or "any")."""

    status: str | None = None  # "open", "closed" or None for both
    state: str | None = None
    warning: str | None = None
    month: str | None = None
    late: bool = False
    poor: bool = False
    flag: str | None = None


@dataclass
class CaseLine:
    """A case as the lists and exports show it."""

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
    # The case's one deadline (cases/deadline.py) as of the list's instant: its last day,
    # its state, and the working days past it (overdue) or left (running, paused).
    due_date: date | None = None
    deadline_state: DeadlineState | None = None
    remaining_workdays: int | None = None
    overdue_workdays: int | None = None
    left_workdays: int | None = None


_LINE_COLUMNS = (
    Case.id,
    Case.number,
    Case.title,
    Case.case_type,
    Case.state,
    Case.category,
    Case.opened_at,
    Case.next_due_at,
    Case.promised_due_at,
    Case.statutory_due_at,
    Case.step_due_at,
    Case.statutory_warn_at,
    Case.promised_warn_at,
    Case.step_warn_at,
    Case.closed_at,
    Case.paused_at,
    Case.statutory_warning,
    Case.promised_warning,
    Case.step_warning,
    Case.handled_workdays,
    Case.on_time,
    Department.code,
    Department.name,
    Department.name_en,
)


def _case_conditions(scope: Scope, query: CaseQuery) -> list[ColumnElement[bool]]:
    conditions = list(scope.conditions)
    if query.status not in (None, "open", "closed"):
        raise InvalidInput(
            _("A status is open or closed, not %(value)s.") % {"value": query.status},
            field="status",
        )
    status = query.status
    if query.warning is not None:
        if query.warning not in ("red", "yellow"):
            raise InvalidInput(
                _("A warning filter is red or yellow, not %(value)s.") % {"value": query.warning},
                field="warning",
            )
        conditions.append(any_red() if query.warning == "red" else yellow_only())
        status = "open"
    if query.month is not None or query.late or query.poor:
        if status == "open":
            raise InvalidInput(
                _("Months, lateness and ratings are about closed cases."), field="status"
            )
        status = "closed"
    if query.month is not None:
        year, month = parse_month(query.month, "month")
        conditions += [
            Case.closed_at >= month_start(year, month),
            Case.closed_at < month_start(*shift(year, month, 1)),
        ]
    elif status == "closed":
        conditions += [Case.closed_at >= scope.start, Case.closed_at < scope.end]
    if status == "open":
        conditions.append(Case.closed_at.is_(None))
    elif status == "closed":
        conditions.append(Case.closed_at.is_not(None))
    if query.state:
        conditions.append(Case.state == query.state[:64])
    if query.late:
        conditions.append(Case.on_time.is_(False))
    if query.poor:
        conditions.append(
            Case.id.in_(select(CaseRating.case_id).where(CaseRating.score <= POOR_SCORE))
        )
    if query.flag is not None:
        kind = None if query.flag in ("", "any") else query.flag
        if kind is not None and kind not in FLAG_KINDS:
            raise InvalidInput(
                _("There is no flag kind %(kind)s.") % {"kind": query.flag}, field="flag"
            )
        open_flags = select(CaseFlag.case_id).where(CaseFlag.reviewed_at.is_(None))
        if kind is not None:
            open_flags = open_flags.where(CaseFlag.kind == kind)
        conditions.append(Case.id.in_(open_flags))
    return conditions


def _order(query: CaseQuery) -> list[Any]:
    if query.status == "closed" or query.month or query.late or query.poor:
        return [Case.closed_at.desc(), Case.number]
    # Open first, red before yellow, then the nearest end: the work queue's order.
    return [
        Case.closed_at.is_not(None),
        case((any_red(), 0), (yellow_only(), 1), else_=2),
        Case.next_due_at,
        Case.number,
    ]


async def case_list(
    session: AsyncSession,
    principal: Principal,
    board_filter: BoardFilter | None = None,
    query: CaseQuery | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
    calendar: WorkCalendar | None = None,
) -> tuple[list[CaseLine], int]:
    """The cases behind a figure of the board (钻取), most urgent first, and how many there
    are in all."""
    q = query or CaseQuery()
    scope = await resolve(session, principal, board_filter)
    conditions = _case_conditions(scope, q)
    if not 1 <= limit <= EXPORT_MAX or offset < 0:
        raise InvalidInput(_("A page is 1 to %(max)s cases.") % {"max": EXPORT_MAX}, field="limit")
    total = (
        await session.execute(select(func.count()).select_from(Case).where(*conditions))
    ).scalar_one()
    rows = (
        await session.execute(
            select(*_LINE_COLUMNS)
            .join(Department, Department.id == Case.department_id)
            .where(*conditions)
            .order_by(*_order(q))
            .limit(limit)
            .offset(offset)
        )
    ).all()
    names = await category_names(session, {r.category for r in rows})
    calendar = calendar or await load_calendar(session)
    now = clock.now()
    lines = []
    for r in rows:
        warnings = {
            name: level
            for name, level in (
                ("statutory", r.statutory_warning),
                ("promised", r.promised_warning),
                ("step", r.step_warning),
            )
            if level != "none"
        }
        line = CaseLine(
            id=r.id,
            number=r.number,
            title=r.title,
            case_type=r.case_type,
            state=r.state,
            state_title=state_title(r.case_type, r.state),
            department_code=r.code,
            department_name=i18n.pick(r.name, r.name_en),
            category=r.category,
            category_name=names.get(r.category, r.category),
            opened_at=r.opened_at,
            next_due_at=r.next_due_at,
            promised_due_at=r.promised_due_at,
            statutory_due_at=r.statutory_due_at,
            closed_at=r.closed_at,
            paused=r.paused_at is not None,
            warnings=warnings,
            handled_workdays=r.handled_workdays,
            on_time=r.on_time,
        )
        deadline = case_deadline(r, calendar, now)
        line.due_date, line.deadline_state = deadline.due_date, deadline.state
        line.remaining_workdays = deadline.remaining
        if deadline.state == "overdue":
            line.overdue_workdays = deadline.overdue_workdays
        elif deadline.state != "closed":
            line.left_workdays = deadline.remaining
        lines.append(line)
    return lines, int(total)


async def flag_list(
    session: AsyncSession,
    principal: Principal,
    board_filter: BoardFilter | None = None,
    *,
    kind: str | None = None,
    open_only: bool = True,
    limit: int = 50,
) -> list[tuple[CaseFlag, Case, str]]:
    """Flags in the board's scope, newest first, with their case and department name."""
    scope = await resolve(session, principal, board_filter)
    statement = (
        flags.readable_flags(principal)
        .add_columns(Department.name, Department.name_en)
        .join(Department, Department.id == Case.department_id)
        .where(*scope.conditions)
    )
    if kind:
        if kind not in FLAG_KINDS:
            raise InvalidInput(_("There is no flag kind %(kind)s.") % {"kind": kind}, field="kind")
        statement = statement.where(CaseFlag.kind == kind)
    if open_only:
        statement = statement.where(CaseFlag.reviewed_at.is_(None))
    else:
        statement = statement.where(CaseFlag.reviewed_at.is_not(None))
    rows = await session.execute(
        statement.order_by(
            CaseFlag.reviewed_at.desc() if not open_only else CaseFlag.raised_at.desc()
        ).limit(limit)
    )
    return [(row[0], row[1], i18n.pick(row[2], row[3])) for row in rows.all()]
