"""Compiling filter and orderby expressions to SQL, on SQLite and PostgreSQL alike.

What compiles: comparisons, logic and arithmetic on numbers; the string, date and math
functions; comparisons on JSON sub-properties (``properties/owner``) and on ``result``; time
instants and intervals with the interval rules of pyfilter.compare; paths through navigation
properties (an EXISTS over the joins, "any" semantics). What does not (raises NotSQL and is
evaluated in Python by pyfilter): the geospatial functions (no PostGIS here), durations,
and comparisons of JSON values with times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Date,
    Float,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)

from smartcity.core.db import UTCDateTime
from smartcity.sensing import models as m
from smartcity.sensing.sta.entities import (
    MAX_ID,
    BadRequest,
    EntityType,
    Resolved,
    col,
    join_step,
    resolve_path,
)
from smartcity.sensing.sta.odata import (
    COMPARISONS,
    GEO_FUNCTIONS,
    MAX_DATETIME,
    MIN_DATETIME,
    Binary,
    Call,
    Literal,
    Negate,
    Node,
    Not,
    OrderItem,
    Path,
    walk,
)
from smartcity.sensing.sta.times import (
    Interval,
)


class NotSQL(Exception):
    """This expression is evaluated in Python instead."""


@dataclass
class V:
    """A typed SQL value. kind: number, string, bool, datetime, interval, date, time, json,
    result, null. Intervals carry ``end``; JSON values their column and path."""

    expr: Any
    kind: str
    end: Any = None
    path: tuple[str, ...] = ()
    # The nullable end column of a time that may be an instant (an Observation's
    # phenomenonTime): interval rules apply only to the rows where it is set.
    end_raw: Any = None


_TIME_FUNCS = ("year", "month", "day", "hour", "minute", "second")


class Compiler:
    def __init__(self, dialect: str, etype: EntityType, root: Any) -> None:
        self.dialect = dialect
        self.etype = etype
        self.root = root
        # nav-path prefix -> alias, while compiling one leaf condition
        self.aliases: dict[tuple[str, ...], Any] = {(): root}

    # --- conditions ----------------------------------------------------------------------

    def condition(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, Binary) and node.op in ("and", "or"):
            left, right = self.condition(node.left), self.condition(node.right)
            return and_(left, right) if node.op == "and" else or_(left, right)
        if isinstance(node, Not):
            return not_(self.condition(node.operand))
        return self._leaf(node)

    def _leaf(self, node: Node) -> ColumnElement[bool]:
        if any(isinstance(n, Call) and n.name in GEO_FUNCTIONS for n in walk(node)):
            raise NotSQL
        paths = [n for n in walk(node) if isinstance(n, Path)]
        resolved = {p: resolve_path(self.etype, p.segments) for p in paths}
        prefixes = sorted(
            {
                tuple(n.name for n in r.navs[:i])
                for r in resolved.values()
                for i in range(1, len(r.navs) + 1)
            },
            key=len,
        )
        if not prefixes:
            self.aliases = {(): self.root}
            return self._predicate(node, resolved)
        froms: list[Any] = []
        conditions: list[ColumnElement[bool]] = []
        self.aliases = {(): self.root}
        types: dict[tuple[str, ...], EntityType] = {(): self.etype}
        for prefix in prefixes:
            parent_type = types[prefix[:-1]]
            nav = parent_type.navs[prefix[-1]]
            alias, extra, joins = join_step(nav, self.aliases[prefix[:-1]])
            self.aliases[prefix] = alias
            from smartcity.sensing.sta.entities import nav_target

            types[prefix] = nav_target(nav)
            froms.extend(extra)
            conditions.extend(joins)
        predicate = self._predicate(node, resolved)
        self.aliases = {(): self.root}
        return exists(select(1).select_from(*froms).where(and_(*conditions, predicate)))

    def _predicate(self, node: Node, resolved: dict[Path, Resolved]) -> ColumnElement[bool]:
        self._resolved = resolved
        if isinstance(node, Binary) and node.op in COMPARISONS:
            return self.compare(node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, Call):
            value = self.value(node)
            if value.kind != "bool":
                raise BadRequest(f"{node.name}() does not give true or false; compare it.")
            result: ColumnElement[bool] = value.expr
            return result
        if isinstance(node, Literal) and node.kind == "bool":
            return true() if node.value else false()
        if isinstance(node, Path):
            value = self.value(node)
            if value.kind == "json":
                truth: ColumnElement[bool] = self._json(value, "bool") == true()
                return truth
        raise BadRequest("A filter must be a condition, e.g. name eq 'x'.")

    # --- values ---------------------------------------------------------------------------

    def value(self, node: Node) -> V:
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, Path):
            return self._path(node)
        if isinstance(node, Negate):
            return V(-self.number(self.value(node.operand)), "number")
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Binary):
            if node.op in ("add", "sub", "mul", "div", "mod"):
                return self._arith(node)
            raise BadRequest(f"'{node.op}' gives true or false; it cannot be used as a value.")
        raise BadRequest("'not' gives true or false; it cannot be used as a value.")

    def _literal(self, node: Literal) -> V:
        if node.kind == "string":
            return V(literal(node.value, String()), "string")
        if node.kind == "number":
            small = isinstance(node.value, int) and abs(node.value) < MAX_ID
            return V(
                literal(
                    node.value if small else float(node.value), Integer() if small else Float()
                ),
                "number",
            )
        if node.kind == "bool":
            return V(literal(node.value, Boolean()), "bool")
        if node.kind == "null":
            return V(null(), "null")
        if node.kind == "datetime":
            return V(literal(node.value, UTCDateTime()), "datetime")
        if node.kind == "interval":
            assert isinstance(node.value, Interval)
            return V(
                literal(node.value.start, UTCDateTime()),
                "interval",
                literal(node.value.last, UTCDateTime()),
            )
        if node.kind == "date":
            if self.dialect == "sqlite":
                return V(literal(node.value.isoformat(), String()), "date")
            return V(literal(node.value, Date()), "date")
        if node.kind == "time":
            if self.dialect == "sqlite":
                return V(literal(node.value.isoformat(), String()), "time")
            return V(literal(node.value, Time()), "time")
        raise NotSQL

    def _path(self, node: Path) -> V:
        resolved = getattr(self, "_resolved", {}).get(node) or resolve_path(
            self.etype, node.segments
        )
        prefix = tuple(n.name for n in resolved.navs)
        if prefix not in self.aliases:
            raise NotSQL
        source = self.aliases[prefix]
        prop = resolved.prop
        if prop.kind == "id":
            return V(col(source, "id"), "number")
        if prop.kind == "string":
            return V(col(source, prop.column), "string")
        if prop.kind == "instant":
            return V(col(source, prop.column), "datetime")
        if prop.kind == "interval":
            start, end = col(source, prop.column), col(source, prop.end_column)
            maybe_instant = (
                end
                if prop.name == "phenomenonTime"
                and source is not None
                and (resolved.etype.name == "Observation")
                else None
            )
            return V(start, "interval", func.coalesce(end, start), end_raw=maybe_instant)
        if prop.kind == "result":
            if resolved.subpath:
                return V(col(source, "result_json"), "json", path=resolved.subpath)
            return V(source, "result")
        if prop.kind == "json" or (prop.kind == "geometry" and resolved.subpath):
            return V(col(source, prop.column), "json", path=resolved.subpath)
        raise NotSQL  # geometry

    def _arith(self, node: Binary) -> V:
        left, right = self.value(node.left), self.value(node.right)
        if left.kind in ("datetime", "interval") or right.kind in ("datetime", "interval"):
            raise NotSQL
        a, b = self.number(left), self.number(right)
        if node.op == "add":
            return V(a + b, "number")
        if node.op == "sub":
            return V(a - b, "number")
        if node.op == "mul":
            return V(a * b, "number")
        divisor = func.nullif(b, 0)
        if node.op == "div":
            return V(cast(a, Float()) / divisor, "number")
        return V(a - b * func.trunc(cast(a, Float()) / divisor), "number")

    def _call(self, node: Call) -> V:
        name = node.name
        if name in GEO_FUNCTIONS:
            raise NotSQL
        if name == "now":
            from smartcity.core import clock

            return V(literal(clock.now(), UTCDateTime()), "datetime")
        if name == "mindatetime":
            return V(literal(MIN_DATETIME, UTCDateTime()), "datetime")
        if name == "maxdatetime":
            return V(literal(MAX_DATETIME, UTCDateTime()), "datetime")
        args = [self.value(a) for a in node.args]
        if name in ("substringof", "contains", "startswith", "endswith", "indexof", "concat"):
            a, b = self.string(args[0]), self.string(args[1])
            if name == "substringof":
                return V(self._position(b, a) > 0, "bool")
            if name == "contains":
                return V(self._position(a, b) > 0, "bool")
            if name == "indexof":
                return V(self._position(a, b), "number")
            if name == "startswith":
                return V(func.substr(a, 1, func.length(b)) == b, "bool")
            if name == "endswith":
                return V(
                    case(
                        (
                            func.length(b) <= func.length(a),
                            func.substr(a, func.length(a) - func.length(b) + 1) == b,
                        ),
                        else_=false(),
                    ),
                    "bool",
                )
            return V(a.op("||")(b), "string")
        if name == "length":
            return V(func.length(self.string(args[0])), "number")
        if name in ("tolower", "toupper", "trim"):
            fn = {"tolower": func.lower, "toupper": func.upper, "trim": func.trim}[name]
            return V(fn(self.string(args[0])), "string")
        if name == "substring":
            # Only whole-number literals: SQL would fail on 1.5 or on a huge number.
            bounds = node.args[1:]
            if not all(
                isinstance(b, Literal) and isinstance(b.value, int) and 0 <= b.value < 2**31
                for b in bounds
            ):
                raise NotSQL
            text = self.string(args[0])
            start = self.number(args[1]) + 1
            if len(args) == 3:
                return V(func.substr(text, start, self.number(args[2])), "string")
            return V(func.substr(text, start), "string")
        if name in ("round", "floor", "ceiling"):
            number = self.number(args[0])
            if name == "round":
                return V(cast(func.round(cast(number, Numeric())), Float()), "number")
            fn = func.floor if name == "floor" else func.ceiling
            return V(cast(fn(number), Float()), "number")
        instant = self.instant(args[0])
        if name == "totaloffsetminutes":
            return V(case((instant.is_(None), null()), else_=literal(0)), "number")
        if self.dialect == "sqlite":
            return self._sqlite_time(name, instant)
        utc = func.timezone("UTC", instant)
        if name in _TIME_FUNCS:
            part: Any = func.extract(name, utc)
            if name == "second":
                part = func.floor(part)
            return V(cast(part, Integer()), "number")
        if name == "fractionalseconds":
            seconds = func.extract("second", utc)
            return V(cast(seconds - func.floor(seconds), Float()), "number")
        if name == "date":
            return V(cast(utc, Date()), "date")
        return V(func.date_trunc("second", cast(utc, Time())), "time")

    def _sqlite_time(self, name: str, instant: Any) -> V:
        codes = {
            "year": "%Y",
            "month": "%m",
            "day": "%d",
            "hour": "%H",
            "minute": "%M",
            "second": "%S",
        }
        if name in codes:
            return V(cast(func.strftime(codes[name], instant), Integer()), "number")
        if name == "fractionalseconds":
            return V(
                cast(func.strftime("%f", instant), Float())
                - cast(func.strftime("%S", instant), Integer()),
                "number",
            )
        if name == "date":
            return V(func.date(instant), "date")
        return V(func.time(instant), "time")

    def _position(self, haystack: Any, needle: Any) -> Any:
        if self.dialect == "sqlite":
            return func.instr(haystack, needle)
        return func.strpos(haystack, needle)

    # --- coercions ------------------------------------------------------------------------

    def string(self, value: V) -> Any:
        if value.kind == "string":
            return value.expr
        if value.kind == "json":
            return self._json(value, "string")
        if value.kind == "result":
            return col(value.expr, "result_string")
        if value.kind == "null":
            return cast(null(), Text())
        raise BadRequest(f"Expected text, got a {value.kind} value.")

    def number(self, value: V) -> Any:
        if value.kind == "number":
            return value.expr
        if value.kind == "json":
            return self._json(value, "number")
        if value.kind == "result":
            return col(value.expr, "result_number")
        if value.kind == "null":
            return cast(null(), Float())
        raise BadRequest(f"Expected a number, got a {value.kind} value.")

    def instant(self, value: V) -> Any:
        if value.kind in ("datetime", "interval"):
            return value.expr
        if value.kind == "null":
            return null()
        if value.kind in ("json", "result"):
            raise NotSQL
        raise BadRequest(f"Expected a time, got a {value.kind} value.")

    def _json(self, value: V, want: str) -> Any:
        """A JSON value at a path, as the SQL type wanted, or NULL when it is of another
        JSON type (so a comparison with it is unknown, never an error)."""
        column, path = value.expr, value.path
        if self.dialect == "sqlite":
            pointer = "$" + "".join(
                f"[{p}]" if p.isdigit() else '."' + p.replace('"', '\\"') + '"' for p in path
            )
            kind = func.json_type(column, pointer)
            extracted = func.json_extract(column, pointer)
            if want == "number":
                return case((kind.in_(("integer", "real")), extracted), else_=null())
            if want == "string":
                return case((kind == "text", extracted), else_=null())
            return case((kind == "true", true()), (kind == "false", false()), else_=null())
        array = literal(list(path), ARRAY(Text()))
        node = column.op("#>")(array)
        text = column.op("#>>")(array)
        kind = func.json_typeof(node)
        if want == "number":
            return case((kind == "number", cast(text, Float())), else_=null())
        if want == "string":
            return case((kind == "string", text), else_=null())
        return case((kind == "boolean", cast(text, Boolean())), else_=null())

    # --- comparisons ----------------------------------------------------------------------

    def compare(self, op: str, left: V, right: V) -> ColumnElement[bool]:
        if left.kind == "null" or right.kind == "null":
            other = right if left.kind == "null" else left
            if op not in ("eq", "ne"):
                return null()  # type: ignore[return-value]
            missing = self._is_null(other)
            return missing if op == "eq" else not_(missing)
        wrapped = ("result", "json")
        if left.kind in wrapped and right.kind not in wrapped:
            return self._cmp(op, self._typed_like(left, right), right)
        if right.kind in wrapped and left.kind not in wrapped:
            return self._cmp(op, left, self._typed_like(right, left))
        if left.kind in ("result", "json") and right.kind in ("result", "json"):
            raise NotSQL
        return self._cmp(op, left, right)

    def _typed_like(self, value: V, other: V) -> V:
        want = {"number": "number", "string": "string", "bool": "bool"}.get(other.kind)
        if want is None:
            raise NotSQL
        if value.kind == "result":
            column = {
                "number": "result_number",
                "string": "result_string",
                "bool": "result_boolean",
            }[want]
            return V(col(value.expr, column), other.kind)
        return V(self._json(value, want), other.kind)

    def _is_null(self, value: V) -> ColumnElement[bool]:
        if value.kind == "result":
            is_null: ColumnElement[bool] = col(value.expr, "result_kind") == m.RESULT_NULL
            return is_null
        if value.kind == "json":
            if self.dialect == "sqlite":
                pointer_kind = func.json_type(
                    value.expr,
                    "$" + "".join(f"[{p}]" if p.isdigit() else f'."{p}"' for p in value.path),
                )
                return or_(pointer_kind.is_(None), pointer_kind == "null")
            node = value.expr.op("#>")(literal(list(value.path), ARRAY(Text())))
            return or_(node.is_(None), func.json_typeof(node) == "null")
        result: ColumnElement[bool] = value.expr.is_(None)
        return result

    def _cmp(self, op: str, left: V, right: V) -> ColumnElement[bool]:
        times = ("datetime", "interval")
        if left.kind in times and right.kind in times:
            return self._time_cmp(op, left, right)
        if left.kind != right.kind:
            raise BadRequest(f"Cannot compare a {left.kind} value with a {right.kind} value.")
        if left.kind == "bool" and op not in ("eq", "ne"):
            raise BadRequest("true and false can only be compared with eq or ne.")
        a, b = left.expr, right.expr
        result: ColumnElement[bool] = {
            "eq": lambda: a == b,
            "ne": lambda: a != b,
            "gt": lambda: a > b,
            "ge": lambda: a >= b,
            "lt": lambda: a < b,
            "le": lambda: a <= b,
        }[op]()
        return result

    def _time_cmp(self, op: str, left: V, right: V) -> ColumnElement[bool]:
        """The interval rules of pyfilter._compare_times, in SQL."""
        l_start, l_end = left.expr, left.end if left.kind == "interval" else left.expr
        r_start, r_end = right.expr, right.end if right.kind == "interval" else right.expr
        overlap = and_(l_start <= r_end, r_start <= l_end)
        rules: dict[str, Any] = {
            "eq": lambda: overlap,
            "ne": lambda: not_(overlap),
            "gt": lambda: l_start > r_end,
            "ge": lambda: l_start >= r_end,
            "lt": lambda: l_end < r_start,
            "le": lambda: l_end <= r_start,
        }
        instant_rule: ColumnElement[bool] = rules[op]()
        if not (left.kind == "interval" and right.kind == "interval"):
            return instant_rule
        if op in ("ge", "le"):
            raise BadRequest(f"'{op}' between two time intervals is not defined; use gt or lt.")
        if op in ("gt", "lt"):
            return instant_rule
        same = and_(l_start == r_start, l_end == r_end)
        interval_rule: ColumnElement[bool] = same if op == "eq" else not_(same)
        maybe = [v.end_raw for v in (left, right) if v.end_raw is not None]
        if not maybe:
            return interval_rule
        result: ColumnElement[bool] = case(
            (or_(*[m_.is_(None) for m_ in maybe]), instant_rule), else_=interval_rule
        )
        return result

    # --- ordering ------------------------------------------------------------------------

    def order_columns(self, item: OrderItem) -> list[Any]:
        """SQL ORDER BY terms for one $orderby item: nulls first ascending, last descending."""
        node = item.expr
        if any(isinstance(n, Call) and n.name in GEO_FUNCTIONS for n in walk(node)):
            raise NotSQL
        paths = [n for n in walk(node) if isinstance(n, Path)]
        resolved = {p: resolve_path(self.etype, p.segments) for p in paths}
        self._resolved = resolved
        through = [r for r in resolved.values() if r.navs]
        if any(r.many for r in through):
            raise BadRequest("$orderby cannot go through a navigation to many entities.")
        if through:
            if not isinstance(node, Path):
                raise NotSQL
            terms = self._scalar_through(node, resolved[node])
        else:
            terms = self._order_terms(self.value(node))
        ordered = []
        for term in terms:
            ordered.append(
                term.desc().nulls_last() if item.descending else term.asc().nulls_first()
            )
        return ordered

    def _order_terms(self, value: V) -> list[Any]:
        if value.kind == "interval":
            return [value.expr, value.end]
        if value.kind == "result":
            return [
                col(value.expr, "result_boolean"),
                col(value.expr, "result_number"),
                col(value.expr, "result_string"),
            ]
        if value.kind == "json":
            return [self._json(value, "number"), self._json(value, "string")]
        if value.kind == "null":
            return []
        return [value.expr]

    def _scalar_through(self, node: Path, resolved: Resolved) -> list[Any]:
        froms: list[Any] = []
        conditions: list[ColumnElement[bool]] = []
        source = self.root
        for nav in resolved.navs:
            source, extra, joins = join_step(nav, source)
            froms.extend(extra)
            conditions.extend(joins)
        saved = self.aliases
        self.aliases = {tuple(n.name for n in resolved.navs): source, (): self.root}
        try:
            terms = self._order_terms(self._path(node))
        finally:
            self.aliases = saved
        return [
            select(term).select_from(*froms).where(and_(*conditions)).limit(1).scalar_subquery()
            for term in terms
        ]
