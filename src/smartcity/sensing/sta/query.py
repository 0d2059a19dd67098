"""Running a collection query: $filter, $count, $orderby, $skip, $top in that order (the
standard's evaluation order), in SQL where it compiles and in Python where it does not.

A filter is split at its top-level ``and``: the parts that compile run in SQL, the rest
(geospatial functions) is evaluated in Python over the rows SQL returns, which then also
does the counting and paging. That scan is capped (PYTHON_SCAN_LIMIT) so a broad geospatial
query is a clear 400 instead of an unbounded read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.sensing import access
from smartcity.sensing import models as m
from smartcity.sensing.sta.entities import (
    TYPES,
    BadRequest,
    EntityType,
    Nav,
    Prop,
    nav_target,
    related_condition,
    resolve_path,
)
from smartcity.sensing.sta.odata import (
    Binary,
    Node,
    OrderItem,
    Path,
    QueryOptions,
)
from smartcity.sensing.sta.pyfilter import evaluate, matches, sort_key
from smartcity.sensing.sta.sqlfilter import Compiler, NotSQL
from smartcity.sensing.sta.times import (
    Interval,
)
from smartcity.settings import get_settings

PYTHON_SCAN_LIMIT = 50_000


@dataclass
class Page:
    items: list[Any]
    count: int | None
    more: bool
    top: int


def conjuncts(node: Node) -> list[Node]:
    if isinstance(node, Binary) and node.op == "and":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def _and_all(nodes: list[Node]) -> Node:
    result = nodes[0]
    for node in nodes[1:]:
        result = Binary("and", result, node)
    return result


def page_size(options: QueryOptions) -> int:
    settings = get_settings()
    top = settings.sta_default_top if options.top is None else options.top
    return min(top, settings.sta_max_top)


def validate(etype: EntityType, options: QueryOptions) -> None:
    """400 for names the entity type does not have, before any SQL runs."""
    from smartcity.sensing.sta.odata import walk

    nodes = ([options.filter] if options.filter is not None else []) + [
        o.expr for o in options.orderby
    ]
    for node in nodes:
        for part in walk(node):
            if isinstance(part, Path):
                resolve_path(etype, part.segments)
    if options.select is not None and options.result_format is None:
        # (dataArray components are checked by serialize.data_array)
        for name in options.select:
            if name not in etype.navs and etype.prop(name) is None and name != "@iot.selfLink":
                raise BadRequest(f"$select: {etype.name} has no property '{name}'.")
    for name, nested in options.expand.items():
        if name not in etype.navs:
            raise BadRequest(f"$expand: {etype.name} has no navigation property '{name}'.")
        validate(nav_target(etype.navs[name]), nested)


async def run(
    session: AsyncSession,
    etype: EntityType,
    where: list[ColumnElement[bool]],
    options: QueryOptions,
    *,
    default_order: list[Any] | None = None,
) -> Page:
    dialect = session.get_bind().dialect.name
    compiler = Compiler(dialect, etype, etype.model)
    sql_conditions: list[ColumnElement[bool]] = []
    residual: list[Node] = []
    if options.filter is not None:
        for part in conjuncts(options.filter):
            try:
                sql_conditions.append(compiler.condition(part))
            except NotSQL:
                residual.append(part)
    order_terms: list[Any] = []
    python_order = False
    for item in options.orderby:
        try:
            order_terms.extend(compiler.order_columns(item))
        except NotSQL:
            python_order = True
    if not options.orderby and default_order:
        order_terms.extend(default_order)
    order_terms.append(etype.model.id.asc())
    # Rows of non-public Things the caller may not read are left out (access.py).
    stmt: Select[Any] = select(etype.model).where(
        *where, *sql_conditions, *access.conditions(etype.name)
    )
    top = page_size(options)
    if not residual and not python_order:
        count = None
        if options.count:
            count = int(
                await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            )
        rows = list(
            (
                await session.execute(
                    stmt.order_by(*order_terms).offset(options.skip).limit(top + 1)
                )
            ).scalars()
        )
        # $top=0 asks for the count only: a nextLink would point at this same empty page.
        return Page(rows[:top], count, top > 0 and len(rows) > top, top)
    candidates = list(
        (await session.execute(stmt.order_by(*order_terms).limit(PYTHON_SCAN_LIMIT + 1))).scalars()
    )
    if len(candidates) > PYTHON_SCAN_LIMIT:
        raise BadRequest(
            f"This query is evaluated outside the database (geospatial functions) and matches "
            f"more than {PYTHON_SCAN_LIMIT} entities before that; narrow it with other "
            "conditions, e.g. on time or id."
        )
    loader = Loader(session)
    kept = []
    condition = _and_all(residual) if residual else None
    for obj in candidates:
        if condition is None or await matches(condition, loader.resolver(etype, obj)) is True:
            kept.append(obj)
    if python_order:
        kept = await _python_sort(kept, etype, options.orderby, loader)
    page = kept[options.skip : options.skip + top]
    more = top > 0 and len(kept) > options.skip + top
    return Page(page, len(kept) if options.count else None, more, top)


async def _python_sort(
    items: list[Any], etype: EntityType, orderby: list[OrderItem], loader: Loader
) -> list[Any]:
    keyed: list[tuple[list[tuple[int, Any]], Any]] = []
    for obj in items:
        resolver = loader.resolver(etype, obj)
        keys = []
        for item in orderby:
            env = {}
            for part in _paths(item.expr):
                values, _ = await resolver(part)
                env[part] = values[0] if values else None
            keys.append(sort_key(evaluate(item.expr, env)))
        keyed.append((keys, obj))
    # Stable sorts from the last key to the first give the multi-key order with per-key
    # directions (ids break ties: the candidates came ordered by id).
    for index in reversed(range(len(orderby))):
        keyed.sort(key=functools.partial(_key_at, index), reverse=orderby[index].descending)
    return [obj for _keys, obj in keyed]


def _key_at(index: int, pair: tuple[list[tuple[int, Any]], Any]) -> tuple[int, Any]:
    return pair[0][index]


def _paths(node: Node) -> list[Path]:
    from smartcity.sensing.sta.odata import walk

    return list(dict.fromkeys(n for n in walk(node) if isinstance(n, Path)))


# --- values of entities, for Python evaluation and for serialization ------------------------


def python_value(etype: EntityType, obj: Any, prop: Prop, subpath: tuple[str, ...] = ()) -> Any:
    """A property's value as Python: times as datetimes or Intervals, JSON as stored."""
    if prop.kind == "id":
        return obj.id
    if prop.kind == "interval":
        start = getattr(obj, prop.column)
        if start is None:
            return None
        return Interval(start.astimezone(UTC), getattr(obj, prop.end_column))
    value = result_of(obj) if prop.kind == "result" else getattr(obj, prop.column)
    for key in subpath:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def result_of(obj: m.StaObservation) -> Any:
    kind = obj.result_kind
    if kind == m.RESULT_NUMBER:
        return obj.result_number
    if kind == m.RESULT_INTEGER:
        return obj.result_json if obj.result_json is not None else int(obj.result_number or 0)
    if kind == m.RESULT_BOOLEAN:
        return obj.result_boolean
    if kind == m.RESULT_STRING:
        return obj.result_string
    if kind == m.RESULT_NULL:
        return None
    return obj.result_json


class Loader:
    """Related entities for Python evaluation, each navigation loaded once per query."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.cache: dict[tuple[int, int], list[Any]] = {}

    async def related(self, nav: Nav, obj: Any) -> list[Any]:
        key = (id(nav), obj.id)
        if key not in self.cache:
            target = nav_target(nav).model
            rows = await self.session.execute(
                select(target).where(related_condition(nav, obj.id)).order_by(target.id)
            )
            self.cache[key] = list(rows.scalars())
        return self.cache[key]

    def resolver(self, etype: EntityType, obj: Any) -> Any:
        async def resolve(path: Path) -> tuple[list[Any], bool]:
            resolved = resolve_path(etype, path.segments)
            objects = [obj]
            for nav in resolved.navs:
                found: list[Any] = []
                for current in objects:
                    found.extend(await self.related(nav, current))
                objects = found
            values = [
                python_value(resolved.etype, o, resolved.prop, resolved.subpath) for o in objects
            ]
            return values, bool(resolved.navs)

        return resolve


def default_order_for(parent: tuple[EntityType, int, Nav] | None) -> list[Any] | None:
    """A MultiDatastream's ObservedProperties come in result order, not by id."""
    if parent is None:
        return None
    _etype, parent_id, nav = parent
    if nav.name == "ObservedProperties" and nav.assoc is not None:
        position = (
            select(nav.assoc.c.position)
            .where(
                nav.assoc.c.multi_datastream_id == parent_id,
                nav.assoc.c.observed_property_id == TYPES["ObservedProperty"].model.id,
            )
            .limit(1)
            .scalar_subquery()
        )
        return [position.asc()]
    return None
