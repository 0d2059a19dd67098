"""One SensorThings request, independent of how it arrived: the HTTP routes and each part of
a $batch call ``handle`` and get a Reply back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.errors import Problem, Unauthenticated
from smartcity.sensing import access
from smartcity.sensing.sta import paths, query, serialize, service, updates
from smartcity.sensing.sta.entities import SET_ORDER, TYPES, BadRequest, EntityType
from smartcity.sensing.sta.odata import (
    QueryOptions,
    parse_options,
)
from smartcity.sensing.sta.times import (
    format_interval,
)

REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
CONFORMANCE = [
    REQ + "datamodel",
    *(
        REQ + "datamodel/" + part
        for part in (
            "thing",
            "location",
            "historical-location",
            "datastream",
            "sensor",
            "observed-property",
            "observation",
            "feature-of-interest",
            "entity-control-information",
        )
    ),
    REQ + "resource-path/resource-path-to-entities",
    REQ + "request-data",
    REQ + "create-update-delete",
    REQ + "create-update-delete/update-entity-put",
    REQ + "create-update-delete/update-entity-jsonpatch",
    REQ + "batch-request/batch-request",
    REQ + "multi-datastream",
    REQ + "data-array/data-array",
]
JSON = "application/json"
JSON_PATCH = "application/json-patch+json"


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or bytes for $value
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = JSON

    def content(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return orjson.dumps(self.body)


class PreconditionFailed(Problem):
    """412: If-Match names no current version of the entity (someone changed it meanwhile)."""

    status, slug, title = 412, "precondition-failed", "Precondition failed"


def entity_tag(etype: EntityType, obj: Any) -> str:
    """A strong ETag of an entity: a digest of every stored column, links included, so any
    change a client could see (or make) gives a new one."""
    columns = {attr.key: getattr(obj, attr.key) for attr in inspect(type(obj)).column_attrs}
    raw = orjson.dumps({"type": etype.name, **columns}, default=str, option=orjson.OPT_SORT_KEYS)
    return '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'


def check_if_match(if_match: str, current: str) -> None:
    """RFC 9110 If-Match with the strong comparison: ``*`` or one of the listed tags."""
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    if not tags:
        raise BadRequest("If-Match is empty; send an ETag from a GET, or *.")
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed(
        "The entity has changed since the ETag given in If-Match; GET it again and retry "
        "with its current ETag.",
        etag=current,
    )


def landing(base: str) -> dict[str, Any]:
    return {
        "value": [{"name": name, "url": f"{base}/{name}"} for name in SET_ORDER],
        "serverSettings": {"conformance": CONFORMANCE},
    }


def parse_body(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest("The request has no body; send the entity as JSON.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from exc


async def handle(
    session: AsyncSession,
    principal: Principal | None,
    method: str,
    resource_path: str,
    params: dict[str, str],
    *,
    base: str,
    body: bytes = b"",
    content_type: str = JSON,
    if_match: str | None = None,
) -> Reply:
    # The read path hides non-public Things from this caller (access.py).
    with access.reading_as(principal):
        return await _handle(
            session,
            principal,
            method,
            resource_path,
            params,
            base=base,
            body=body,
            content_type=content_type,
            if_match=if_match,
        )


async def _handle(
    session: AsyncSession,
    principal: Principal | None,
    method: str,
    resource_path: str,
    params: dict[str, str],
    *,
    base: str,
    body: bytes,
    content_type: str,
    if_match: str | None,
) -> Reply:
    path = resource_path.strip("/")
    if method == "GET" and not path:
        return Reply(200, landing(base))
    if method == "GET":
        return await _get(session, path, params, base, if_match)
    if principal is None:
        raise Unauthenticated("Sign in, or send a bearer token or an API key.")
    if if_match is not None and path == "CreateObservations":
        raise _no_tag(path)
    if path == "CreateObservations" and method == "POST":
        outcomes = await service.create_observations(session, principal, parse_body(body))
        observation = TYPES["Observation"]
        return Reply(
            201,
            [
                serialize.self_link(base, observation, o) if isinstance(o, int) else "error"
                for o in outcomes
            ],
        )
    target = await paths.resolve(session, path)
    if target.ref or target.kind == "property":
        raise Problem(
            f"{method} is not allowed on {path}.",
            status=405,
            slug="method-not-allowed",
            title="Method not allowed",
        )
    etype = target.etype
    if if_match is not None:
        await _precondition(session, target, if_match, path)
    if method == "POST":
        if target.kind != "collection":
            raise Problem(
                f"POST creates entities in a collection; {path} is an entity.",
                status=405,
                slug="method-not-allowed",
                title="Method not allowed",
            )
        obj = await service.create_entity(
            session, principal, etype, parse_body(body), parent=target.parent
        )
        created = TYPES[etype.name]
        ctx = serialize.Context(session, base)
        return Reply(
            201,
            await serialize.entity(ctx, created, obj, QueryOptions()),
            {
                "Location": serialize.self_link(base, created, obj.id),
                "ETag": entity_tag(created, obj),
            },
        )
    if target.kind != "entity":
        raise Problem(
            f"{method} needs the path of one entity, e.g. {etype.set_name}(1).",
            status=405,
            slug="method-not-allowed",
            title="Method not allowed",
        )
    assert target.entity_id is not None
    if method == "DELETE":
        await updates.delete_entity(session, principal, etype, target.entity_id)
        return Reply(200)
    data = parse_body(body)
    if method == "PATCH" and content_type.split(";")[0].strip().lower() == JSON_PATCH:
        obj = await updates.patch_entity_json(session, principal, etype, target.entity_id, data)
    elif method in ("PATCH", "PUT"):
        obj = await updates.update_entity(
            session, principal, etype, target.entity_id, data, replace=method == "PUT"
        )
    else:
        raise Problem(
            f"{method} is not supported here.",
            status=405,
            slug="method-not-allowed",
            title="Method not allowed",
        )
    ctx = serialize.Context(session, base)
    return Reply(
        200,
        await serialize.entity(ctx, etype, obj, QueryOptions()),
        {"ETag": entity_tag(etype, obj)},
    )


def _no_tag(path: str) -> BadRequest:
    return BadRequest(
        f"If-Match applies to one entity, e.g. Things(1); {path} has no ETag.",
        header="If-Match",
    )


async def _precondition(
    session: AsyncSession, target: paths.Target, if_match: str, path: str
) -> None:
    """412 unless If-Match names the entity's current ETag (or is ``*``)."""
    if target.kind != "entity" or target.ref or target.entity_id is None:
        raise _no_tag(path)
    obj = await session.get(target.etype.model, target.entity_id)
    if obj is None:
        raise paths.not_found(path)
    check_if_match(if_match, entity_tag(target.etype, obj))


async def _get(
    session: AsyncSession, path: str, params: dict[str, str], base: str, if_match: str | None
) -> Reply:
    target = await paths.resolve(session, path)
    if if_match is not None:
        await _precondition(session, target, if_match, path)
    options = parse_options(params)
    etype = target.etype
    ctx = serialize.Context(session, base)
    url = f"{base}/{path}"
    if target.kind == "collection":
        query.validate(etype, options)
        if options.result_format == "dataArray" and etype.name != "Observation":
            raise BadRequest("$resultFormat=dataArray is for Observations.")
        page = await query.run(
            session,
            etype,
            target.where,
            options,
            default_order=query.default_order_for(target.parent),
        )
        if target.ref:
            return Reply(200, serialize.references(ctx, etype, page, options, url, params))
        if options.result_format == "dataArray":
            return Reply(200, serialize.data_array(ctx, page, options, url, params))
        return Reply(200, await serialize.collection(ctx, etype, page, options, url, params))
    assert target.entity_id is not None
    obj = await session.get(etype.model, target.entity_id)
    if obj is None:
        raise paths.not_found(path)
    if target.kind == "entity":
        if target.ref:
            return Reply(200, {"@iot.selfLink": serialize.self_link(base, etype, obj.id)})
        if options.result_format is not None:
            raise BadRequest("$resultFormat=dataArray is for collections of Observations.")
        query.validate(etype, options)
        return Reply(
            200,
            await serialize.entity(ctx, etype, obj, options),
            {"ETag": entity_tag(etype, obj)},
        )
    assert target.prop is not None
    value = serialize.property_json(etype, obj, target.prop, target.subpath)
    if value is None:
        return Reply(204)
    if target.value:
        if isinstance(value, str):
            raw = value.encode()
        elif hasattr(value, "isoformat"):
            raw = str(format_interval(value, None)).encode()
        else:
            raw = orjson.dumps(value)
        return Reply(200, raw, media_type="text/plain; charset=utf-8")
    name = target.subpath[-1] if target.subpath else target.prop.name
    return Reply(200, {name: value})
