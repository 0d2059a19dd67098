"""The HTTP authentication and ACL endpoint of clustered brokers (集群消息代理鉴权接口): EMQX's
HTTP authenticator and authorizer, and VerneMQ's webhooks, ask here who may connect, publish
and subscribe. The decisions are broker_acl.py's, the same as the Mosquitto sync's.

The broker proves itself with the shared secret ``SMARTCITY_MQTT_HOOK_SECRET`` in
``Authorization: Bearer <secret>``; without the setting the endpoint is off (404). A refusal
of the broker's own request (wrong secret, bad body) is a 4xx problem, which EMQX reads as
"ignore": configure it to deny what no authorizer allowed (docs/operations.md, MQTT).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from smartcity.core.errors import NotFound, Unauthenticated
from smartcity.core.secrets import same
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing.mqtt import acl as broker_acl
from smartcity.settings import get_settings

router = APIRouter(prefix="/api/v1/sensing/mqtt", route_class=UnitOfWorkRoute, tags=["sensing"])

NAME = 64  # account names are at most 64 characters (core.schemas)
SECRET = 256  # an API key is 60; the bridge's password is the operator's
TOPIC = 1024  # longer than any topic the platform uses


def broker_secret(request: Request) -> None:
    """Only the broker, holding the shared secret, may ask."""
    secret = get_settings().mqtt_hook_secret.get_secret_value()
    if not secret:
        raise NotFound("The MQTT broker hook is off: set SMARTCITY_MQTT_HOOK_SECRET.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given or not same(given, secret):
        raise Unauthenticated(
            "Send the broker hook secret as 'Authorization: Bearer <secret>'.",
            slug="broker-secret-invalid",
        )


# Public to people (no principal), guarded by the broker's secret.
GUARD = [Depends(public), Depends(broker_secret)]


class Loose(BaseModel):
    # Brokers send more fields than these (peer address, protocol, mountpoint...).
    model_config = ConfigDict(extra="ignore")


class EmqxAuthn(Loose):
    username: str = Field(default="", max_length=NAME)
    password: str = Field(default="", max_length=SECRET)
    clientid: str = Field(default="", max_length=TOPIC)


class EmqxAuthz(Loose):
    username: str = Field(default="", max_length=NAME)
    topic: str = Field(min_length=1, max_length=TOPIC)
    action: Literal["publish", "subscribe"]


class EmqxAuthnResult(BaseModel):
    result: Literal["allow", "deny"]
    is_superuser: bool = False


class EmqxAuthzResult(BaseModel):
    result: Literal["allow", "deny"]


async def _client(session: DbSession, username: str) -> broker_acl.Client | None:
    """Who an authenticated connection is, from its user name (the broker checked the
    password at connect through ``authenticate``)."""
    settings = get_settings()
    if not username:
        return broker_acl.Client("anonymous") if settings.mqtt_anonymous_read else None
    if settings.mqtt_username and username == settings.mqtt_username:
        return broker_acl.Client("bridge", username)
    found = await broker_acl.client_named(session, username)
    return found


@router.post(
    "/emqx/authn",
    response_model=EmqxAuthnResult,
    dependencies=GUARD,
    summary="EMQX HTTP authentication: may this client connect?",
)
async def emqx_authn(session: DbSession, body: EmqxAuthn) -> EmqxAuthnResult:
    client = await broker_acl.authenticate(session, get_settings(), body.username, body.password)
    return EmqxAuthnResult(result="allow" if client is not None else "deny")


@router.post(
    "/emqx/authz",
    response_model=EmqxAuthzResult,
    dependencies=GUARD,
    summary="EMQX HTTP authorization: may this client publish or subscribe to this topic?",
)
async def emqx_authz(session: DbSession, body: EmqxAuthz) -> EmqxAuthzResult:
    client = await _client(session, body.username)
    allowed = client is not None and (
        await broker_acl.may_publish(session, client, body.topic)
        if body.action == "publish"
        else await broker_acl.may_subscribe(session, client, body.topic)
    )
    return EmqxAuthzResult(result="allow" if allowed else "deny")


class VerneTopic(Loose):
    topic: str = Field(min_length=1, max_length=TOPIC)
    qos: int = Field(default=0, ge=0, le=2)


class VerneHook(Loose):
    username: str | None = Field(default=None, max_length=NAME)
    password: str | None = Field(default=None, max_length=SECRET)
    client_id: str = Field(default="", max_length=TOPIC)
    topic: str | None = Field(default=None, max_length=TOPIC)
    topics: list[VerneTopic] | None = Field(default=None, max_length=100)


VerneHookName = Literal[
    "auth_on_register",
    "auth_on_register_m5",
    "auth_on_publish",
    "auth_on_publish_m5",
    "auth_on_subscribe",
    "auth_on_subscribe_m5",
]
OK: dict[str, Any] = {"result": "ok"}
REFUSED: dict[str, Any] = {"result": {"error": "not_allowed"}}


@router.post(
    "/vernemq",
    dependencies=GUARD,
    summary="VerneMQ webhooks auth_on_register, auth_on_publish, auth_on_subscribe",
)
async def vernemq(
    session: DbSession,
    body: VerneHook,
    hook: Annotated[VerneHookName, Header(alias="vernemq-hook")],
) -> dict[str, Any]:
    username = body.username or ""
    if hook.startswith("auth_on_register"):
        client = await broker_acl.authenticate(
            session, get_settings(), username, body.password or ""
        )
        return OK if client is not None else REFUSED
    client = await _client(session, username)
    if client is None:
        return REFUSED
    if hook.startswith("auth_on_publish"):
        if body.topic is None:
            return REFUSED
        return OK if await broker_acl.may_publish(session, client, body.topic) else REFUSED
    if not body.topics:
        return REFUSED
    for item in body.topics:
        if not await broker_acl.may_subscribe(session, client, item.topic):
            return REFUSED
    return OK
