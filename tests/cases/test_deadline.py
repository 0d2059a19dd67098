"""The one deadline rule (cases/deadline.py): remaining working days, due date and state at an
instant, over weekends, 法定节假日 and 调休, paused and closed cases, and bad input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from smartcity.cases.deadline import case_deadline, due_date_of, format_day
from smartcity.core import clock
from smartcity.core.workdays import WorkCalendar, end_of_day

CST = clock.CITY_TZ
# 国庆 2026 entered: 10-01..10-07 off, Saturday 10-10 a make-up working day (调休).
CAL = WorkCalendar(
    {
        **{date(2026, 10, d): (False, "国庆节") for d in range(1, 8)},
        date(2026, 10, 10): (True, "国庆节调休"),
    },
    [2026],
)
# The package's own calendar (chinese-calendar), as a year without an entered notice reads.
PACKAGE = WorkCalendar()


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


@dataclass
class FakeCase:
    statutory_due_at: datetime
    statutory_warn_at: datetime
    promised_due_at: datetime | None = None
    promised_warn_at: datetime | None = None
    step_due_at: datetime | None = None
    step_warn_at: datetime | None = None
    paused_at: datetime | None = None
    closed_at: datetime | None = None


def opened(calendar: WorkCalendar, start: datetime, days: int, warn_days: int) -> FakeCase:
    return FakeCase(
        statutory_due_at=calendar.add_workdays(start, days).at,
        statutory_warn_at=calendar.add_workdays(start, warn_days).at,
    )


class TestHolidays:
    # Opened Mon 09-28 with five working days: 09-29, 09-30, 10-08, 10-09, 10-10 (调休).
    case = opened(CAL, at(9, 28), 5, 4)

    def test_the_opening_day_has_the_whole_limit(self) -> None:
        d = case_deadline(self.case, CAL, at(9, 28))
        assert (d.clock, d.due_date, d.remaining, d.state) == (
            "statutory",
            date(2026, 10, 10),
            5,
            "on_time",
        )
        assert d.due_at == end_of_day(date(2026, 10, 10))

    def test_the_holiday_does_not_count(self) -> None:
        assert case_deadline(self.case, CAL, at(10, 3)).remaining == 3

    def test_the_last_day_is_due_today_and_a_warning(self) -> None:
        d = case_deadline(self.case, CAL, at(10, 10, 23))
        assert (d.remaining, d.state) == (0, "warning")

    def test_the_next_instant_is_overdue_even_on_a_sunday(self) -> None:
        d = case_deadline(self.case, CAL, end_of_day(date(2026, 10, 10)))
        assert (d.remaining, d.state, d.overdue_workdays) == (-1, "overdue", 1)
        assert case_deadline(self.case, CAL, at(10, 11)).remaining == -1
        assert case_deadline(self.case, CAL, at(10, 13)).remaining == -2


class TestWeekendsFromThePackage:
    def test_spring_festival_2026(self) -> None:
        # chinese-calendar: 春节 2026-02-15..02-23 off, Saturday 02-14 worked (调休).
        case = opened(PACKAGE, at(2, 12), 3, 2)
        d = case_deadline(case, PACKAGE, at(2, 12))
        assert PACKAGE.is_workday(date(2026, 2, 13)) and not PACKAGE.is_workday(date(2026, 2, 16))
        # 02-13 (Fri), 02-14 (the 调休 Saturday), then the holiday, then 02-24.
        assert PACKAGE.is_workday(date(2026, 2, 14))
        assert (d.due_date, d.remaining) == (date(2026, 2, 24), 3)
        assert case_deadline(case, PACKAGE, at(2, 20)).remaining == 1

    def test_a_weekend_before_the_last_day(self) -> None:
        # Due Monday 03-09: on Friday, Monday is left; on Saturday still Monday.
        case = opened(PACKAGE, at(3, 2), 5, 4)
        assert case_deadline(case, PACKAGE, at(3, 2)).due_date == date(2026, 3, 9)
        assert case_deadline(case, PACKAGE, at(3, 6)).remaining == 1
        assert case_deadline(case, PACKAGE, at(3, 7)).remaining == 1
        assert case_deadline(case, PACKAGE, at(3, 9)).remaining == 0


class TestPausedAndClosed:
    def test_paused_keeps_what_was_left_and_moves_the_due_date(self) -> None:
        case = opened(PACKAGE, at(3, 2), 10, 8)  # due Mon 03-16
        case.paused_at = at(3, 4)  # Wednesday: 03-05 .. 03-16 are 8 left
        d = case_deadline(case, PACKAGE, at(3, 4, 15))
        assert (d.state, d.remaining, d.due_date) == ("paused", 8, date(2026, 3, 16))
        # A week later the limit would end five working days later if resumed now.
        d = case_deadline(case, PACKAGE, at(3, 11))
        assert (d.state, d.remaining, d.due_date) == ("paused", 8, date(2026, 3, 23))
        assert d.due_at == end_of_day(date(2026, 3, 23))

    def test_before_the_pause_it_runs(self) -> None:
        case = opened(PACKAGE, at(3, 2), 10, 8)
        case.paused_at = at(3, 4)
        assert case_deadline(case, PACKAGE, at(3, 3)).state == "on_time"

    def test_closed_counts_as_of_closing(self) -> None:
        case = opened(PACKAGE, at(3, 2), 10, 8)
        case.closed_at = at(3, 5)
        d = case_deadline(case, PACKAGE, at(6, 1))
        assert (d.state, d.remaining) == ("closed", 7)

    def test_promised_first_and_the_step_by_name(self) -> None:
        case = opened(PACKAGE, at(3, 2), 20, 16)
        case.promised_due_at = PACKAGE.add_workdays(at(3, 2), 5).at
        case.promised_warn_at = PACKAGE.add_workdays(at(3, 2), 4).at
        case.step_due_at = PACKAGE.add_workdays(at(3, 2), 1).at
        case.step_warn_at = at(3, 2)
        assert case_deadline(case, PACKAGE, at(3, 2)).clock == "promised"
        assert case_deadline(case, PACKAGE, at(3, 2)).due_date == date(2026, 3, 9)
        step = case_deadline(case, PACKAGE, at(3, 2), "step")
        assert (step.due_date, step.remaining, step.state) == (date(2026, 3, 3), 1, "warning")
        assert case_deadline(case, PACKAGE, at(3, 2), "statutory").remaining == 20


class TestBadInput:
    case = opened(PACKAGE, at(3, 2), 5, 4)

    def test_a_naive_instant(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            case_deadline(self.case, PACKAGE, datetime(2026, 3, 2, 10))

    def test_an_unknown_clock(self) -> None:
        with pytest.raises(ValueError, match="unknown clock"):
            case_deadline(self.case, PACKAGE, at(3, 2), "weekly")  # type: ignore[arg-type]

    def test_a_clock_the_case_does_not_run(self) -> None:
        with pytest.raises(ValueError, match="no step limit"):
            case_deadline(self.case, PACKAGE, at(3, 2), "step")


class TestFormatDay:
    def test_per_locale(self) -> None:
        assert format_day(date(2026, 12, 17), "zh_CN") == "2026年12月17日"
        assert format_day(date(2026, 12, 17), "en") == "17 Dec 2026"
        assert format_day(date(2027, 1, 5), "en") == "5 Jan 2027"

    def test_due_date_of_an_end_at_midnight(self) -> None:
        # 24:00 of 12-17 in Shenzhen is 16:00 UTC: the last day is the 17th, not the 18th.
        assert due_date_of(datetime(2026, 12, 17, 16, tzinfo=UTC)) == date(2026, 12, 17)
