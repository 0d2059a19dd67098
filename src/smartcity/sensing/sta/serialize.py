"""Entities as SensorThings JSON: ``@iot.id``, ``@iot.selfLink``, navigation links, $select,
nested $expand with its own options, ``@iot.count`` and ``@iot.nextLink`` (absolute URLs), and
the dataArray result format (A.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.sensing.sta.entities import (
    TYPES,
    BadRequest,
    EntityType,
    Prop,
    QueryTooCostly,
    related_condition,
)
from smartcity.sensing.sta.entities import nav_target as target_of
from smartcity.sensing.sta.odata import (
    QueryOptions,
    render_options,
)
from smartcity.sensing.sta.query import Page, default_order_for, python_value, result_of, run
from smartcity.sensing.sta.times import (
    Interval,
    format_datetime,
    format_interval,
)
from smartcity.settings import get_settings


@dataclass
class Context:
    session: AsyncSession
    base: str  # the service root, e.g. http://host/sta/v1.1
    # Entities written into this response so far, against sta_max_response_entities.
    written: int = 0

    def count_entity(self) -> None:
        # The bound of a response's work: every entity costs a row and, when it expands,
        # a query per navigation, so counting them stops $top × $top × … before it runs away.
        limit = get_settings().sta_max_response_entities
        self.written += 1
        if self.written > limit:
            raise QueryTooCostly(
                f"This response would hold more than {limit} entities "
                "(sta_max_response_entities); lower $top in the query and inside $expand, or "
                "expand fewer navigation properties.",
                limit="sta_max_response_entities",
                max_response_entities=limit,
            )


def json_value(etype: EntityType, obj: Any, prop: Prop) -> Any:
    if prop.kind == "instant":
        value = getattr(obj, prop.column)
        return None if value is None else format_datetime(value)
    if prop.kind == "interval":
        return format_interval(getattr(obj, prop.column), getattr(obj, prop.end_column))
    if prop.kind == "result":
        return result_of(obj)
    return python_value(etype, obj, prop)


def plain(etype: EntityType, obj: Any) -> dict[str, Any]:
    """The properties and id, no links: what bus events carry."""
    out: dict[str, Any] = {"@iot.id": obj.id}
    for name, prop in etype.props.items():
        if name == "id":
            continue
        value = json_value(etype, obj, prop)
        if value is None and not _always(etype, prop):
            continue
        out[name] = value
    return out


def _always(etype: EntityType, prop: Prop) -> bool:
    # Mandatory properties appear even when null (an Observation's resultTime may be null).
    return prop.required or (prop.name == "resultTime" and etype.name == "Observation")


def self_link(base: str, etype: EntityType, entity_id: int) -> str:
    return f"{base}/{etype.set_name}({entity_id})"


def _applies(etype: EntityType, obj: Any, nav_name: str) -> bool:
    # An Observation links to a Datastream or a MultiDatastream, never both.
    if etype.name == "Observation" and nav_name in ("Datastream", "MultiDatastream"):
        return getattr(obj, etype.navs[nav_name].column) is not None
    return True


async def entity(
    ctx: Context, etype: EntityType, obj: Any, options: QueryOptions
) -> dict[str, Any]:
    ctx.count_entity()
    selected = set(options.select) if options.select is not None else None
    own = self_link(ctx.base, etype, obj.id)
    out: dict[str, Any] = {}
    if selected is None or "id" in selected or "@iot.id" in selected:
        out["@iot.id"] = obj.id
    if selected is None or "@iot.selfLink" in selected:
        out["@iot.selfLink"] = own
    for name, prop in etype.props.items():
        if name == "id" or (selected is not None and name not in selected):
            continue
        value = json_value(etype, obj, prop)
        if value is None and selected is None and not _always(etype, prop):
            continue
        out[name] = value
    for name in etype.navs:
        if name in options.expand or not _applies(etype, obj, name):
            continue
        if selected is None or name in selected:
            out[f"{name}@iot.navigationLink"] = f"{own}/{name}"
    for name, nested in options.expand.items():
        nav = etype.navs[name]
        child = target_of(nav)
        if not _applies(etype, obj, name):
            continue
        if nav.many:
            page = await run(
                ctx.session,
                child,
                [related_condition(nav, obj.id)],
                nested,
                default_order=default_order_for((etype, obj.id, nav)),
            )
            if page.count is not None:
                out[f"{name}@iot.count"] = page.count
            out[name] = [await entity(ctx, child, item, nested) for item in page.items]
            if page.more:
                out[f"{name}@iot.nextLink"] = next_link(
                    f"{own}/{name}",
                    render_options(nested),
                    nested.skip + len(page.items),
                    page.top,
                )
        else:
            page = await run(
                ctx.session,
                child,
                [related_condition(nav, obj.id)],
                QueryOptions(filter=nested.filter, top=1),
            )
            out[name] = await entity(ctx, child, page.items[0], nested) if page.items else None
    return out


_SAFE = "$(),/:='"


def next_link(url: str, params: dict[str, str], skip: int, top: int) -> str:
    query = {k: v for k, v in params.items() if k not in ("$skip", "$top")}
    query["$top"] = str(top)
    query["$skip"] = str(skip)
    return f"{url}?{urlencode(query, safe=_SAFE)}"


async def collection(
    ctx: Context,
    etype: EntityType,
    page: Page,
    options: QueryOptions,
    url: str,
    params: dict[str, str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if page.count is not None:
        out["@iot.count"] = page.count
    out["value"] = [await entity(ctx, etype, item, options) for item in page.items]
    if page.more:
        out["@iot.nextLink"] = next_link(url, params, options.skip + len(page.items), page.top)
    return out


def references(
    ctx: Context,
    etype: EntityType,
    page: Page,
    options: QueryOptions,
    url: str,
    params: dict[str, str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if page.count is not None:
        out["@iot.count"] = page.count
    out["value"] = [{"@iot.selfLink": self_link(ctx.base, etype, o.id)} for o in page.items]
    if page.more:
        out["@iot.nextLink"] = next_link(url, params, options.skip + len(page.items), page.top)
    return out


# --- dataArray (A.6) --------------------------------------------------------------------------

DATA_ARRAY_COMPONENTS = (
    "id",
    "phenomenonTime",
    "resultTime",
    "result",
    "resultQuality",
    "validTime",
    "parameters",
    "FeatureOfInterest/id",
)


def data_array(
    ctx: Context, page: Page, options: QueryOptions, url: str, params: dict[str, str]
) -> dict[str, Any]:
    """Observations grouped per (Multi)Datastream, each a list of component values."""
    if options.expand:
        raise BadRequest("$expand cannot be used with $resultFormat=dataArray.")
    observation = TYPES["Observation"]
    if options.select is not None:
        components = ["id" if s == "@iot.id" else s for s in options.select]
        for name in components:
            if name not in DATA_ARRAY_COMPONENTS:
                raise BadRequest(f"$select: '{name}' cannot be a dataArray component.")
    else:
        components = ["id", "phenomenonTime", "resultTime", "result"]
    groups: dict[tuple[str, int], list[list[Any]]] = {}
    for obs in page.items:
        key = (
            ("Datastream", obs.datastream_id)
            if obs.datastream_id is not None
            else ("MultiDatastream", obs.multi_datastream_id)
        )
        row = []
        for name in components:
            if name == "id":
                row.append(obs.id)
            elif name == "FeatureOfInterest/id":
                row.append(obs.feature_of_interest_id)
            else:
                row.append(json_value(observation, obs, observation.props[name]))
        groups.setdefault(key, []).append(row)
    value = []
    for (kind, stream_id), rows in groups.items():
        set_name = TYPES[kind].set_name
        value.append(
            {
                f"{kind}@iot.navigationLink": f"{ctx.base}/{set_name}({stream_id})",
                "components": components,
                "dataArray@iot.count": len(rows),
                "dataArray": rows,
            }
        )
    out: dict[str, Any] = {}
    if page.count is not None:
        out["@iot.count"] = page.count
    out["value"] = value
    if page.more:
        out["@iot.nextLink"] = next_link(url, params, options.skip + len(page.items), page.top)
    return out


def property_json(etype: EntityType, obj: Any, prop: Prop, subpath: tuple[str, ...]) -> Any:
    """The value of ``Entity(id)/property[/sub/path]``; None means 204."""
    if subpath:
        value = python_value(etype, obj, prop, subpath)
        return value.start if isinstance(value, Interval) else value
    return json_value(etype, obj, prop)
