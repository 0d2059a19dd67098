"""The clocks of a case (计时): the statutory, promised and step limits' ends and yellow
instants in working days, after the clock rule the package describes, and the filter of the
open cases whose clocks run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from smartcity.cases.models import Case
from smartcity.cases.types import CaseType
from smartcity.core.workdays import WorkCalendar


def _limit_clock(
    calendar: WorkCalendar, start: datetime, days: int, share: float
) -> tuple[datetime, datetime, bool]:
    """The end of a limit, its yellow instant and whether either is provisional.

    Yellow comes at the end of the ⌈share × days⌉-th working day, and at the latest when the
    last working day begins, so a short limit still warns before it runs out."""
    due = calendar.add_workdays(start, days)
    warn_days = min(math.ceil(share * days), days - 1)
    if warn_days <= 0:
        # A one-day limit warns from the start: no working day lies between.
        return due.at, start, due.provisional
    warn = calendar.add_workdays(start, warn_days)
    return due.at, warn.at, due.provisional or warn.provisional


def compute_clocks(case_: Case, ct: CaseType, calendar: WorkCalendar) -> None:
    """Set every due and yellow instant of the case from its start, pauses and state.

    The statutory and promised limits are the case's own (set when it was opened); the step
    limits and the warning share are the type's. Pauses and extensions (延期) add their working
    days to the statutory and promised limits; an extension within the current state adds its
    days to the step limit too."""
    limits = ct.limits
    share = limits.warning_share
    added = case_.paused_workdays + case_.extended_workdays
    due, warn, provisional = _limit_clock(
        calendar, case_.opened_at, case_.statutory_days + added, share
    )
    case_.statutory_due_at, case_.statutory_warn_at = due, warn
    dues = [due]
    if case_.promised_days is not None:
        p_due, p_warn, p_prov = _limit_clock(
            calendar, case_.opened_at, case_.promised_days + added, share
        )
        case_.promised_due_at, case_.promised_warn_at = p_due, p_warn
        provisional = provisional or p_prov
        dues.append(p_due)
    else:
        case_.promised_due_at = case_.promised_warn_at = None
    step_days = limits.step_limit(case_.state)
    kind = ct.state(case_.state).kind
    if step_days is not None and kind == "active":
        s_due, s_warn, s_prov = _limit_clock(
            calendar, case_.step_started_at, step_days + case_.step_extended_workdays, share
        )
        case_.step_due_at, case_.step_warn_at = s_due, s_warn
        provisional = provisional or s_prov
        dues.append(s_due)
    else:
        case_.step_due_at = case_.step_warn_at = None
    case_.next_due_at = min(dues)
    case_.provisional = provisional


def open_case_filter() -> Sequence[Any]:
    """Open cases whose clocks run (not closed, not paused)."""
    return [Case.closed_at.is_(None), Case.paused_at.is_(None)]
