"""The board's queries (电子监察): every figure per (department, category) and month of
closing from a few grouped queries, rolled up into the tiles and the tables per department,
category and month, and the categories in scope for a filter's choices."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.models import Case, CaseFlag, CaseRating
from smartcity.cases.supervision.figures import (
    Board,
    BoardRow,
    ClosedFigures,
    OpenFigures,
    StateCount,
    Summary,
)
from smartcity.cases.supervision.months import city_month, month_text
from smartcity.cases.supervision.names import category_names, state_title
from smartcity.cases.supervision.scope import (
    POOR_SCORE,
    BoardFilter,
    Scope,
    any_red,
    resolve,
    yellow_only,
)
from smartcity.cases.types import case_types
from smartcity.core import i18n
from smartcity.core.authz import Principal
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department


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
            _flag(yellow_only()),
            _flag(any_red()),
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
        row.key, row.label = (
            (found.code, i18n.pick(found.name, found.name_en)) if found else (str(dep_id),) * 2
        )
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
