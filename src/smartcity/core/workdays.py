"""The working-day calendar (工作日): official holidays (法定节假日) and make-up days (调休).

Which calendar answers for a year, in order: the days an admin entered from the State Council's
notice (国务院办公厅通知) for that year; else the ``chinese-calendar`` package if it covers the
year; else the plain weekend rule, and then the answer is *provisional*: the year's notice has
not been entered yet, so a deadline that reaches into it may move once it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

import chinese_calendar
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock, events
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import CalendarDay, CalendarYear

Source = Literal["entered", "official_package", "weekend_rule"]
Kind = Literal["holiday", "workday"]
KINDS: tuple[Kind, ...] = ("holiday", "workday")

# Years the platform accepts at all; outside them a date is almost surely a typing error.
MIN_YEAR = 2000
MAX_YEAR = 2100
# About eight years of working days: no statutory time limit is longer, and it bounds the walk.
MAX_WORKDAYS = 2000
NAME_MAX = 100
NOTICE_MAX = 200

# The topic's name, for subscribers not yet moved to core.events (declared there once).
YEAR_ENTERED_TOPIC = events.YEAR_ENTERED.name


@dataclass(frozen=True)
class DayInfo:
    """One day as the calendar sees it: 工作日 or not, with the holiday's or 调休's name."""

    date: date
    is_workday: bool
    name: str
    source: Source

    @property
    def differs_from_weekend_rule(self) -> bool:
        """A holiday on a weekday or a make-up working day (调休) on a weekend."""
        return self.is_workday != _weekday(self.date)


@dataclass(frozen=True)
class Deadline:
    """The end of a time limit counted in working days (工作日时限), as an aware UTC instant."""

    at: datetime
    provisional: bool
    due_date: date


@dataclass(frozen=True)
class Entry:
    """One line of a year's notice: a holiday range (法定节假日) or a make-up working day (调休).

    ``line`` locates it for error messages: the line in a file, or the position in a list."""

    start: date
    end: date
    kind: Kind
    name: str
    line: int = 0

    @property
    def is_workday(self) -> bool:
        return self.kind == "workday"

    def days(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)


def _weekday(day: date) -> bool:
    return day.weekday() < 5


@lru_cache(maxsize=256)
def package_covers(year: int) -> bool:
    """Whether the installed ``chinese-calendar`` knows the year's 法定节假日 (else it raises)."""
    try:
        chinese_calendar.is_workday(date(year, 6, 30))
    except NotImplementedError:
        return False
    return True


# The package's answer for a day never changes while the process runs, and asking it costs
# about 60 µs; a case step computes up to six limits of many days each.
@lru_cache(maxsize=16384)
def _package_day(day: date) -> tuple[bool, str]:
    is_workday = bool(chinese_calendar.is_workday(day))
    _on_holiday, english = chinese_calendar.get_holiday_detail(day)
    if not english:
        return is_workday, ""
    try:
        chinese = str(chinese_calendar.Holiday(english).chinese)
    except ValueError:
        chinese = str(english)
    # The package names a make-up working day after the holiday it pays for.
    return is_workday, f"{chinese}调休" if is_workday else chinese


class WorkCalendar:
    """The working-day calendar (工作日历) of the city: entered years, the package, weekends."""

    def __init__(
        self,
        entered_days: Mapping[date, tuple[bool, str]] | None = None,
        entered_years: Iterable[int] = (),
    ) -> None:
        self._entered_days = dict(entered_days or {})
        self._entered_years = frozenset(entered_years)

    @property
    def entered_years(self) -> frozenset[int]:
        return self._entered_years

    def year_source(self, year: int) -> Source:
        """Which calendar answers for the year."""
        if year in self._entered_years:
            return "entered"
        if package_covers(year):
            return "official_package"
        return "weekend_rule"

    def day_info(self, day: date) -> DayInfo:
        """The day as the calendar sees it (工作日 or 休息日), with its name and source."""
        source = self.year_source(day.year)
        if source == "entered":
            is_workday, name = self._entered_days.get(day, (_weekday(day), ""))
        elif source == "official_package":
            is_workday, name = _package_day(day)
        else:
            is_workday, name = _weekday(day), ""
        return DayInfo(day, is_workday, name, source)

    def is_workday(self, day: date) -> bool:
        """Whether the day is a working day (工作日)."""
        return self.day_info(day).is_workday

    def is_provisional(self, day: date) -> bool:
        """True when no notice covers the day's year, so only the weekend rule answered."""
        return self.year_source(day.year) == "weekend_rule"

    def year_days(self, year: int) -> list[DayInfo]:
        """Every named day of the year: 法定节假日 and 调休, weekend holidays included."""
        source = self.year_source(year)
        if source == "entered":
            days: Iterable[date] = (d for d in self._entered_days if d.year == year)
        elif source == "official_package":
            days = (
                d
                for d in (*chinese_calendar.holidays, *chinese_calendar.workdays)
                if d.year == year
            )
        else:
            return []
        return [self.day_info(d) for d in sorted(set(days))]

    def month_workdays(self, year: int, month: int) -> int:
        """The number of working days (工作日) in a month."""
        day = date(year, month, 1)
        count = 0
        while day.month == month:
            count += self.is_workday(day)
            day += timedelta(days=1)
        return count

    def add_workdays(self, start: datetime, n: int) -> Deadline:
        """The end of a time limit of ``n`` working days (工作日) counted from ``start``.

        The start's own day (the day of acceptance, 受理当日) is not counted; the limit ends at
        24:00 Asia/Shanghai of the n-th working day after it. With ``n == 0`` the limit ends at
        24:00 of the start's day if that is a working day, else of the next working day.
        """
        if n < 0:
            raise ValueError(f"a time limit needs zero or more working days, not {n}")
        if n > MAX_WORKDAYS:
            raise ValueError(f"a time limit of {n} working days is over the {MAX_WORKDAYS} allowed")
        day = _local_date(start)
        provisional = False
        if n == 0:
            provisional = self.is_provisional(day)
            while not self.is_workday(day):
                day += timedelta(days=1)
                provisional = provisional or self.is_provisional(day)
        else:
            counted = 0
            while counted < n:
                day += timedelta(days=1)
                provisional = provisional or self.is_provisional(day)
                counted += self.is_workday(day)
        return Deadline(at=end_of_day(day), provisional=provisional, due_date=day)

    def workdays_between(self, start: datetime, end: datetime) -> int:
        """Working days (工作日) after the start's local day up to and including the end's."""
        if end <= start:
            return 0
        first, last = _local_date(start), _local_date(end)
        count = 0
        day = first + timedelta(days=1)
        while day <= last:
            count += self.is_workday(day)
            day += timedelta(days=1)
        return count


def _local_date(instant: datetime) -> date:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a time limit needs a timezone-aware start, e.g. 2026-09-30T10:00+08:00")
    return clock.to_city(instant).date()


def end_of_day(day: date) -> datetime:
    """24:00 Asia/Shanghai of the day, i.e. 00:00 of the next, as an aware UTC instant."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=clock.CITY_TZ).astimezone(UTC)


# --- entering a year's notice ------------------------------------------------------------

_LINE = re.compile(
    r"^(?P<start>[^\s.]+)(?:\s*\.\.\s*(?P<end>[^\s.]+))?\s+(?P<kind>\S+)(?:\s+(?P<name>.*\S))?\s*$"
)


@dataclass
class _Errors:
    where: str
    items: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.items.append((line, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = sorted(self.items, key=lambda item: item[0])
        label = _("line") if self.where == "line" else _("entry")
        detail = _("The calendar entries have errors: {errors}").format(
            errors="; ".join(f"{label} {line}: {message}" for line, message in items)
        )
        raise InvalidInput(
            detail,
            field="entries",
            errors=[{self.where: line, "message": message} for line, message in items],
        )


def _parse_date(text: str) -> date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def check_year(year: int) -> None:
    """Refuse a year outside MIN_YEAR..MAX_YEAR with a 422 problem."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(
            _("The year must be between {low} and {high}.").format(low=MIN_YEAR, high=MAX_YEAR),
            field="year",
        )


def _check(entries: Sequence[Entry], year: int, errors: _Errors) -> dict[date, tuple[bool, str]]:
    days: dict[date, tuple[bool, str]] = {}
    first_line: dict[date, int] = {}
    for entry in entries:
        if entry.end < entry.start:
            errors.add(entry.line, _("the range ends before it starts"))
            continue
        if entry.start.year != year or entry.end.year != year:
            errors.add(entry.line, _("the dates must be in {year}").format(year=year))
            continue
        if not entry.name.strip():
            errors.add(entry.line, _("give the name of the holiday or make-up working day"))
            continue
        if len(entry.name) > NAME_MAX:
            errors.add(entry.line, _("the name is longer than {n} characters").format(n=NAME_MAX))
            continue
        twice = [day for day in entry.days() if day in days]
        if twice:
            errors.add(
                entry.line,
                _("{days} listed twice (also on {where} {line})").format(
                    days=", ".join(d.isoformat() for d in twice),
                    where=_(errors.where),
                    line=first_line[twice[0]],
                ),
            )
            continue
        for day in entry.days():
            days[day] = (entry.is_workday, entry.name.strip())
            first_line[day] = entry.line
    return days


def check_entries(
    entries: Sequence[Entry], year: int, *, where: Literal["line", "entry"] = "entry"
) -> dict[date, tuple[bool, str]]:
    """The days a year's entries set, or a 422 problem naming every bad entry."""
    check_year(year)
    errors = _Errors(where)
    days = _check(entries, year, errors)
    if not entries:
        errors.add(0, _("enter at least one holiday"))
    errors.raise_if_any()
    return days


def parse_year_entries(text: str, year: int) -> list[Entry]:
    """Read a year's 法定节假日 and 调休 from lines like ``2026-02-15..2026-02-23 holiday 春节``."""
    check_year(year)
    errors = _Errors("line")
    entries: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            errors.add(number, _("expected 'YYYY-MM-DD holiday|workday name'"))
            continue
        start = _parse_date(match["start"])
        end = _parse_date(match["end"]) if match["end"] else start
        if start is None or end is None:
            bad = match["start"] if start is None else match["end"]
            errors.add(number, _("{text} is not a date (YYYY-MM-DD)").format(text=bad))
            continue
        kind = match["kind"].lower()
        if kind not in KINDS:
            errors.add(
                number,
                _("unknown kind {kind}: use holiday or workday").format(kind=match["kind"]),
            )
            continue
        entries.append(
            Entry(
                start,
                end,
                "workday" if kind == "workday" else "holiday",
                match["name"] or "",
                number,
            )
        )
    _check(entries, year, errors)
    if not entries and not errors.items:
        errors.add(0, _("enter at least one holiday"))
    errors.raise_if_any()
    return entries


# --- service ------------------------------------------------------------------------------


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The working-day calendar (工作日历) with every entered year."""
    years = (await session.execute(select(CalendarYear.year))).scalars().all()
    days = (await session.execute(select(CalendarDay))).scalars().all()
    return WorkCalendar({d.day: (d.is_workday, d.name) for d in days}, years)


async def entered_years(session: AsyncSession) -> list[CalendarYear]:
    """The years whose notice an admin entered, newest first."""
    rows = await session.execute(select(CalendarYear).order_by(CalendarYear.year.desc()))
    return list(rows.scalars().all())


async def enter_year(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int,
    entries: Sequence[Entry],
    notice: str,
) -> CalendarYear:
    """Enter (or replace) a year's 法定节假日 and 调休 from the State Council's notice."""
    authorize(principal, "core.calendar.manage")
    days = check_entries(entries, year)
    notice = notice.strip()
    if not notice:
        raise InvalidInput(_("Name the notice the dates come from."), field="notice")
    if len(notice) > NOTICE_MAX:
        raise InvalidInput(
            _("The notice is longer than {n} characters.").format(n=NOTICE_MAX), field="notice"
        )
    row = await session.get(CalendarYear, year)
    replaced = row is not None
    await session.execute(delete(CalendarDay).where(CalendarDay.year == year))
    if row is None:
        row = CalendarYear(year=year)
        session.add(row)
    row.notice = notice
    row.entered_by = principal.name[:100]
    row.entered_at = clock.now()
    await session.flush()
    session.add_all(
        CalendarDay(day=day, year=year, is_workday=is_workday, name=name)
        for day, (is_workday, name) in sorted(days.items())
    )
    await session.flush()
    holidays = sum(1 for is_workday, _name in days.values() if not is_workday)
    await audit.log(
        session,
        principal,
        "core.calendar.enter_year",
        str(year),
        notice=notice,
        holidays=holidays,
        workdays=len(days) - holidays,
        replaced=replaced,
    )
    await events.YEAR_ENTERED.emit(session, events.YearEntered(year=year))
    return row


@dataclass(frozen=True)
class YearOverview:
    """A year of the calendar: where it comes from, its named days, workdays per month."""

    year: int
    source: Source
    provisional: bool
    notice: str
    entered_by: str | None
    entered_at: datetime | None
    days: list[DayInfo]
    month_workdays: list[int]  # index 0 is January

    @property
    def special_days(self) -> list[DayInfo]:
        """Only the days that differ from the weekend rule."""
        return [d for d in self.days if d.differs_from_weekend_rule]

    @property
    def total_workdays(self) -> int:
        return sum(self.month_workdays)


async def year_overview(session: AsyncSession, year: int) -> YearOverview:
    """The year as the calendar answers it, for the API, the CLI and the pages."""
    check_year(year)
    calendar = await load_calendar(session)
    row = await session.get(CalendarYear, year)
    source = calendar.year_source(year)
    return YearOverview(
        year=year,
        source=source,
        provisional=source == "weekend_rule",
        notice=row.notice if row else "",
        entered_by=row.entered_by if row else None,
        entered_at=row.entered_at if row else None,
        days=calendar.year_days(year),
        month_workdays=[calendar.month_workdays(year, m) for m in range(1, 13)],
    )
