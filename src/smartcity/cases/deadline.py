"""A case's deadline (办理期限) at an instant: the one rule every page, message, API answer,
CSV and the supervision board reads, so they cannot disagree.

The rule (docs/cases.md, "One deadline"):

- The case's deadline is its promised limit (承诺时限) if it has one, else its statutory limit
  (法定时限); the step limit (环节时限) is the desk's own clock and is asked for by name.
- A limit of n working days ends at 24:00 Asia/Shanghai of its n-th working day after the
  opening day (core/workdays.py). The **due date** is that last working day: the last day on
  which the case is still on time. Messages say "<due date>前办结" with the same date.
- **Remaining** is the number of working days after the instant's day (in the city) up to and
  including the due date: the limit itself on the day the case opens, 0 on the due date
  ("due today"). Once the limit has run out it is negative: minus the working days since the
  due date, at least -1 (a weekend right after the due date is already overdue).
- While a 补正 (or any waiting-for-applicant state) stops the clock, remaining stands at what
  was left when it stopped, and the due date is where the limit would end if the clock ran
  again at the instant (the pause's working days added, as resuming does).
- **State**: closed once the case is closed; paused while stopped; overdue once the limit has
  run out; warning from the limit's yellow instant (the sweep's 预警 threshold) on; else on time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

from smartcity.core import clock
from smartcity.core.i18n import N_
from smartcity.core.i18n import format_day as format_day  # re-exported: the one date helper
from smartcity.core.workdays import WorkCalendar, end_of_day

ClockName = Literal["statutory", "promised", "step"]
DeadlineState = Literal["on_time", "warning", "overdue", "paused", "closed"]
CLOCK_NAMES: tuple[ClockName, ...] = ("statutory", "promised", "step")
STATES: tuple[DeadlineState, ...] = ("on_time", "warning", "overdue", "paused", "closed")
DEADLINE_STATE_TITLES: dict[DeadlineState, str] = {
    "on_time": N_("On time"),
    "warning": N_("Due soon"),
    "overdue": N_("Overdue"),
    "paused": N_("Paused"),
    "closed": N_("Closed"),
}


class ClockSource(Protocol):
    """What the rule reads of a case: a row, an ORM case or a ``CaseRecord`` will do."""

    @property
    def statutory_due_at(self) -> datetime: ...
    @property
    def statutory_warn_at(self) -> datetime: ...
    @property
    def promised_due_at(self) -> datetime | None: ...
    @property
    def promised_warn_at(self) -> datetime | None: ...
    @property
    def step_due_at(self) -> datetime | None: ...
    @property
    def step_warn_at(self) -> datetime | None: ...
    @property
    def paused_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Deadline:
    """A case's limit as of an instant. ``remaining`` < 0: overdue by ``-remaining``."""

    clock: ClockName
    due_date: date
    due_at: datetime
    remaining: int
    state: DeadlineState

    @property
    def overdue_workdays(self) -> int:
        return max(0, -self.remaining)


def _city_day(instant: datetime) -> date:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a deadline needs a timezone-aware instant")
    return clock.to_city(instant).date()


def due_date_of(due_at: datetime) -> date:
    """The last day of a limit ending at ``due_at`` (24:00 of it, the next day's first instant)."""
    return _city_day(due_at - timedelta(microseconds=1))


def _workdays_after(calendar: WorkCalendar, first: date, last: date) -> int:
    """Working days after ``first`` up to and including ``last``."""
    count, day = 0, first + timedelta(days=1)
    while day <= last:
        count += calendar.is_workday(day)
        day += timedelta(days=1)
    return count


def _remaining(calendar: WorkCalendar, due: date, today: date) -> int:
    if today <= due:
        return _workdays_after(calendar, today, due)
    return -max(1, _workdays_after(calendar, due, today))


def _shift(calendar: WorkCalendar, day: date, workdays: int) -> date:
    """The working day ``workdays`` working days after ``day`` (``day`` itself for 0)."""
    while workdays > 0:
        day += timedelta(days=1)
        workdays -= calendar.is_workday(day)
    return day


def case_deadline(
    case_: ClockSource,
    calendar: WorkCalendar,
    at: datetime,
    clock_name: ClockName | None = None,
) -> Deadline:
    """The case's deadline at the instant ``at`` after the rule above; ``clock_name`` asks for
    one limit (default: promised, else statutory). Raises ValueError on a naive instant, an
    unknown clock or a clock the case does not run (a closed step has none)."""
    name: ClockName
    if clock_name is None:
        name = "promised" if case_.promised_due_at is not None else "statutory"
    elif clock_name in CLOCK_NAMES:
        name = clock_name
    else:
        raise ValueError(f"unknown clock {clock_name!r}")
    due_at: datetime | None = getattr(case_, f"{name}_due_at")
    warn_at: datetime | None = getattr(case_, f"{name}_warn_at")
    if due_at is None:
        raise ValueError(f"the case has no {name} limit")
    due = due_date_of(due_at)
    today = _city_day(at)
    state: DeadlineState
    if case_.closed_at is not None:
        remaining = _remaining(calendar, due, _city_day(case_.closed_at))
        state = "closed"
    elif case_.paused_at is not None and case_.paused_at <= at:
        paused_day = _city_day(case_.paused_at)
        remaining = _remaining(calendar, due, paused_day)
        if name != "step":
            # Resuming adds the pause's working days to the case's limits (service/steps.py).
            due = _shift(calendar, due, _workdays_after(calendar, paused_day, today))
            due_at = end_of_day(due)
        state = "paused"
    else:
        remaining = _remaining(calendar, due, today)
        if at >= due_at:
            state = "overdue"
        elif warn_at is not None and at >= warn_at:
            state = "warning"
        else:
            state = "on_time"
    return Deadline(name, due, due_at, remaining, state)
