"""The platform's one source of the current time, so tests can freeze it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")

_frozen: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def to_city(instant: datetime) -> datetime:
    """An instant as the city's wall clock shows it (pages show Asia/Shanghai)."""
    return instant.astimezone(CITY_TZ)


@contextmanager
def frozen(at: datetime) -> Iterator[Callable[[timedelta], datetime]]:
    """Freeze now() at ``at`` for the block; the yielded function moves it forward."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous = _frozen
    _frozen = at.astimezone(UTC)

    def advance(delta: timedelta) -> datetime:
        global _frozen
        assert _frozen is not None
        _frozen = _frozen + delta
        return _frozen

    try:
        yield advance
    finally:
        _frozen = previous
