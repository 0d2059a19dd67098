"""Times in SensorThings: ISO 8601 instants, intervals (TM_Period) and durations, parsed
from clients and written back in UTC with Z."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smartcity.core import clock
from smartcity.sensing.sta.entities import BadRequest

# Years outside 1000–9999 have no four-digit ISO 8601 form (and Python prints year 1 as "1").
FIRST_YEAR, LAST_YEAR = 1000, 9999
# Nothing this platform measures happened before the Unix epoch; earlier is a device whose
# clock was never set, or a typo.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)

_DATETIME = (
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?|[ ]\d{2}:\d{2}(?![\d:]))"
)
_DATETIME_RE = re.compile(_DATETIME)


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 instant with its offset (Z or ±hh:mm, also ±hhmm). A space before the
    offset stands for '+' that form decoding turned into a space."""
    value = text.strip()
    if re.fullmatch(r".*T\d{2}:\d{2}(:\d{2}(\.\d+)?)? \d{2}:\d{2}", value):
        value = value[:-6] + "+" + value[-5:]
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value)
    value = re.sub(r"([+-]\d{2})$", r"\1:00", value)
    # Python before 3.11 took at most 6 fractional digits; keep microseconds.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    if value.endswith("z"):
        value = value[:-1] + "Z"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise BadRequest(f"'{text}' has no time zone; add Z or an offset such as +08:00.")
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"'{text}' is not an ISO 8601 date and time.") from exc
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise BadRequest(
            f"'{text}' is outside the years {FIRST_YEAR}–{LAST_YEAR} this service accepts."
        )
    return parsed


def horizon() -> datetime:
    """The latest time a measurement may carry: now plus the clock-skew tolerance."""
    from smartcity.settings import get_settings

    return clock.now() + timedelta(hours=get_settings().sta_future_tolerance_hours)


def check_range(name: str, value: Interval | datetime, *, latest: datetime | None) -> None:
    """400 when a time lies before 1970 or after ``latest`` (None: no bound ahead, as for a
    validTime, which may run into the future)."""
    interval = value if isinstance(value, Interval) else Interval(value)
    if interval.start < EARLIEST:
        raise BadRequest(
            f"{name} {format_datetime(interval.start)} is before {format_datetime(EARLIEST)}; "
            "check the device's clock."
        )
    if latest is not None and interval.last > latest:
        from smartcity.settings import get_settings

        raise BadRequest(
            f"{name} {format_datetime(interval.last)} is more than "
            f"{get_settings().sta_future_tolerance_hours:g} hours ahead of the server's clock; "
            "check the device's clock."
        )


@dataclass(frozen=True)
class Interval:
    """A TM_Period; an instant is an Interval with ``end`` None."""

    start: datetime
    end: datetime | None = None

    @property
    def last(self) -> datetime:
        return self.end if self.end is not None else self.start


def parse_time_value(text: str) -> Interval:
    """An instant or an ISO 8601 interval ``start/end`` (also ``start/duration``)."""
    if not isinstance(text, str):
        raise BadRequest("A time must be an ISO 8601 string.")
    if "/" in text:
        first, _, second = text.partition("/")
        start = parse_datetime(first)
        end = (
            start + parse_duration(second)
            if second.strip().startswith("P")
            else parse_datetime(second)
        )
        if end < start:
            raise BadRequest(f"The interval '{text}' ends before it starts.")
        return Interval(start, end)
    return Interval(parse_datetime(text))


_DURATION_RE = re.compile(
    r"(-)?P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration; years and months count 365 and 30 days (OData durations are
    day-time only, these are for convenience)."""
    match = _DURATION_RE.match(text.strip())
    if not match or text.strip() in ("P", "PT", "-P"):
        raise BadRequest(f"'{text}' is not an ISO 8601 duration such as P1DT2H.")
    sign, years, months, weeks, days, hours, minutes, seconds = match.groups()
    try:
        total = _duration(years, months, weeks, days, hours, minutes, seconds)
    except OverflowError as exc:
        raise BadRequest(f"The duration '{text}' is too long.") from exc
    return -total if sign else total


def _duration(*parts: str | None) -> timedelta:
    years, months, weeks, days, hours, minutes, seconds = parts
    return timedelta(
        days=float(years or 0) * 365
        + float(months or 0) * 30
        + float(weeks or 0) * 7
        + float(days or 0),
        hours=float(hours or 0),
        minutes=float(minutes or 0),
        seconds=float(seconds or 0),
    )


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with Z; isoformat, unlike strftime's %Y, always writes four digits."""
    value = value.astimezone(UTC).replace(tzinfo=None)
    if value.microsecond:
        return value.isoformat(timespec="microseconds").rstrip("0") + "Z"
    return value.isoformat(timespec="seconds") + "Z"


def format_interval(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    if end is None:
        return format_datetime(start)
    return f"{format_datetime(start)}/{format_datetime(end)}"
