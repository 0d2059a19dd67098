"""Times in SensorThings: ISO 8601 instants, intervals (TM_Period) and durations, parsed
from clients and written back in UTC with Z."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smartcity.sensing.entities import BadRequest

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
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"'{text}' is not an ISO 8601 date and time.") from exc


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
    value = value.astimezone(UTC)
    if value.microsecond:
        text = value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0")
    else:
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return text + "Z"


def format_interval(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    if end is None:
        return format_datetime(start)
    return f"{format_datetime(start)}/{format_datetime(end)}"
