"""The board as CSV (UTF-8 with a BOM, so Excel reads the Chinese): a table per department,
category or month, and the cases behind a drill-down; cells an applicant typed are kept from
starting a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.deadline import DEADLINE_STATE_TITLES, due_date_of
from smartcity.cases.supervision.board import by_category, by_department, by_month
from smartcity.cases.supervision.lists import EXPORT_MAX, CaseQuery, case_list
from smartcity.cases.supervision.names import CLOCK_TITLES, LEVEL_TITLES
from smartcity.cases.supervision.scope import BoardFilter
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _

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
    N_("Due date"),
    N_("Working days left"),
    N_("Deadline"),
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


def _day(due: datetime | None) -> str:
    return due_date_of(due).isoformat() if due else ""


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
                # Each limit's last day (it ends at 24:00 of it), as the pages name it.
                _day(line.promised_due_at),
                _day(line.statutory_due_at),
                line.due_date.isoformat() if line.due_date else "",
                "" if line.remaining_workdays is None else line.remaining_workdays,
                _(DEADLINE_STATE_TITLES[line.deadline_state]) if line.deadline_state else "",
                _city(line.closed_at),
                line.handled_workdays,
                "" if line.on_time is None else (_("yes") if line.on_time else _("no")),
                " ".join(
                    f"{_(CLOCK_TITLES[k])}:{_(LEVEL_TITLES[v])}" for k, v in line.warnings.items()
                ),
            ]
        )
    return _csv(out)
