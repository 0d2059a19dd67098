"""The figures of the board as data: open ones (在办, 黄牌, 红牌, 补正), closed ones in the
range with their histogram of working days and ratings (按时办结率, 办理用时, 好差评), a table's
row, the tiles and the whole board; and the exact percentile of a histogram."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from smartcity.cases.supervision.scope import Scope


@dataclass
class OpenFigures:
    """Open cases (在办): all, with a yellow warning only (黄牌), with a red one (红牌), paused
    for the applicant (补正)."""

    open: int = 0
    yellow: int = 0
    red: int = 0
    paused: int = 0

    def merge(self, other: OpenFigures) -> None:
        self.open += other.open
        self.yellow += other.yellow
        self.red += other.red
        self.paused += other.paused


@dataclass
class ClosedFigures:
    """Cases closed (办结) in the range, from the histogram of handling times, with their
    ratings."""

    closed: int = 0
    on_time: int = 0
    histogram: dict[int, int] = field(default_factory=dict)
    ratings: int = 0
    score_sum: int = 0
    poor: int = 0

    def add(self, workdays: int | None, count: int, on_time: int) -> None:
        self.closed += count
        self.on_time += on_time
        if workdays is not None:
            self.histogram[workdays] = self.histogram.get(workdays, 0) + count

    def rate(self, count: int, score_sum: int, poor: int) -> None:
        self.ratings += count
        self.score_sum += score_sum
        self.poor += poor

    def merge(self, other: ClosedFigures) -> None:
        self.closed += other.closed
        self.on_time += other.on_time
        for days, count in other.histogram.items():
            self.histogram[days] = self.histogram.get(days, 0) + count
        self.rate(other.ratings, other.score_sum, other.poor)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.closed if self.closed else None

    @property
    def average_days(self) -> float | None:
        n = sum(self.histogram.values())
        return sum(d * c for d, c in self.histogram.items()) / n if n else None

    @property
    def p90_days(self) -> int | None:
        """The nearest-rank 90th percentile: the fewest working days within which at least
        90 % of the cases closed."""
        return percentile(self.histogram, 0.9)

    @property
    def rating_average(self) -> float | None:
        return self.score_sum / self.ratings if self.ratings else None

    @property
    def poor_share(self) -> float | None:
        return self.poor / self.ratings if self.ratings else None


def percentile(histogram: Mapping[int, int], q: float) -> int | None:
    """The nearest-rank percentile of a histogram {value: count}: exact, no interpolation."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)  # pragma: no cover - rank never exceeds n


@dataclass
class BoardRow:
    """One line of a board table: a department, a category or a month."""

    key: str
    label: str
    open: OpenFigures = field(default_factory=OpenFigures)
    closed: ClosedFigures = field(default_factory=ClosedFigures)
    flags: dict[str, int] = field(default_factory=dict)

    @property
    def open_flags(self) -> int:
        return sum(self.flags.values())

    def merge(self, other: BoardRow) -> None:
        self.open.merge(other.open)
        self.closed.merge(other.closed)
        for kind, count in other.flags.items():
            self.flags[kind] = self.flags.get(kind, 0) + count


@dataclass
class StateCount:
    case_type: str
    state: str
    title: str
    count: int


@dataclass
class Summary:
    """The board's tiles: open figures, closed figures in the range, open flags by kind and
    the open cases by state."""

    scope: Scope
    total: BoardRow
    by_state: list[StateCount]


@dataclass
class Board:
    """Everything the board page shows but the case lists, from one set of queries."""

    summary: Summary
    departments: list[BoardRow]
    categories: list[BoardRow]
    months: list[BoardRow]
