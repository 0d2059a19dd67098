"""The electronic supervision board (电子监察): queries across departments for supervisors.

Open cases by state and department, the yellow and red lists (黄牌/红牌), and for the cases
closed in a range of months per department, category (service item, 事项) and month: how many,
the on-time rate (按时办结率), average and 90th-percentile handling time in working days
(办理用时), the applicants' ratings (好差评) and the open irregularity flags (异常).

Every figure is one set-based query grouped in SQL, so the board costs the same few queries at
a million cases. Handling times are read as a histogram (one row per key and number of
working days), from which the average and the exact 90th percentile follow without loading a
case. Months are the city's (Asia/Shanghai, UTC+8 all year since 1991).

Who sees what: supervisors, admins and auditors every department; department staff their own
department only; anyone else nothing (403).
"""

from __future__ import annotations

import csv
import io
import math
import re
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from smartcity.cases import flags
from smartcity.cases.models import FLAG_KINDS, Case, CaseFlag, CaseRating
from smartcity.cases.types import case_types, get_case_type
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.workdays import WorkCalendar

BOARD_KINDS = frozenset({"supervisor", "admin", "auditor"})
# A rating this low or lower is a poor one (差评) on the national 好差评 scale of 1 to 5.
POOR_SCORE = 2
TREND_MONTHS = 12
MAX_MONTHS = 60
LIST_MAX = 500
EXPORT_MAX = 100_000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SECOND = timedelta(seconds=1)

FLAG_TITLES: dict[str, str] = {
    "qualifying_not_accepted": N_("Qualifying application not accepted"),
    "refusal_without_reason": N_("Refusal without a reason"),
    "out_of_order": N_("Step out of order"),
    "reopened": N_("Reopened after closing"),
}

CLOCK_TITLES: dict[str, str] = {
    "statutory": N_("Statutory limit"),
    "promised": N_("Promised limit"),
    "step": N_("Step limit"),
}
LEVEL_TITLES: dict[str, str] = {"yellow": N_("yellow"), "red": N_("red")}


# --- category names ---------------------------------------------------------------------

CategoryNames = Callable[[AsyncSession, Sequence[str]], Awaitable[Mapping[str, str]]]
_CATEGORY_NAMES: list[CategoryNames] = []


def register_category_names(names: CategoryNames) -> CategoryNames:
    """Let a domain name its categories on the board, e.g. the service hall its items
    (事项编码 → 事项名称). The engine imports no domain, so the domain registers this."""
    if names not in _CATEGORY_NAMES:
        _CATEGORY_NAMES.append(names)
    return names


def unregister_category_names(names: CategoryNames) -> None:
    """Forget a resolver (tests register their own)."""
    if names in _CATEGORY_NAMES:
        _CATEGORY_NAMES.remove(names)


async def category_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """Names of the categories the registered resolvers know; the first answer wins."""
    wanted = sorted({c for c in codes if c})
    found: dict[str, str] = {}
    for resolver in _CATEGORY_NAMES:
        missing = [c for c in wanted if c not in found]
        if not missing:
            break
        for code, name in (await resolver(session, missing)).items():
            found.setdefault(code, name)
    return found


# --- months in the city's time ----------------------------------------------------------


class city_month(FunctionElement[Any]):
    """The month of an instant in Asia/Shanghai, computed by the database: ``YYYY-MM`` text
    on SQLite, the month's first instant on PostgreSQL (``month_text`` reads either)."""

    name = "city_month"
    inherit_cache = True


@compiles(city_month, "sqlite")
def _city_month_sqlite(element: city_month, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as UTC text; China has kept UTC+8 without daylight saving since 1991.
    (arg,) = element.clauses
    return f"strftime('%Y-%m', {compiler.process(arg, **kw)}, '+8 hours')"


@compiles(city_month, "postgresql")
def _city_month_postgresql(element: city_month, compiler: SQLCompiler, **kw: Any) -> str:
    # A fixed offset and date_trunc: a fraction of what to_char(... AT TIME ZONE name) costs
    # per row at a million rows.
    (arg,) = element.clauses
    return (
        f"date_trunc('month', ({compiler.process(arg, **kw)} AT TIME ZONE 'UTC')"
        " + interval '8 hours')"
    )


def month_text(value: Any) -> str:
    """``YYYY-MM`` of what ``city_month`` gave."""
    return f"{value:%Y-%m}" if isinstance(value, datetime | date) else str(value)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _parse_month(value: str, field_name: str) -> tuple[int, int]:
    match = _MONTH.match(value.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise InvalidInput(
            _("A month is written YYYY-MM, e.g. 2026-11, not %(value)s.") % {"value": value},
            field=field_name,
        )
    return int(match.group(1)), int(match.group(2))


def _shift(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=clock.CITY_TZ).astimezone(UTC)


# --- the filter and the principal's scope ------------------------------------------------


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
    last = _parse_month(f.last_month, "to") if f.last_month else (today.year, today.month)
    first = (
        _parse_month(f.first_month, "from") if f.first_month else _shift(*last, -(TREND_MONTHS - 1))
    )
    span = (last[0] * 12 + last[1]) - (first[0] * 12 + first[1]) + 1
    if span < 1:
        raise InvalidInput(_("The first month comes after the last."), field="from")
    if span > MAX_MONTHS:
        raise InvalidInput(_("Choose at most %(n)s months.") % {"n": MAX_MONTHS}, field="from")
    months = tuple(f"{y:04d}-{m:02d}" for y, m in (_shift(*first, i) for i in range(span)))
    return Scope(
        conditions=tuple(conditions),
        months=months,
        start=_month_start(*first),
        end=_month_start(*_shift(*last, 1)),
        department=department,
        own_department_only=own_only,
        filter=f,
    )


# --- figures ------------------------------------------------------------------------------


@dataclass
class OpenFigures:
    """Open cases (在办): all, with a yellow warning only (黄牌), with a red one (红牌), paused
    for the applicant (补正)."""

    open: int = 0
    yellow: int = 0
    red: int = 0
    paused: int = 0

    def merge(self, other: OpenFigures) -> None:
        self.open += other.open
        self.yellow += other.yellow
        self.red += other.red
        self.paused += other.paused


@dataclass
class ClosedFigures:
    """Cases closed (办结) in the range, from the histogram of handling times, with their
    ratings."""

    closed: int = 0
    on_time: int = 0
    histogram: dict[int, int] = field(default_factory=dict)
    ratings: int = 0
    score_sum: int = 0
    poor: int = 0

    def add(self, workdays: int | None, count: int, on_time: int) -> None:
        self.closed += count
        self.on_time += on_time
        if workdays is not None:
            self.histogram[workdays] = self.histogram.get(workdays, 0) + count

    def rate(self, count: int, score_sum: int, poor: int) -> None:
        self.ratings += count
        self.score_sum += score_sum
        self.poor += poor

    def merge(self, other: ClosedFigures) -> None:
        self.closed += other.closed
        self.on_time += other.on_time
        for days, count in other.histogram.items():
            self.histogram[days] = self.histogram.get(days, 0) + count
        self.rate(other.ratings, other.score_sum, other.poor)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.closed if self.closed else None

    @property
    def average_days(self) -> float | None:
        n = sum(self.histogram.values())
        return sum(d * c for d, c in self.histogram.items()) / n if n else None

    @property
    def p90_days(self) -> int | None:
        """The nearest-rank 90th percentile: the fewest working days within which at least
        90 % of the cases closed."""
        return percentile(self.histogram, 0.9)

    @property
    def rating_average(self) -> float | None:
        return self.score_sum / self.ratings if self.ratings else None

    @property
    def poor_share(self) -> float | None:
        return self.poor / self.ratings if self.ratings else None


def percentile(histogram: Mapping[int, int], q: float) -> int | None:
    """The nearest-rank percentile of a histogram {value: count}: exact, no interpolation."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)  # pragma: no cover - rank never exceeds n


@dataclass
class BoardRow:
    """One line of a board table: a department, a category or a month."""

    key: str
    label: str
    open: OpenFigures = field(default_factory=OpenFigures)
    closed: ClosedFigures = field(default_factory=ClosedFigures)
    flags: dict[str, int] = field(default_factory=dict)

    @property
    def open_flags(self) -> int:
        return sum(self.flags.values())

    def merge(self, other: BoardRow) -> None:
        self.open.merge(other.open)
        self.closed.merge(other.closed)
        for kind, count in other.flags.items():
            self.flags[kind] = self.flags.get(kind, 0) + count


@dataclass
class StateCount:
    case_type: str
    state: str
    title: str
    count: int


@dataclass
class Summary:
    """The board's tiles: open figures, closed figures in the range, open flags by kind and
    the open cases by state."""

    scope: Scope
    total: BoardRow
    by_state: list[StateCount]


@dataclass
class Board:
    """Everything the board page shows but the case lists, from one set of queries."""

    summary: Summary
    departments: list[BoardRow]
    categories: list[BoardRow]
    months: list[BoardRow]


def _red() -> ColumnElement[bool]:
    return or_(
        Case.statutory_warning == "red", Case.promised_warning == "red", Case.step_warning == "red"
    )


def _yellow_only() -> ColumnElement[bool]:
    return and_(
        not_(_red()),
        or_(
            Case.statutory_warning == "yellow",
            Case.promised_warning == "yellow",
            Case.step_warning == "yellow",
        ),
    )


def _flag(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# The figures are read once per (department, category), the finest grain the tables show
# but months, and rolled up in Python: a few thousand rows at most, whatever the cases.
_CELL = (Case.department_id, Case.category)
Cell = tuple[uuid.UUID, str]


async def _open_cells(session: AsyncSession, scope: Scope) -> dict[Cell, BoardRow]:
    statement = (
        select(
            *_CELL,
            func.count(),
            _flag(_yellow_only()),
            _flag(_red()),
            _flag(Case.paused_at.is_not(None)),
        )
        .where(*scope.open_conditions())
        .group_by(*_CELL)
    )
    cells: dict[Cell, BoardRow] = {}
    for dep, cat, n, yellow, red, paused in (await session.execute(statement)).all():
        row = cells.setdefault((dep, cat), BoardRow("", ""))
        row.open = OpenFigures(int(n), int(yellow), int(red), int(paused))
    return cells


async def _histogram(
    session: AsyncSession, scope: Scope, keys: Sequence[Any]
) -> dict[tuple[Any, ...], ClosedFigures]:
    """Closed cases per key and number of working days taken: the histogram the average and
    the percentile come from."""
    statement = (
        select(*keys, Case.handled_workdays, func.count(), _flag(Case.on_time.is_(True)))
        .where(*scope.closed_conditions())
        .group_by(*keys, Case.handled_workdays)
    )
    result: dict[tuple[Any, ...], ClosedFigures] = defaultdict(ClosedFigures)
    for row in (await session.execute(statement)).all():
        result[tuple(row[: len(keys)])].add(row[-3], int(row[-2]), int(row[-1]))
    return result


async def _ratings(
    session: AsyncSession, scope: Scope
) -> list[tuple[uuid.UUID, str, str, int, int, int]]:
    """The ratings of the closed cases per department, category and month: one pass over the
    join, which is the board's dearest query."""
    month = city_month(Case.closed_at)
    statement = (
        select(
            *_CELL,
            month,
            func.count(),
            func.coalesce(func.sum(CaseRating.score), 0),
            _flag(CaseRating.score <= POOR_SCORE),
        )
        .select_from(CaseRating)
        .join(Case, Case.id == CaseRating.case_id)
        .where(*scope.closed_conditions())
        .group_by(*_CELL, month)
    )
    return [
        (dep, cat, month_text(mon), int(n), int(total), int(poor))
        for dep, cat, mon, n, total, poor in (await session.execute(statement)).all()
    ]


async def _flag_cells(session: AsyncSession, scope: Scope) -> dict[Cell, dict[str, int]]:
    statement = (
        select(*_CELL, CaseFlag.kind, func.count())
        .select_from(CaseFlag)
        .join(Case, Case.id == CaseFlag.case_id)
        .where(CaseFlag.reviewed_at.is_(None), *scope.conditions)
        .group_by(*_CELL, CaseFlag.kind)
    )
    cells: dict[Cell, dict[str, int]] = defaultdict(dict)
    for dep, cat, kind, n in (await session.execute(statement)).all():
        cells[(dep, cat)][kind] = int(n)
    return cells


async def _cells(
    session: AsyncSession, scope: Scope, *, monthly: bool
) -> tuple[dict[Cell, BoardRow], dict[str, ClosedFigures]]:
    """Every figure per (department, category), and per month of closing when asked."""
    cells = await _open_cells(session, scope)
    for (dep, cat), closed in (await _histogram(session, scope, _CELL)).items():
        cells.setdefault((dep, cat), BoardRow("", "")).closed = closed
    months: dict[str, ClosedFigures] = {}
    if monthly:
        month = city_month(Case.closed_at)
        months = {
            month_text(k[0]): v for k, v in (await _histogram(session, scope, [month])).items()
        }
    for dep, cat, mon, n, total, poor in await _ratings(session, scope):
        cells.setdefault((dep, cat), BoardRow("", "")).closed.rate(n, total, poor)
        if monthly:
            months.setdefault(mon, ClosedFigures()).rate(n, total, poor)
    for cell, kinds in (await _flag_cells(session, scope)).items():
        cells.setdefault(cell, BoardRow("", "")).flags = kinds
    return cells, months


def _roll_up(cells: Mapping[Cell, BoardRow], axis: int) -> dict[Any, BoardRow]:
    rows: dict[Any, BoardRow] = {}
    for cell, row in cells.items():
        rows.setdefault(cell[axis], BoardRow("", "")).merge(row)
    return rows


def _total(cells: Mapping[Cell, BoardRow]) -> BoardRow:
    total = BoardRow("", "")
    for row in cells.values():
        total.merge(row)
    return total


async def _by_state(session: AsyncSession, scope: Scope) -> list[StateCount]:
    rows = await session.execute(
        select(Case.case_type, Case.state, func.count())
        .where(*scope.open_conditions())
        .group_by(Case.case_type, Case.state)
    )
    found: list[StateCount] = []
    for case_type, state, count in rows.all():
        found.append(StateCount(case_type, state, state_title(case_type, state), int(count)))
    order = _state_order()
    found.sort(key=lambda s: (s.case_type, order.get((s.case_type, s.state), 99)))
    return found


def _state_order() -> dict[tuple[str, str], int]:
    return {(ct.name, s.name): i for ct in case_types() for i, s in enumerate(ct.states)}


def state_title(case_type: str, state: str) -> str:
    """The state's declared title (环节名称), else its name."""
    try:
        return get_case_type(case_type).state(state).title
    except (LookupError, KeyError):
        return state


def _by_weight(rows: Iterable[BoardRow]) -> list[BoardRow]:
    # The most urgent first: red, then yellow, then the volume handled.
    return sorted(rows, key=lambda r: (-r.open.red, -r.open.yellow, -r.closed.closed, r.key))


async def _department_rows(session: AsyncSession, cells: Mapping[Cell, BoardRow]) -> list[BoardRow]:
    rows = _roll_up(cells, 0)
    departments = {
        d.id: d
        for d in (
            await session.execute(select(Department).where(Department.id.in_(list(rows))))
        ).scalars()
    }
    for dep_id, row in rows.items():
        found = departments.get(dep_id)
        row.key, row.label = (found.code, found.name) if found else (str(dep_id), str(dep_id))
    return _by_weight(rows.values())


async def _category_rows(session: AsyncSession, cells: Mapping[Cell, BoardRow]) -> list[BoardRow]:
    rows = _roll_up(cells, 1)
    names = await category_names(session, rows)
    for code, row in rows.items():
        row.key, row.label = code, (names.get(code, code) if code else _("(no category)"))
    return _by_weight(rows.values())


def _month_rows(scope: Scope, months: Mapping[str, ClosedFigures]) -> list[BoardRow]:
    return [BoardRow(m, m, closed=months.get(m, ClosedFigures())) for m in scope.months]


async def board(
    session: AsyncSession, principal: Principal, board_filter: BoardFilter | None = None
) -> Board:
    """The whole board: tiles, open cases by state, and the tables per department, category
    and month, from six grouped queries."""
    scope = await resolve(session, principal, board_filter)
    cells, months = await _cells(session, scope, monthly=True)
    return Board(
        summary=Summary(scope, _total(cells), await _by_state(session, scope)),
        departments=await _department_rows(session, cells),
        categories=await _category_rows(session, cells),
        months=_month_rows(scope, months),
    )


async def summary(
    session: AsyncSession, principal: Principal, board_filter: BoardFilter | None = None
) -> Summary:
    """The tiles of the board (总览) and the open cases by state."""
    scope = await resolve(session, principal, board_filter)
    cells, _months = await _cells(session, scope, monthly=False)
    return Summary(scope, _total(cells), await _by_state(session, scope))


async def by_department(
    session: AsyncSession, principal: Principal, board_filter: BoardFilter | None = None
) -> list[BoardRow]:
    """Per department (按部门): open figures now, closed figures in the range, open flags.
    The key is the department's code; departments with nothing to show are left out; red
    first."""
    scope = await resolve(session, principal, board_filter)
    cells, _months = await _cells(session, scope, monthly=False)
    return await _department_rows(session, cells)


async def by_category(
    session: AsyncSession, principal: Principal, board_filter: BoardFilter | None = None
) -> list[BoardRow]:
    """Per category (按事项): the key is the category code, the label its registered name."""
    scope = await resolve(session, principal, board_filter)
    cells, _months = await _cells(session, scope, monthly=False)
    return await _category_rows(session, cells)


async def by_month(
    session: AsyncSession, principal: Principal, board_filter: BoardFilter | None = None
) -> list[BoardRow]:
    """Per month of closing (按月), every month of the range in order, empty ones included:
    the trend series. Open figures are not per month and stay empty here."""
    scope = await resolve(session, principal, board_filter)
    month = city_month(Case.closed_at)
    months = {month_text(k[0]): v for k, v in (await _histogram(session, scope, [month])).items()}
    ratings = (
        select(
            month,
            func.count(),
            func.coalesce(func.sum(CaseRating.score), 0),
            _flag(CaseRating.score <= POOR_SCORE),
        )
        .select_from(CaseRating)
        .join(Case, Case.id == CaseRating.case_id)
        .where(*scope.closed_conditions())
        .group_by(month)
    )
    for mon, n, total, poor in (await session.execute(ratings)).all():
        months.setdefault(month_text(mon), ClosedFigures()).rate(int(n), int(total), int(poor))
    return _month_rows(scope, months)


async def categories(
    session: AsyncSession, principal: Principal, board_filter: BoardFilter | None = None
) -> list[tuple[str, str]]:
    """The categories of the cases in scope, with their names, for a filter's choices."""
    department = (board_filter or BoardFilter()).department
    scope = await resolve(session, principal, BoardFilter(department=department))
    codes = (
        await session.execute(
            select(Case.category).where(*scope.conditions, Case.category != "").distinct()
        )
    ).scalars()
    found = sorted(set(codes))
    names = await category_names(session, found)
    return [(c, names.get(c, c)) for c in found]


# --- case lists (drill-down) --------------------------------------------------------------


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
    # For red cases the working days past the earliest missed limit; for open yellow and
    # running ones the working days left to the nearest.
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
    Case.closed_at,
    Case.paused_at,
    Case.statutory_warning,
    Case.promised_warning,
    Case.step_warning,
    Case.handled_workdays,
    Case.on_time,
    Department.code,
    Department.name,
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
        conditions.append(_red() if query.warning == "red" else _yellow_only())
        status = "open"
    if query.month is not None or query.late or query.poor:
        if status == "open":
            raise InvalidInput(
                _("Months, lateness and ratings are about closed cases."), field="status"
            )
        status = "closed"
    if query.month is not None:
        year, month = _parse_month(query.month, "month")
        conditions += [
            Case.closed_at >= _month_start(year, month),
            Case.closed_at < _month_start(*_shift(year, month, 1)),
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
        case((_red(), 0), (_yellow_only(), 1), else_=2),
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
            department_name=r.name,
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
        if calendar is not None and r.closed_at is None:
            red_dues = [
                due
                for due, level in (
                    (r.statutory_due_at, r.statutory_warning),
                    (r.promised_due_at, r.promised_warning),
                    (r.step_due_at, r.step_warning),
                )
                if level == "red" and due is not None
            ]
            # A limit ends at 24:00; the day after it is the first day overdue.
            if red_dues:
                line.overdue_workdays = calendar.workdays_between(min(red_dues) - _SECOND, now)
            elif r.paused_at is None:
                line.left_workdays = calendar.workdays_between(now, r.next_due_at - _SECOND)
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
        .add_columns(Department.name)
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
    return [(row[0], row[1], row[2]) for row in rows.all()]


# --- export -------------------------------------------------------------------------------

TABLES = ("department", "category", "month")
_TABLE_HEADER = (
    N_("Key"),
    N_("Name"),
    N_("In progress"),
    N_("Yellow"),
    N_("Red"),
    N_("Closed"),
    N_("On time"),
    N_("On-time rate"),
    N_("Average working days"),
    N_("90th percentile working days"),
    N_("Ratings"),
    N_("Average rating"),
    N_("Poor ratings"),
    N_("Open flags"),
)
_CASE_HEADER = (
    N_("Case number"),
    N_("Title"),
    N_("Department"),
    N_("Service item"),
    N_("State"),
    N_("Opened"),
    N_("Promised limit ends"),
    N_("Statutory limit ends"),
    N_("Closed"),
    N_("Working days taken"),
    N_("On time"),
    N_("Warnings"),
)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    # Text an applicant typed could start a spreadsheet formula (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    # A byte-order mark, so Excel opens the Chinese as UTF-8.
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


async def export_table(
    session: AsyncSession,
    principal: Principal,
    table: str,
    board_filter: BoardFilter | None = None,
) -> bytes:
    """A board table as CSV (UTF-8 with BOM): per department, category or month."""
    if table not in TABLES:
        raise InvalidInput(
            _("A table is department, category or month, not %(value)s.") % {"value": table},
            field="table",
        )
    fetch = {"department": by_department, "category": by_category, "month": by_month}[table]
    rows = await fetch(session, principal, board_filter)
    lines: list[Sequence[Any]] = [[_(h) for h in _TABLE_HEADER]]
    for r in rows:
        c = r.closed
        lines.append(
            [
                r.key,
                r.label,
                r.open.open,
                r.open.yellow,
                r.open.red,
                c.closed,
                c.on_time,
                _pct(c.on_time_rate),
                _num(c.average_days),
                c.p90_days,
                c.ratings,
                "" if c.rating_average is None else f"{c.rating_average:.2f}",
                c.poor,
                r.open_flags,
            ]
        )
    return _csv(lines)


def _city(instant: datetime | None) -> str:
    return clock.to_city(instant).strftime("%Y-%m-%d %H:%M") if instant else ""


async def export_cases(
    session: AsyncSession,
    principal: Principal,
    board_filter: BoardFilter | None = None,
    query: CaseQuery | None = None,
) -> bytes:
    """The cases behind a drill-down as CSV (UTF-8 with BOM), at most EXPORT_MAX of them."""
    lines_, _total = await case_list(session, principal, board_filter, query, limit=EXPORT_MAX)
    out: list[Sequence[Any]] = [[_(h) for h in _CASE_HEADER]]
    for line in lines_:
        out.append(
            [
                line.number,
                line.title,
                line.department_name,
                line.category_name,
                line.state_title,
                _city(line.opened_at),
                _city(line.promised_due_at),
                _city(line.statutory_due_at),
                _city(line.closed_at),
                line.handled_workdays,
                "" if line.on_time is None else (_("yes") if line.on_time else _("no")),
                " ".join(
                    f"{_(CLOCK_TITLES[k])}:{_(LEVEL_TITLES[v])}" for k, v in line.warnings.items()
                ),
            ]
        )
    return _csv(out)


def month_range_default() -> tuple[str, str]:
    """The default range: the last twelve months up to the current one."""
    today = clock.to_city(clock.now()).date()
    first = _shift(today.year, today.month, -(TREND_MONTHS - 1))
    return f"{first[0]:04d}-{first[1]:02d}", month_key(today)
