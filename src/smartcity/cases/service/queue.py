"""The work queues (待办): open cases by urgency (red first, then the nearest end), and the
staff desk's tabs (我的待办, 本部门, 未分派) with one page of a tab and every tab's counts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, true
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.models import Case
from smartcity.cases.service.access import readable_cases
from smartcity.cases.service.assignment import department_by_code
from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import gettext as _


def _is_red() -> Any:
    return or_(
        Case.statutory_warning == "red", Case.promised_warning == "red", Case.step_warning == "red"
    )


async def work_queue(
    session: AsyncSession,
    principal: Principal,
    *,
    department: str | None = None,
    state: str | None = None,
    warning: str | None = None,
    assignee: uuid.UUID | None = None,
    limit: int = 100,
) -> list[Case]:
    """Open cases by urgency (按紧急程度): red first, then the nearest due."""
    query = readable_cases(principal).where(Case.closed_at.is_(None))
    if department:
        dep = await department_by_code(session, department)
        query = query.where(Case.department_id == dep.id)
    if state:
        query = query.where(Case.state == state)
    if assignee:
        query = query.where(Case.assignee_account_id == assignee)
    if warning == "red":
        query = query.where(_is_red())
    elif warning == "yellow":
        query = query.where(
            or_(
                Case.statutory_warning == "yellow",
                Case.promised_warning == "yellow",
                Case.step_warning == "yellow",
            )
        )
    elif warning is not None:
        raise InvalidInput(
            _("A warning filter is red or yellow, not %(value)s.") % {"value": warning},
            field="warning",
        )
    query = query.order_by(case((_is_red(), 0), else_=1), Case.next_due_at, Case.number)
    return list((await session.execute(query.limit(limit))).scalars())


QUEUE_TABS = ("mine", "department", "unassigned")


def _tab_filter(principal: Principal, tab: str) -> Any:
    if tab == "mine":
        if principal.id is None:
            return false()
        return Case.assignee_account_id == principal.id
    if tab == "unassigned":
        return Case.assignee_account_id.is_(None)
    return true()


def _is_yellow() -> Any:
    return or_(
        Case.statutory_warning == "yellow",
        Case.promised_warning == "yellow",
        Case.step_warning == "yellow",
    )


def _desk_base(
    principal: Principal, department_id: uuid.UUID | None, case_type: str | None
) -> Select[Case]:
    query = readable_cases(principal).where(Case.closed_at.is_(None))
    if department_id is not None:
        query = query.where(Case.department_id == department_id)
    if case_type:
        query = query.where(Case.case_type == case_type)
    return query


async def desk_queue(
    session: AsyncSession,
    principal: Principal,
    *,
    tab: str = "mine",
    department_id: uuid.UUID | None = None,
    case_type: str | None = None,
    state: str | None = None,
    warning: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Case], bool]:
    """One page of a queue tab (我的待办, 本部门, 未分派) in the order of ``work_queue``, and
    whether more follow."""
    if tab not in QUEUE_TABS:
        raise InvalidInput(_("There is no queue %(tab)s.") % {"tab": tab}, field="tab")
    query = _desk_base(principal, department_id, case_type).where(_tab_filter(principal, tab))
    if state:
        query = query.where(Case.state == state)
    if warning == "red":
        query = query.where(_is_red())
    elif warning == "yellow":
        query = query.where(_is_yellow())
    elif warning:
        raise InvalidInput(
            _("A warning filter is red or yellow, not %(value)s.") % {"value": warning},
            field="warning",
        )
    query = query.order_by(case((_is_red(), 0), else_=1), Case.next_due_at, Case.number)
    rows = list((await session.execute(query.limit(limit + 1).offset(offset))).scalars())
    return rows[:limit], len(rows) > limit


async def desk_counts(
    session: AsyncSession,
    principal: Principal,
    *,
    department_id: uuid.UUID | None = None,
    case_type: str | None = None,
) -> dict[str, dict[str, int]]:
    """Open cases of each tab, with its red and yellow ones, in one query:
    ``{"mine": {"all": 3, "red": 1, "yellow": 0}, ...}``."""

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    columns = []
    for tab in QUEUE_TABS:
        in_tab = _tab_filter(principal, tab)
        columns += [
            count(in_tab),
            count(and_(in_tab, _is_red())),
            count(and_(in_tab, _is_yellow())),
        ]
    query = _desk_base(principal, department_id, case_type).with_only_columns(
        *columns, maintain_column_froms=True
    )
    row = list((await session.execute(query)).one())
    return {
        tab: {"all": int(row[3 * i]), "red": int(row[3 * i + 1]), "yellow": int(row[3 * i + 2])}
        for i, tab in enumerate(QUEUE_TABS)
    }
