"""The board's filter (``BoardFilter``) resolved against the principal into a ``Scope``: who
may see the board and which departments, the conditions on cases and the range of months; and
the conditions the figures and the lists share (a red warning, a yellow one only, a poor
rating)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.models import Case
from smartcity.cases.supervision.months import TREND_MONTHS, month_start, parse_month, shift
from smartcity.cases.types import get_case_type
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department

BOARD_KINDS = frozenset({"supervisor", "admin", "auditor"})
# A rating this low or lower is a poor one (差评) on the national 好差评 scale of 1 to 5.
POOR_SCORE = 2
MAX_MONTHS = 60


@dataclass(frozen=True)
class BoardFilter:
    """What the board is narrowed to: a department (code), a category (e.g. a service item's
    code), a case type and a range of months (``YYYY-MM``, both ends included) for the closed
    cases. Open cases are always the current ones."""

    department: str | None = None
    category: str | None = None
    case_type: str | None = None
    first_month: str | None = None
    last_month: str | None = None


@dataclass(frozen=True)
class Scope:
    """A resolved filter: the conditions on cases and the months of the range."""

    conditions: tuple[ColumnElement[bool], ...]
    months: tuple[str, ...]
    start: datetime
    end: datetime
    department: Department | None
    own_department_only: bool
    filter: BoardFilter

    def closed_conditions(self) -> tuple[ColumnElement[bool], ...]:
        return (
            *self.conditions,
            Case.closed_at.is_not(None),
            Case.closed_at >= self.start,
            Case.closed_at < self.end,
        )

    def open_conditions(self) -> tuple[ColumnElement[bool], ...]:
        return (*self.conditions, Case.closed_at.is_(None))


def may_see_board(principal: Principal) -> bool:
    return principal.is_(*BOARD_KINDS) or (
        principal.kind == "staff" and principal.department_id is not None
    )


async def resolve(
    session: AsyncSession, principal: Principal, board_filter: BoardFilter | None = None
) -> Scope:
    """Check the filter and turn it into conditions; 403 for those the board is not for."""
    f = board_filter or BoardFilter()
    if not may_see_board(principal):
        raise Forbidden(_("The supervision board is for supervisors and department staff."))
    conditions: list[ColumnElement[bool]] = []
    own_only = not principal.is_(*BOARD_KINDS)
    if own_only:
        conditions.append(Case.department_id == principal.department_id)
    department = None
    if f.department:
        department = (
            await session.execute(select(Department).where(Department.code == f.department))
        ).scalar_one_or_none()
        if department is None:
            raise InvalidInput(
                _("There is no department with the code %(code)s.") % {"code": f.department},
                field="department",
            )
        conditions.append(Case.department_id == department.id)
    if f.category:
        if len(f.category) > 64:
            raise InvalidInput(_("There is no such category."), field="category")
        conditions.append(Case.category == f.category)
    if f.case_type:
        try:
            get_case_type(f.case_type)
        except LookupError:
            raise InvalidInput(
                _("There is no case type %(name)s.") % {"name": f.case_type}, field="case_type"
            ) from None
        conditions.append(Case.case_type == f.case_type)
    today = clock.to_city(clock.now()).date()
    last = parse_month(f.last_month, "to") if f.last_month else (today.year, today.month)
    first = (
        parse_month(f.first_month, "from") if f.first_month else shift(*last, -(TREND_MONTHS - 1))
    )
    span = (last[0] * 12 + last[1]) - (first[0] * 12 + first[1]) + 1
    if span < 1:
        raise InvalidInput(_("The first month comes after the last."), field="from")
    if span > MAX_MONTHS:
        raise InvalidInput(_("Choose at most %(n)s months.") % {"n": MAX_MONTHS}, field="from")
    months = tuple(f"{y:04d}-{m:02d}" for y, m in (shift(*first, i) for i in range(span)))
    return Scope(
        conditions=tuple(conditions),
        months=months,
        start=month_start(*first),
        end=month_start(*shift(*last, 1)),
        department=department,
        own_department_only=own_only,
        filter=f,
    )


def any_red() -> ColumnElement[bool]:
    return or_(
        Case.statutory_warning == "red", Case.promised_warning == "red", Case.step_warning == "red"
    )


def yellow_only() -> ColumnElement[bool]:
    return and_(
        not_(any_red()),
        or_(
            Case.statutory_warning == "yellow",
            Case.promised_warning == "yellow",
            Case.step_warning == "yellow",
        ),
    )
