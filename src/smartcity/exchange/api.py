"""REST API of the exchange module: catalog, grants, reads through the exchange (X-Road
headers), the message log, statistics and subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import Response

from smartcity.core.authz import Principal
from smartcity.core.models import Department
from smartcity.core.security import AnyPrincipal, AuditorPrincipal, require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.exchange import evidence, grants, service, webhooks
from smartcity.exchange.models import ExchangeMessage, Grant, Resource, Subscription
from smartcity.exchange.schemas import (
    DeliveryRead,
    ExchangeMessageRead,
    ExchangeQuery,
    GrantApproval,
    GrantRead,
    GrantRefusal,
    GrantRequest,
    GrantRevocation,
    LogVerdictRead,
    ResourceCreate,
    ResourcePage,
    ResourceRead,
    ResourceUpdate,
    StatRow,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)

router = APIRouter(prefix="/api/v1/exchange", route_class=UnitOfWorkRoute, tags=["exchange"])

Staff = Annotated[Principal, Depends(require_principal("staff", "admin"))]
Requester = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin"))]
Member = Annotated[Principal, Depends(require_principal("staff", "supervisor", "system", "admin"))]
Caller = Annotated[Principal, Depends(require_principal("staff", "system"))]
Subscriber = Annotated[Principal, Depends(require_principal("staff", "system", "admin"))]
Direction = Literal["incoming", "outgoing"]


def resource_read(resource: Resource, departments: dict[uuid.UUID, Department]) -> ResourceRead:
    publisher = departments.get(resource.publisher_department_id)
    return ResourceRead(
        id=resource.id,
        code=resource.code,
        title=resource.title,
        description=resource.description,
        publisher=publisher.code if publisher else "",
        publisher_name=publisher.name if publisher else "",
        source_registry=resource.source_registry,
        fields=resource.fields,
        update_cycle=resource.update_cycle,
        sharing_class=resource.sharing_class,
        open_data=resource.open_data,
        license_id=resource.license_id,
        keywords=resource.keywords,
        active=resource.active,
        created_at=resource.created_at,
        updated_at=resource.updated_at,
    )


def grant_read(
    grant: Grant, resource: Resource, departments: dict[uuid.UUID, Department]
) -> GrantRead:
    consumer = departments.get(grant.consumer_department_id)
    return GrantRead(
        id=grant.id,
        resource=resource.code,
        resource_title=resource.title,
        consumer=consumer.code if consumer else "",
        consumer_name=consumer.name if consumer else "",
        purpose=grant.purpose,
        legal_basis=grant.legal_basis,
        requested_fields=grant.requested_fields,
        granted_fields=grant.granted_fields,
        status=grant.status,
        standing=grants.standing(grant),
        requested_by=grant.requested_by,
        created_at=grant.created_at,
        decided_by=grant.decided_by,
        decided_at=grant.decided_at,
        decision_reason=grant.decision_reason,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
    )


async def _grant_reads(session: DbSession, grants: list[Grant]) -> list[GrantRead]:
    departments = await service.departments_by_id(session)
    resources = await service.resources_by_id(session, {g.resource_id for g in grants})
    return [grant_read(g, resources[g.resource_id], departments) for g in grants]


async def _message_reads(
    session: DbSession, messages: list[ExchangeMessage]
) -> list[ExchangeMessageRead]:
    departments = await service.departments_by_id(session)
    resources = await service.resources_by_id(session, {m.resource_id for m in messages})
    reads = []
    for m in messages:
        consumer = departments.get(m.consumer_department_id) if m.consumer_department_id else None
        resource = resources.get(m.resource_id)
        reads.append(
            ExchangeMessageRead(
                seq=m.seq,
                message_id=m.message_id,
                at=m.at,
                resource=resource.code if resource else "",
                consumer_department=consumer.code if consumer else "",
                consumer=m.consumer,
                end_user=m.end_user,
                case_number=m.case_number,
                purpose=m.purpose,
                query=m.query,
                fields=m.fields,
                record_ids=m.record_ids,
                outcome=m.outcome,
                request_hash=m.request_hash,
                response_hash=m.response_hash,
                signature=m.signature,
                prev_hash=m.prev_hash,
                hash=m.hash,
                intact=evidence.intact(m),
            )
        )
    return reads


async def _subscription_read(session: DbSession, subscription: Subscription) -> SubscriptionRead:
    grant, resource = await grants.grant_and_resource(session, subscription.grant_id)
    departments = await service.departments_by_id(session)
    consumer = departments.get(grant.consumer_department_id)
    return SubscriptionRead(
        id=subscription.id,
        resource=resource.code,
        consumer=consumer.code if consumer else "",
        grant_id=subscription.grant_id,
        webhook_url=subscription.webhook_url,
        active=subscription.active,
        created_by=subscription.created_by,
        created_at=subscription.created_at,
    )


# --- catalog -----------------------------------------------------------------------------


@router.get("/resources", response_model=ResourcePage)
async def list_resources(
    session: DbSession,
    principal: AnyPrincipal,
    q: Annotated[str | None, Query(max_length=100)] = None,
    sharing_class: Literal["unconditional", "conditional", "none"] | None = None,
    publisher: Annotated[str | None, Query(max_length=32)] = None,
    open_data: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ResourcePage:
    """The catalog (资源目录)."""
    rows, total = await service.list_resources(
        session,
        principal,
        q=q,
        sharing_class=sharing_class,
        publisher=publisher,
        open_data=open_data,
        limit=limit,
        offset=offset,
    )
    departments = await service.departments_by_id(session)
    return ResourcePage(total=total, items=[resource_read(r, departments) for r in rows])


@router.post("/resources", response_model=ResourceRead, status_code=status.HTTP_201_CREATED)
async def create_resource(
    session: DbSession, principal: Staff, data: ResourceCreate
) -> ResourceRead:
    """Publish a resource in the catalog (publisher's staff or an administrator)."""
    resource = await service.create_resource(session, principal, data)
    return resource_read(resource, await service.departments_by_id(session))


@router.get("/resources/{code}", response_model=ResourceRead)
async def get_resource(session: DbSession, principal: AnyPrincipal, code: str) -> ResourceRead:
    resource = await service.get_resource(session, principal, code)
    return resource_read(resource, await service.departments_by_id(session))


@router.patch("/resources/{code}", response_model=ResourceRead)
async def update_resource(
    session: DbSession, principal: Staff, code: str, data: ResourceUpdate
) -> ResourceRead:
    resource = await service.update_resource(session, principal, code, data)
    return resource_read(resource, await service.departments_by_id(session))


# --- grants ------------------------------------------------------------------------------


@router.post(
    "/resources/{code}/grants", response_model=GrantRead, status_code=status.HTTP_201_CREATED
)
async def request_grant(
    session: DbSession, principal: Requester, code: str, data: GrantRequest
) -> GrantRead:
    """Request a resource (申请共享): 无条件共享 is granted at once, 不予共享 refused at once."""
    grant = await grants.request_grant(session, principal, code, data)
    return (await _grant_reads(session, [grant]))[0]


@router.get("/grants", response_model=list[GrantRead])
async def list_grants(
    session: DbSession,
    principal: Member,
    direction: Direction | None = None,
    status_: Annotated[
        Literal["requested", "approved", "refused", "revoked"] | None, Query(alias="status")
    ] = None,
    resource: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[GrantRead]:
    """Incoming: requests for my department's resources; outgoing: my department's requests."""
    found = await grants.list_grants(
        session, principal, direction=direction, status=status_, resource=resource, limit=limit
    )
    return await _grant_reads(session, found)


@router.get("/grants/{grant_id}", response_model=GrantRead)
async def get_grant(session: DbSession, principal: Member, grant_id: uuid.UUID) -> GrantRead:
    grant = await grants.get_grant(session, principal, grant_id)
    return (await _grant_reads(session, [grant]))[0]


@router.post("/grants/{grant_id}/approve", response_model=GrantRead)
async def approve_grant(
    session: DbSession, principal: Staff, grant_id: uuid.UUID, data: GrantApproval
) -> GrantRead:
    grant = await grants.approve_grant(session, principal, grant_id, data)
    return (await _grant_reads(session, [grant]))[0]


@router.post("/grants/{grant_id}/refuse", response_model=GrantRead)
async def refuse_grant(
    session: DbSession, principal: Staff, grant_id: uuid.UUID, data: GrantRefusal
) -> GrantRead:
    grant = await grants.refuse_grant(session, principal, grant_id, data.reason)
    return (await _grant_reads(session, [grant]))[0]


@router.post("/grants/{grant_id}/revoke", response_model=GrantRead)
async def revoke_grant(
    session: DbSession, principal: Staff, grant_id: uuid.UUID, data: GrantRevocation
) -> GrantRead:
    grant = await grants.revoke_grant(session, principal, grant_id, data.reason)
    return (await _grant_reads(session, [grant]))[0]


# --- reading through the exchange ----------------------------------------------------------


@router.post(
    "/resources/{code}/query",
    responses={
        200: {"description": "Signed answer; see X-Road-Request-Hash and X-Smartcity-Signature"},
        403: {"description": "No grant, expired, revoked, not approved, or fields beyond it"},
    },
)
async def query_resource(
    request: Request,
    session: DbSession,
    principal: Caller,
    code: str,
    data: ExchangeQuery,
    x_road_client: Annotated[str, Header()] = "",
    x_road_userid: Annotated[str, Header()] = "",
    x_road_issue: Annotated[str, Header()] = "",
    x_road_id: Annotated[str, Header()] = "",
) -> Response:
    """Read a resource through a grant (共享调用), X-Road style: the answer is signed, bound to
    the request by X-Road-Request-Hash, and logged in the hash-chained message log."""
    answer = await evidence.query_resource(
        session,
        principal,
        code,
        data,
        call=evidence.CallHeaders(
            client=x_road_client, user_id=x_road_userid, issue=x_road_issue, message_id=x_road_id
        ),
        method=request.method,
        path=request.url.path,
        body=await request.body(),
    )
    return Response(
        answer.body,
        status_code=answer.status,
        media_type=answer.media_type,
        headers=answer.headers,
    )


# --- the message log and statistics --------------------------------------------------------


@router.get("/messages", response_model=list[ExchangeMessageRead])
async def list_messages(
    session: DbSession,
    principal: Member,
    direction: Direction | None = None,
    resource: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ExchangeMessageRead]:
    """Calls made to my department's resources (incoming) and calls it made (outgoing)."""
    messages = await evidence.list_messages(
        session, principal, direction=direction, resource=resource, before=before, limit=limit
    )
    return await _message_reads(session, messages)


@router.get("/messages/{message_id}", response_model=ExchangeMessageRead)
async def get_message(
    session: DbSession, principal: Member, message_id: uuid.UUID
) -> ExchangeMessageRead:
    """One logged call with its hashes and the platform's signature: the evidence."""
    message = await evidence.get_message(session, principal, message_id)
    return (await _message_reads(session, [message]))[0]


@router.get("/log/verify", response_model=LogVerdictRead)
async def verify_log(session: DbSession, principal: AuditorPrincipal) -> LogVerdictRead:
    """Walk the whole hash-chained message log; names the first entry that was altered."""
    verdict = await evidence.verify_log(session, principal)
    return LogVerdictRead(
        intact=verdict.intact,
        checked=verdict.checked,
        first_broken_seq=verdict.first_broken_seq,
        reason=verdict.reason,
    )


@router.get("/stats", response_model=list[StatRow])
async def access_stats(
    session: DbSession,
    principal: Member,
    days: Annotated[int, Query(ge=1, le=evidence.MAX_STATS_DAYS)] = 30,
    resource: Annotated[str | None, Query(max_length=64)] = None,
) -> list[StatRow]:
    """Calls per day, resource and consumer, with records returned (访问统计)."""
    stats = await evidence.access_stats(session, principal, days=days, resource=resource)
    return [StatRow(**vars(s)) for s in stats]


# --- subscriptions ---------------------------------------------------------------------------


@router.post(
    "/subscriptions", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED
)
async def create_subscription(
    session: DbSession, principal: Subscriber, data: SubscriptionCreate
) -> SubscriptionCreated:
    """Subscribe to changes of a granted resource; the webhook secret is shown once."""
    subscription, secret = await webhooks.create_subscription(
        session, principal, resource_code=data.resource, webhook_url=data.webhook_url
    )
    read = await _subscription_read(session, subscription)
    return SubscriptionCreated(**read.model_dump(), secret=secret)


@router.get("/subscriptions", response_model=list[SubscriptionRead])
async def list_subscriptions(session: DbSession, principal: Member) -> list[SubscriptionRead]:
    return [
        await _subscription_read(session, s)
        for s in await webhooks.list_subscriptions(session, principal)
    ]


@router.delete("/subscriptions/{subscription_id}", response_model=SubscriptionRead)
async def cancel_subscription(
    session: DbSession, principal: Subscriber, subscription_id: uuid.UUID
) -> SubscriptionRead:
    subscription = await webhooks.cancel_subscription(session, principal, subscription_id)
    return await _subscription_read(session, subscription)


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=list[DeliveryRead])
async def list_deliveries(
    session: DbSession, principal: Member, subscription_id: uuid.UUID
) -> list[DeliveryRead]:
    rows = await webhooks.list_deliveries(session, principal, subscription_id)
    return [DeliveryRead.model_validate(r) for r in rows]
