"""HTTP of the SensorThings API v1.1 at /sta/v1.1 (and the owner of a Thing at
/api/v1/sensing). Reading is public; writing needs a device, system, staff or admin key or
token. Errors are problem+json, 400 for bad requests as the standard's clients expect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from smartcity.core.authz import Principal
from smartcity.core.security import OptionalPrincipal, public, require_principal
from smartcity.core.uow import DbSession
from smartcity.sensing.sta import batch, service
from smartcity.sensing.sta.backpressure import GatedRoute
from smartcity.sensing.sta.dispatch import JSON, Reply, handle
from smartcity.sensing.sta.entities import BadRequest
from smartcity.settings import get_settings

_REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
MQTT_CREATE = _REQ + "create-observations-via-mqtt"
MQTT_RECEIVE = _REQ + "receive-updates-via-mqtt"
MQTT_CREATE_TEST = MQTT_CREATE + "/observations-creation"
MQTT_RECEIVE_TEST = MQTT_RECEIVE + "/receive-updates"
ROOT = "/sta/v1.1"  # also spelled out in the route paths below
# GatedRoute: the UnitOfWorkRoute with back-pressure for Observation writes.
router = APIRouter(route_class=GatedRoute, tags=["sensing"])

Writer = Annotated[Principal, Depends(require_principal("device", "system", "staff", "admin"))]
Staff = Annotated[Principal, Depends(require_principal("staff", "admin"))]


def service_root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + ROOT


def query_params(request: Request) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in params:
            raise BadRequest(f"The query option {name} is given more than once.")
        params[name] = value
    return params


def respond(reply: Reply) -> Response:
    return Response(
        reply.content(),
        status_code=reply.status,
        headers=reply.headers,
        media_type=reply.media_type if reply.body is not None else None,
    )


@router.get(
    "/sta/v1.1",
    dependencies=[Depends(public)],
    summary="The service root: entity sets and conformance",
)
async def landing(request: Request, session: DbSession, principal: OptionalPrincipal) -> Response:
    reply = await handle(session, principal, "GET", "", {}, base=service_root(request))
    configured = get_settings()
    mqtt_url = configured.mqtt_url
    if mqtt_url:
        # The MQTT extension (A.7, A.8) is there only when a broker is configured; A.7's
        # topics only when the bridge takes Observations on them (docs/sensing.md, MQTT).
        settings = reply.body["serverSettings"]
        settings["conformance"] = [*settings["conformance"], MQTT_RECEIVE]
        settings[MQTT_RECEIVE_TEST] = {"endpoints": [mqtt_url]}
        if configured.mqtt_standard_create_topics:
            settings["conformance"].append(MQTT_CREATE)
            settings[MQTT_CREATE_TEST] = {"endpoints": [mqtt_url]}
    return respond(reply)


@router.post("/sta/v1.1/$batch", summary="Batch requests with atomic change sets (A.4)")
async def batch_requests(request: Request, session: DbSession, principal: Writer) -> Response:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/mixed"):
        raise BadRequest("A $batch request is multipart/mixed with a boundary.")
    parts = batch.parse_batch(await request.body(), content_type)
    results = await batch.run_batch(session, principal, parts, service_root(request))
    body, media_type = batch.render(results)
    return Response(body, status_code=200, media_type=media_type)


@router.get(
    "/sta/v1.1/{resource_path:path}",
    dependencies=[Depends(public)],
    summary="Read entities, properties and references (A.1, A.2, A.6)",
)
async def read(
    resource_path: str, request: Request, session: DbSession, principal: OptionalPrincipal
) -> Response:
    return respond(
        await handle(
            session,
            principal,
            "GET",
            resource_path,
            query_params(request),
            base=service_root(request),
            if_match=request.headers.get("if-match"),
        )
    )


async def _write(
    method: str, resource_path: str, request: Request, session: DbSession, principal: Principal
) -> Response:
    reply = await handle(
        session,
        principal,
        method,
        resource_path,
        query_params(request),
        base=service_root(request),
        body=await request.body(),
        content_type=request.headers.get("content-type", JSON),
        # ETags (handlers.entity_tag): a write against a stale one is a 412, not lost.
        if_match=request.headers.get("if-match"),
    )
    return respond(reply)


@router.post(
    "/sta/v1.1/{resource_path:path}",
    summary="Create an entity with deep insert, or CreateObservations (A.3, A.6)",
)
async def create(
    resource_path: str, request: Request, session: DbSession, principal: Writer
) -> Response:
    return await _write("POST", resource_path, request, session, principal)


@router.patch(
    "/sta/v1.1/{resource_path:path}",
    summary="Update an entity: merge, or JSON-Patch (application/json-patch+json)",
)
async def patch(
    resource_path: str, request: Request, session: DbSession, principal: Writer
) -> Response:
    return await _write("PATCH", resource_path, request, session, principal)


@router.put("/sta/v1.1/{resource_path:path}", summary="Replace an entity")
async def put(
    resource_path: str, request: Request, session: DbSession, principal: Writer
) -> Response:
    return await _write("PUT", resource_path, request, session, principal)


@router.delete("/sta/v1.1/{resource_path:path}", summary="Delete an entity, with its cascades")
async def remove(
    resource_path: str, request: Request, session: DbSession, principal: Writer
) -> Response:
    return await _write("DELETE", resource_path, request, session, principal)


class OwnerUpdate(BaseModel):
    """The device account that may write the Thing's Observations; null for none."""

    username: str | None = Field(default=None, max_length=64)


class OwnerRead(BaseModel):
    thing_id: int
    username: str | None


@router.put(
    "/api/v1/sensing/things/{thing_id}/owner",
    response_model=OwnerRead,
    summary="Name the device that may write a Thing's Observations",
)
async def set_owner(
    thing_id: int, body: OwnerUpdate, session: DbSession, principal: Staff
) -> OwnerRead:
    await service.assign_thing_owner(session, principal, thing_id, body.username)
    return OwnerRead(thing_id=thing_id, username=body.username)
