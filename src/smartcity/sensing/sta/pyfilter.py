"""Evaluating filter and orderby expressions in Python, for what SQL cannot do on these
databases (the geospatial functions, with no PostGIS) and as the reference for the SQL.

Three-valued like SQL: a comparison with a missing value or with values of different types is
unknown (None), and only True keeps an entity. A condition through a navigation path holds
when it holds for any related entity (SQL's EXISTS).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shapely.errors import ShapelyError

from smartcity.core import clock
from smartcity.core.geo import to_geometry
from smartcity.sensing.sta.entities import BadRequest
from smartcity.sensing.sta.odata import (
    ARITHMETIC,
    COMPARISONS,
    MAX_DATETIME,
    MIN_DATETIME,
    Binary,
    Call,
    Literal,
    Negate,
    Node,
    Not,
    Path,
    walk,
)
from smartcity.sensing.sta.times import (
    Interval,
)

# A path's values for one entity and whether it went through a navigation (then "any").
Resolve = Callable[[Path], Awaitable[tuple[list[Any], bool]]]


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _instant(value: Any) -> datetime | None:
    if isinstance(value, Interval):
        return value.start
    return value if isinstance(value, datetime) else None


def _tv(value: Any) -> str:
    """The comparison class of a value, None for no value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Interval | datetime):
        return "time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "timeofday"
    if isinstance(value, timedelta):
        return "duration"
    return "other"


def _as_interval(value: datetime | Interval) -> tuple[datetime, datetime]:
    if isinstance(value, Interval):
        return value.start, value.last
    return value, value


def compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        if op == "eq":
            return left is None and right is None
        if op == "ne":
            return not (left is None and right is None)
        return None
    kind_l, kind_r = _tv(left), _tv(right)
    if kind_l != kind_r:
        return None
    if kind_l == "time":
        return _compare_times(op, left, right)
    if kind_l in ("bool", "other") and op not in ("eq", "ne"):
        return None
    try:
        if op == "eq":
            return bool(left == right)
        if op == "ne":
            return bool(left != right)
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return None


def _compare_times(op: str, left: datetime | Interval, right: datetime | Interval) -> bool:
    """Instants compare as usual. An interval and an instant: eq means the instant lies in
    the interval (inclusive), ne outside it, gt/ge the interval starts after (or at) it, lt/le
    it ends before (or at) it. Two intervals: eq is same start and end, gt/lt one lies wholly
    after/before the other; ge/le are refused when parsing the filter (sqlfilter)."""
    l_start, l_end = _as_interval(left)
    r_start, r_end = _as_interval(right)
    left_is_interval = isinstance(left, Interval) and left.end is not None
    right_is_interval = isinstance(right, Interval) and right.end is not None
    if left_is_interval and right_is_interval:
        if op == "eq":
            return l_start == r_start and l_end == r_end
        if op == "ne":
            return not (l_start == r_start and l_end == r_end)
        if op == "gt":
            return l_start > r_end
        if op == "lt":
            return l_end < r_start
        raise BadRequest(f"'{op}' between two time intervals is not defined; use gt or lt.")
    if op == "eq":
        return l_start <= r_end and r_start <= l_end
    if op == "ne":
        return not (l_start <= r_end and r_start <= l_end)
    if op == "gt":
        return l_start > r_end
    if op == "ge":
        return l_start >= r_end
    if op == "lt":
        return l_end < r_start
    return l_end <= r_start


def _round_half_away(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _arith(op: str, left: Any, right: Any) -> Any:
    try:
        return _arithmetic(op, left, right)
    except (OverflowError, ValueError):
        return None  # beyond the range of times or numbers: no value, no match


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        if b == 0:
            return None
        if op == "div":
            return a / b
        return math.fmod(a, b)
    if isinstance(left, Interval | datetime) and isinstance(right, timedelta):
        if op not in ("add", "sub"):
            return None
        delta = right if op == "add" else -right
        if isinstance(left, Interval):
            return Interval(left.start + delta, left.end + delta if left.end else None)
        return left + delta
    if op == "sub" and isinstance(left, datetime) and isinstance(right, datetime):
        return left - right
    if isinstance(left, timedelta) and isinstance(right, timedelta) and op in ("add", "sub"):
        return left + right if op == "add" else left - right
    return None


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def call(name: str, args: list[Any]) -> Any:
    if name == "now":
        return clock.now()
    if name == "mindatetime":
        return MIN_DATETIME
    if name == "maxdatetime":
        return MAX_DATETIME
    if any(a is None for a in args):
        return None
    if name in ("substringof", "endswith", "startswith", "contains", "indexof", "concat"):
        a, b = _s(args[0]), _s(args[1])
        if a is None or b is None:
            return None
        if name == "substringof":
            return a in b
        if name == "contains":
            return b in a
        if name == "endswith":
            return a.endswith(b)
        if name == "startswith":
            return a.startswith(b)
        if name == "indexof":
            # 1-based, 0 when absent: SensorThings' own example (indexof(description,'Sensor')
            # eq 1), and what SQL's instr/strpos give.
            return a.find(b) + 1
        return a + b
    if name in ("length", "tolower", "toupper", "trim"):
        a = _s(args[0])
        if a is None:
            return None
        return {"length": len, "tolower": str.lower, "toupper": str.upper, "trim": str.strip}[name](
            a
        )
    if name == "substring":
        text = _s(args[0])
        starts = [_number(a) for a in args[1:]]
        if text is None or any(n is None or n != int(n) for n in starts):
            return None
        start = max(int(starts[0] or 0), 0)
        return text[start:] if len(starts) == 1 else text[start : start + int(starts[1] or 0)]
    if name in (
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "fractionalseconds",
        "date",
        "time",
        "totaloffsetminutes",
    ):
        instant = _instant(args[0])
        if instant is None:
            return None
        instant = instant.astimezone(UTC)
        if name == "fractionalseconds":
            return instant.microsecond / 1_000_000
        if name == "date":
            return instant.date()
        if name == "time":
            return instant.time().replace(microsecond=0)
        if name == "totaloffsetminutes":
            return 0  # stored in UTC
        value: int = getattr(instant, name)
        return value
    if name in ("round", "floor", "ceiling"):
        number = _number(args[0])
        if number is None:
            return None
        if name == "round":
            return _round_half_away(number)
        return float(math.floor(number) if name == "floor" else math.ceil(number))
    return _geo(name, args)


def _geo(name: str, args: list[Any]) -> Any:
    shapes = [to_geometry(a) for a in args[:2]]
    if any(s is None for s in shapes):
        return None
    first = shapes[0]
    assert first is not None
    try:
        if name == "geo.length":
            return first.length
        second = shapes[1]
        assert second is not None
        if name == "geo.distance":
            return first.distance(second)
        if name in ("geo.intersects", "st_intersects"):
            return first.intersects(second)
        if name == "st_relate":
            pattern = _s(args[2])
            return None if pattern is None else first.relate_pattern(second, pattern)
        predicate = name.removeprefix("st_")
        result: bool = getattr(first, predicate)(second)
        return result
    except (ShapelyError, ValueError) as exc:
        raise BadRequest(f"{name}() cannot compare these geometries: {exc}") from exc


def evaluate(node: Node, env: dict[Path, Any]) -> Any:
    """The value of an expression, with path values taken from ``env``."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        return env.get(node)
    if isinstance(node, Negate):
        value = evaluate(node.operand, env)
        number = _number(value)
        if number is not None:
            return -number
        return -value if isinstance(value, timedelta) else None
    if isinstance(node, Not):
        value = evaluate(node.operand, env)
        return None if value is None else not value
    if isinstance(node, Call):
        return call(node.name, [evaluate(a, env) for a in node.args])
    if node.op in ("and", "or"):
        left, right = evaluate(node.left, env), evaluate(node.right, env)
        return _kleene(node.op, left, right)
    left, right = evaluate(node.left, env), evaluate(node.right, env)
    if node.op in COMPARISONS:
        return compare(node.op, left, right)
    assert node.op in ARITHMETIC
    return _arith(node.op, left, right)


def _kleene(op: str, left: Any, right: Any) -> bool | None:
    if op == "and":
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


async def matches(node: Node, resolve: Resolve) -> bool | None:
    """Whether one entity satisfies a filter; ``resolve`` gives its path values."""
    if isinstance(node, Binary) and node.op in ("and", "or"):
        left = await matches(node.left, resolve)
        if node.op == "and" and left is False:
            return False
        if node.op == "or" and left is True:
            return True
        return _kleene(node.op, left, await matches(node.right, resolve))
    if isinstance(node, Not):
        inner = await matches(node.operand, resolve)
        return None if inner is None else not inner
    paths = list(dict.fromkeys(n for n in walk(node) if isinstance(n, Path)))
    values: list[list[Any]] = []
    through_nav = False
    for path in paths:
        found, navigated = await resolve(path)
        values.append(found)
        through_nav = through_nav or navigated
    outcome: bool | None = False
    for combination in itertools.product(*values):
        result = evaluate(node, dict(zip(paths, combination, strict=True)))
        if result is True:
            return True
        if result is None:
            outcome = None
    if through_nav:
        # Like SQL's EXISTS: true when some related entity satisfies it, else false.
        return False
    if not paths:
        return evaluate(node, {}) is True
    return outcome


def sort_key(value: Any) -> tuple[int, Any]:
    """Nulls first; then by type, then by value (numbers, strings, times...)."""
    if value is None:
        return (0, 0)
    if isinstance(value, Interval):
        return (3, (value.start, value.last))
    if isinstance(value, datetime):
        return (3, (value, value))
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, date | time):
        return (4, value.isoformat())
    return (5, str(value))
