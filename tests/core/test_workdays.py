"""The working-day calendar (工作日): 2026 per the State Council's notice, entered years, parser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import chinese_calendar
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock, i18n, workdays
from smartcity.core.authz import Principal, register_actions
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.manifest import MODULE
from smartcity.core.models import AuditEntry, CalendarDay, CalendarYear, OutboxEvent
from smartcity.core.workdays import Entry, WorkCalendar, parse_year_entries
from tests.core.factories import ROOT


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """These tests assert the English msgids; Chinese is covered by tests/core/test_i18n.py."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


CST = timezone(timedelta(hours=8))
PACKAGE = WorkCalendar()

# A made-up 2027 notice: the real one is not published yet. 2027-01-01 is a Friday.
NOTICE_2027 = """\
# 2027 (test data, not the real notice)
2027-01-01 holiday 元旦
2027-02-06..2027-02-12 holiday 春节   # Saturday to Friday
2027-02-20 workday 春节调休
"""


@pytest.fixture(autouse=True)
def _actions() -> None:
    register_actions(MODULE.actions)


def at_cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


class TestWorkCalendar2026:
    """The 2026 notice (国办发明电 2025-11-04) through the official package."""

    @pytest.mark.parametrize(
        "day",
        [
            "2026-01-01",
            "2026-01-02",
            "2026-01-03",
            "2026-02-15",
            "2026-02-23",
            "2026-04-06",
            "2026-05-05",
            "2026-06-19",
            "2026-09-25",
            "2026-10-01",
            "2026-10-07",
        ],
    )
    def test_holidays_are_days_off(self, day: str) -> None:
        assert PACKAGE.is_workday(date.fromisoformat(day)) is False

    @pytest.mark.parametrize(
        ("day", "name"),
        [
            ("2026-01-04", "元旦调休"),
            ("2026-02-14", "春节调休"),
            ("2026-02-28", "春节调休"),
            ("2026-05-09", "劳动节调休"),
            ("2026-09-20", "国庆节调休"),
            ("2026-10-10", "国庆节调休"),
        ],
    )
    def test_make_up_days_on_weekends_are_workdays(self, day: str, name: str) -> None:
        info = PACKAGE.day_info(date.fromisoformat(day))
        assert info.date.weekday() >= 5  # a Saturday or a Sunday
        assert info == workdays.DayInfo(info.date, True, name, "official_package")
        assert info.differs_from_weekend_rule is True

    def test_sunday_january_4_is_a_workday(self) -> None:
        assert date(2026, 1, 4).weekday() == 6
        assert PACKAGE.is_workday(date(2026, 1, 4)) is True

    def test_saturday_february_14_is_a_workday(self) -> None:
        assert date(2026, 2, 14).weekday() == 5
        assert PACKAGE.is_workday(date(2026, 2, 14)) is True

    def test_holiday_has_chinese_name(self) -> None:
        assert PACKAGE.day_info(date(2026, 10, 1)) == workdays.DayInfo(
            date(2026, 10, 1), False, "国庆节", "official_package"
        )

    def test_plain_days_follow_weekends(self) -> None:
        assert PACKAGE.day_info(date(2026, 3, 2)) == workdays.DayInfo(
            date(2026, 3, 2), True, "", "official_package"
        )
        assert PACKAGE.is_workday(date(2026, 3, 7)) is False  # Saturday

    def test_month_workdays(self) -> None:
        assert PACKAGE.month_workdays(2026, 2) == 16
        assert PACKAGE.month_workdays(2026, 10) == 18

    def test_provisional_only_outside_the_package(self) -> None:
        assert PACKAGE.is_provisional(date(2026, 12, 31)) is False
        assert PACKAGE.is_provisional(date(2027, 1, 1)) is True
        assert PACKAGE.is_provisional(date(2003, 12, 31)) is True
        assert PACKAGE.year_source(2026) == "official_package"
        assert PACKAGE.year_source(2027) == "weekend_rule"

    def test_uncovered_year_is_weekends_only(self) -> None:
        assert PACKAGE.day_info(date(2027, 1, 1)) == workdays.DayInfo(
            date(2027, 1, 1), True, "", "weekend_rule"
        )
        assert PACKAGE.is_workday(date(2027, 1, 2)) is False
        assert PACKAGE.year_days(2027) == []

    def test_year_days_lists_weekend_holidays_too(self) -> None:
        days = {d.date: d for d in PACKAGE.year_days(2026)}
        assert days[date(2026, 1, 3)].is_workday is False  # a Saturday inside 元旦
        assert days[date(2026, 1, 3)].differs_from_weekend_rule is False
        assert date(2026, 3, 2) not in days


class TestAddWorkdays:
    def test_across_national_day(self) -> None:
        deadline = PACKAGE.add_workdays(at_cst(2026, 9, 30, 10), 1)
        assert deadline == workdays.Deadline(
            at=datetime(2026, 10, 8, 16, tzinfo=UTC), provisional=False, due_date=date(2026, 10, 8)
        )
        assert deadline.at.tzinfo == UTC
        assert deadline.due_date == chinese_calendar.find_workday(1, date(2026, 9, 30))

    def test_counts_from_the_local_date(self) -> None:
        # 17:00 UTC on the 29th is already 01:00 on the 30th in Shenzhen.
        deadline = PACKAGE.add_workdays(datetime(2026, 9, 29, 17, tzinfo=UTC), 1)
        assert deadline.due_date == date(2026, 10, 8)

    def test_start_day_is_not_counted_even_late_at_night(self) -> None:
        assert PACKAGE.add_workdays(at_cst(2026, 3, 2, 23, 59), 1).due_date == date(2026, 3, 3)
        assert PACKAGE.add_workdays(at_cst(2026, 3, 2, 0, 0), 1).due_date == date(2026, 3, 3)

    def test_saturday_make_up_day_counts(self) -> None:
        assert PACKAGE.add_workdays(at_cst(2026, 2, 13, 9), 1).due_date == date(2026, 2, 14)
        # The next after the 14th skips the whole 春节 break (15th to 23rd).
        assert PACKAGE.add_workdays(at_cst(2026, 2, 13, 9), 2).due_date == date(2026, 2, 24)

    def test_zero_days_on_a_workday_ends_that_day(self) -> None:
        deadline = PACKAGE.add_workdays(at_cst(2026, 9, 30, 10), 0)
        assert deadline.due_date == date(2026, 9, 30)
        assert deadline.at == datetime(2026, 9, 30, 16, tzinfo=UTC)

    def test_zero_days_on_a_holiday_ends_the_next_workday(self) -> None:
        assert PACKAGE.add_workdays(at_cst(2026, 10, 1, 10), 0).due_date == date(2026, 10, 8)

    @pytest.mark.parametrize("n", [1, 3, 10, 20])
    def test_agrees_with_the_package_from_every_workday_of_2025(self, n: int) -> None:
        # From a day off the package counts the next workday as its 0th; we do not count it
        # (the time limit starts the day after acceptance), so compare from workdays only.
        day, compared = date(2025, 1, 1), 0
        while day.year == 2025:
            if chinese_calendar.is_workday(day):
                start = datetime.combine(day, datetime.min.time(), tzinfo=clock.CITY_TZ)
                expected = chinese_calendar.find_workday(n, day)
                assert PACKAGE.add_workdays(start + timedelta(hours=9), n).due_date == expected
                compared += 1
            day += timedelta(days=1)
        assert compared == 248

    def test_from_a_day_off_the_next_workday_counts(self) -> None:
        # Accepted online on 元旦 2026 (Thursday, a holiday): Jan 4 (Sunday 调休) is day one.
        assert PACKAGE.add_workdays(at_cst(2026, 1, 1, 10), 1).due_date == date(2026, 1, 4)

    def test_reaching_into_an_uncovered_year_is_provisional_weekends_only(self) -> None:
        deadline = PACKAGE.add_workdays(at_cst(2026, 12, 30, 10), 5)
        # 12-31, then 2027-01-01 (Friday, weekend rule), 01-04, 01-05, 01-06.
        assert deadline == workdays.Deadline(
            at=datetime(2027, 1, 6, 16, tzinfo=UTC), provisional=True, due_date=date(2027, 1, 6)
        )

    def test_staying_in_a_covered_year_is_not_provisional(self) -> None:
        assert PACKAGE.add_workdays(at_cst(2026, 12, 29, 10), 1).provisional is False

    def test_negative_days_are_refused(self) -> None:
        with pytest.raises(ValueError, match="zero or more working days, not -1"):
            PACKAGE.add_workdays(at_cst(2026, 1, 5, 9), -1)

    def test_too_many_days_are_refused(self) -> None:
        with pytest.raises(ValueError, match="over the 2000 allowed"):
            PACKAGE.add_workdays(at_cst(2026, 1, 5, 9), workdays.MAX_WORKDAYS + 1)

    def test_naive_start_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            PACKAGE.add_workdays(datetime(2026, 1, 5, 9), 1)


class TestWorkdaysBetween:
    def test_across_national_day(self) -> None:
        assert PACKAGE.workdays_between(at_cst(2026, 9, 30, 10), at_cst(2026, 10, 8, 9)) == 1

    def test_a_whole_february(self) -> None:
        assert PACKAGE.workdays_between(at_cst(2026, 1, 31, 12), at_cst(2026, 2, 28, 12)) == 16

    def test_same_day_and_backwards_are_zero(self) -> None:
        assert PACKAGE.workdays_between(at_cst(2026, 3, 2, 9), at_cst(2026, 3, 2, 17)) == 0
        assert PACKAGE.workdays_between(at_cst(2026, 3, 5, 9), at_cst(2026, 3, 2, 9)) == 0


class TestEnteredCalendar:
    def test_entered_year_overrides_the_package(self) -> None:
        calendar = WorkCalendar({date(2026, 10, 1): (False, "国庆节")}, [2026])
        assert calendar.year_source(2026) == "entered"
        assert calendar.is_workday(date(2026, 10, 2)) is True  # not entered: weekend rule
        assert calendar.is_workday(date(2026, 10, 10)) is False  # the package's 调休 is gone
        assert calendar.day_info(date(2026, 10, 1)) == workdays.DayInfo(
            date(2026, 10, 1), False, "国庆节", "entered"
        )
        assert PACKAGE.is_workday(date(2026, 10, 2)) is False


class TestParseYearEntries:
    def test_reads_days_ranges_and_comments(self) -> None:
        assert parse_year_entries(NOTICE_2027, 2027) == [
            Entry(date(2027, 1, 1), date(2027, 1, 1), "holiday", "元旦", 2),
            Entry(date(2027, 2, 6), date(2027, 2, 12), "holiday", "春节", 3),
            Entry(date(2027, 2, 20), date(2027, 2, 20), "workday", "春节调休", 4),
        ]

    def test_spaces_around_the_range_and_upper_case_kind(self) -> None:
        assert parse_year_entries("2027-05-01 .. 2027-05-05 HOLIDAY 劳动节", 2027) == [
            Entry(date(2027, 5, 1), date(2027, 5, 5), "holiday", "劳动节", 1)
        ]

    def test_every_bad_line_is_named(self) -> None:
        text = "\n".join(
            [
                "2027-01-01 holiday 元旦",  # 1 fine
                "2027-02-30 holiday 春节",  # 2 no such date
                "2026-12-31 holiday 元旦",  # 3 another year
                "2027-05-01 vacation 劳动节",  # 4 unknown kind
                "2027-01-01 workday 元旦调休",  # 5 twice
                "2027-06-09..2027-06-07 holiday 端午",  # 6 backwards
                "",
                "# fine",
                "2027-10-01",  # 9 no kind
                "2027-10-02 holiday",  # 10 no name
            ]
        )
        with pytest.raises(InvalidInput) as caught:
            parse_year_entries(text, 2027)
        errors = caught.value.extensions["errors"]
        assert [e["line"] for e in errors] == [2, 3, 4, 5, 6, 9, 10]
        assert errors[0] == {"line": 2, "message": "2027-02-30 is not a date (YYYY-MM-DD)"}
        assert errors[1] == {"line": 3, "message": "the dates must be in 2027"}
        assert errors[2] == {"line": 4, "message": "unknown kind vacation: use holiday or workday"}
        assert errors[3] == {"line": 5, "message": "2027-01-01 listed twice (also on line 1)"}
        assert errors[4] == {"line": 6, "message": "the range ends before it starts"}
        for line in (2, 3, 4, 5, 6, 9, 10):
            assert f"line {line}:" in caught.value.detail
        assert caught.value.status == 422

    def test_overlapping_ranges_are_listed_twice(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            parse_year_entries(
                "2027-02-06..2027-02-12 holiday 春节\n2027-02-11..2027-02-13 holiday 春节", 2027
            )
        assert caught.value.extensions["errors"] == [
            {"line": 2, "message": "2027-02-11, 2027-02-12 listed twice (also on line 1)"}
        ]

    def test_nothing_entered_is_an_error(self) -> None:
        with pytest.raises(InvalidInput, match="at least one holiday"):
            parse_year_entries("# nothing yet\n\n", 2027)

    def test_year_out_of_range(self) -> None:
        with pytest.raises(InvalidInput, match="between 2000 and 2100"):
            parse_year_entries("1800-01-01 holiday 元旦", 1800)


class TestEnterYear:
    async def test_recomputes_a_provisional_deadline(self, session: AsyncSession) -> None:
        start = at_cst(2026, 12, 30, 10)
        before = (await workdays.load_calendar(session)).add_workdays(start, 5)
        assert before.provisional is True
        assert before.due_date == date(2027, 1, 6)

        entries = parse_year_entries(NOTICE_2027, 2027)
        with clock.frozen(datetime(2026, 12, 1, 2, tzinfo=UTC)):
            row = await workdays.enter_year(
                session, ROOT, year=2027, entries=entries, notice="国办发明电〔2026〕test"
            )
        assert (row.year, row.notice, row.entered_by) == (
            2027,
            "国办发明电〔2026〕test",
            "test-root",
        )
        assert row.entered_at == datetime(2026, 12, 1, 2, tzinfo=UTC)

        after = (await workdays.load_calendar(session)).add_workdays(start, 5)
        # 2027-01-01 is now the entered 元旦, so the fifth working day moves to the 7th.
        assert after == workdays.Deadline(
            at=datetime(2027, 1, 7, 16, tzinfo=UTC), provisional=False, due_date=date(2027, 1, 7)
        )

    async def test_stores_days_audits_and_emits(self, session: AsyncSession) -> None:
        await workdays.enter_year(
            session, ROOT, year=2027, entries=parse_year_entries(NOTICE_2027, 2027), notice="n1"
        )
        days = (
            (
                await session.execute(
                    select(CalendarDay).where(CalendarDay.year == 2027).order_by(CalendarDay.day)
                )
            )
            .scalars()
            .all()
        )
        assert len(days) == 9
        assert (days[-1].day, days[-1].is_workday, days[-1].name) == (
            date(2027, 2, 20),
            True,
            "春节调休",
        )
        entry = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.action == "core.calendar.enter_year")
                    .order_by(AuditEntry.seq.desc())
                )
            )
            .scalars()
            .first()
        )
        assert entry is not None
        assert (entry.actor, entry.target) == ("test-root", "2027")
        assert entry.detail == {"notice": "n1", "holidays": 8, "workdays": 1, "replaced": False}
        event = (
            (
                await session.execute(
                    select(OutboxEvent)
                    .where(OutboxEvent.topic == "core.calendar.year_entered")
                    .order_by(OutboxEvent.seq.desc())
                )
            )
            .scalars()
            .first()
        )
        assert event is not None
        assert event.payload["payload"] == {"year": 2027}

    async def test_entering_again_replaces_the_year(self, session: AsyncSession) -> None:
        await workdays.enter_year(
            session, ROOT, year=2027, entries=parse_year_entries(NOTICE_2027, 2027), notice="n1"
        )
        await workdays.load_calendar(session)  # the old days are in the session now
        await workdays.enter_year(
            session,
            ROOT,
            year=2027,
            entries=parse_year_entries("2027-02-08..2027-02-10 holiday 春节", 2027),
            notice="n2",
        )
        calendar = await workdays.load_calendar(session)
        assert calendar.is_workday(date(2027, 1, 1)) is True
        assert calendar.is_workday(date(2027, 2, 20)) is False
        assert calendar.is_workday(date(2027, 2, 8)) is False
        assert [r.notice for r in await workdays.entered_years(session) if r.year == 2027] == ["n2"]
        entry = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.action == "core.calendar.enter_year")
                    .order_by(AuditEntry.seq.desc())
                )
            )
            .scalars()
            .first()
        )
        assert entry is not None
        assert entry.detail["replaced"] is True

    async def test_entered_year_overrides_the_package(self, session: AsyncSession) -> None:
        await workdays.enter_year(
            session,
            ROOT,
            year=2026,
            entries=parse_year_entries("2026-10-01..2026-10-03 holiday 国庆节", 2026),
            notice="test override",
        )
        calendar = await workdays.load_calendar(session)
        assert calendar.year_source(2026) == "entered"
        assert calendar.is_workday(date(2026, 10, 5)) is True
        assert calendar.is_workday(date(2026, 10, 10)) is False
        assert calendar.add_workdays(at_cst(2026, 9, 30, 10), 1).due_date == date(2026, 10, 5)

    async def test_only_admins_enter(self, session: AsyncSession) -> None:
        staff = Principal(id=None, kind="staff", name="someone")
        with pytest.raises(Forbidden):
            await workdays.enter_year(
                session, staff, year=2027, entries=parse_year_entries(NOTICE_2027, 2027), notice="n"
            )
        assert await session.get(CalendarYear, 2027) is None

    async def test_entries_outside_the_year_are_refused(self, session: AsyncSession) -> None:
        entries = [
            Entry(date(2027, 1, 1), date(2027, 1, 1), "holiday", "元旦", 1),
            Entry(date(2028, 1, 1), date(2028, 1, 1), "holiday", "元旦", 2),
        ]
        with pytest.raises(InvalidInput) as caught:
            await workdays.enter_year(session, ROOT, year=2027, entries=entries, notice="n")
        assert caught.value.extensions["errors"] == [
            {"entry": 2, "message": "the dates must be in 2027"}
        ]

    async def test_notice_is_required(self, session: AsyncSession) -> None:
        with pytest.raises(InvalidInput, match="Name the notice"):
            await workdays.enter_year(
                session, ROOT, year=2027, entries=parse_year_entries(NOTICE_2027, 2027), notice=" "
            )

    async def test_year_overview(self, session: AsyncSession) -> None:
        overview = await workdays.year_overview(session, 2026)
        assert (overview.source, overview.provisional, overview.notice) == (
            "official_package",
            False,
            "",
        )
        assert overview.month_workdays[1] == 16
        assert overview.month_workdays[9] == 18
        special = {d.date for d in overview.special_days}
        assert date(2026, 1, 4) in special  # Sunday 调休
        assert date(2026, 1, 1) in special  # Thursday 元旦
        assert date(2026, 1, 3) not in special  # Saturday inside 元旦: a weekend anyway
