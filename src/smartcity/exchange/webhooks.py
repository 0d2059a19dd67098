"""Subscriptions to changes of a resource (订阅): bus events and signed webhooks, retried with
exponential backoff and dead-lettered after a number of tries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Forbidden, InvalidInput, NotFound, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.secrets import decrypt, encrypt
from smartcity.exchange import events, grants, service
from smartcity.exchange.models import Grant, Resource, Subscription, WebhookDelivery
from smartcity.registry import contract as registry
from smartcity.settings import get_settings

SIGNATURE_HEADER = "X-Smartcity-Signature"
SECRET_PURPOSE = "exchange-webhook"  # noqa: S105 - an HKDF purpose label, not a secret
TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
BATCH = 50


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1 min, 2, 4, … capped at an hour."""
    seconds = FIRST_RETRY.total_seconds() * 2 ** min(max(attempts - 1, 0), 30)
    return min(timedelta(seconds=seconds), LONGEST_RETRY)


def signature_header(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the body with the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


# --- subscriptions -----------------------------------------------------------------------


def readable_subscriptions(principal: Principal) -> Select[Subscription]:
    """The consumer sees its subscriptions; the publisher sees who subscribes to its data."""
    query = select(Subscription).order_by(Subscription.created_at.desc(), Subscription.id)
    if principal.is_("admin", "auditor"):
        return query
    if principal.department_id is None:
        return query.where(false())
    mine = select(Grant.id).where(
        or_(
            Grant.consumer_department_id == principal.department_id,
            Grant.resource_id.in_(
                select(Resource.id).where(
                    Resource.publisher_department_id == principal.department_id
                )
            ),
        )
    )
    return query.where(Subscription.grant_id.in_(mine))


async def get_subscription(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> Subscription:
    found = (
        await session.execute(
            readable_subscriptions(principal).where(Subscription.id == subscription_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no subscription {id}.").format(id=subscription_id))
    return found


async def list_subscriptions(
    session: AsyncSession, principal: Principal, *, limit: int = 100
) -> list[Subscription]:
    return list((await session.execute(readable_subscriptions(principal).limit(limit))).scalars())


def _check_url(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            _("The webhook address must be an http or https URL."), field="webhook_url"
        )
    if parts.username or parts.password:
        raise InvalidInput(
            _(
                "Put no user name or password in the webhook address; the signature header "
                "authenticates the platform."
            ),
            field="webhook_url",
        )
    return url


async def create_subscription(
    session: AsyncSession, principal: Principal, *, resource_code: str, webhook_url: str = ""
) -> tuple[Subscription, str | None]:
    """Subscribe the caller's department to a resource it holds a grant for. Returns the
    subscription and, with a webhook, its signing secret (shown this once)."""
    authorize(principal, "exchange.subscription.create")
    resource = await service.get_resource(session, principal, resource_code)
    check = await grants.grant_in_force(session, resource, principal.department_id)
    if check.grant is None:
        raise InvalidInput(
            _("Subscribing needs a grant in force for {code}.").format(code=resource.code),
            field="resource",
            reason=check.reason,
        )
    url = _check_url(webhook_url)
    secret = secrets.token_urlsafe(32) if url else None
    subscription = Subscription(
        grant_id=check.grant.id,
        webhook_url=url,
        secret_enc=(
            encrypt(get_settings().resolved_secret(), SECRET_PURPOSE, secret.encode())
            if secret
            else ""
        ),
        active=True,
        created_by=principal.name,
    )
    session.add(subscription)
    await session.flush()
    await audit.log(
        session,
        principal,
        "exchange.subscription.create",
        f"{resource.code}:{subscription.id}",
        webhook=url,
    )
    return subscription, secret


async def cancel_subscription(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> Subscription:
    """Stop a subscription (the consumer, or an administrator); pending deliveries are dropped."""
    authorize(principal, "exchange.subscription.cancel")
    subscription = await get_subscription(session, principal, subscription_id)
    grant = await session.get(Grant, subscription.grant_id)
    assert grant is not None
    if not principal.is_("admin") and grant.consumer_department_id != principal.department_id:
        raise Forbidden(_("Only the subscribing department cancels a subscription."))
    subscription.active = False
    pending = (
        await session.execute(
            select(WebhookDelivery).where(
                WebhookDelivery.subscription_id == subscription.id,
                WebhookDelivery.status == "pending",
            )
        )
    ).scalars()
    for delivery in pending:
        delivery.status, delivery.last_error = "cancelled", "the subscription was cancelled"
    await session.flush()
    await audit.log(session, principal, "exchange.subscription.cancel", str(subscription.id))
    return subscription


async def list_deliveries(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID, *, limit: int = 100
) -> list[WebhookDelivery]:
    subscription = await get_subscription(session, principal, subscription_id)
    rows = await session.execute(
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


# --- fan-out of changes ------------------------------------------------------------------


async def fan_out_change(
    session: AsyncSession,
    *,
    record_type: str,
    record_id: str,
    version: Any,
    changed: list[str],
    values: dict[str, Any],
    event_id: uuid.UUID,
    created: bool = False,
) -> int:
    """Publish a changed record to every subscription whose grant covers a changed field
    (any granted field of a created record): a bus event and, with a webhook, a queued
    delivery, with the granted fields' values. Returns how many subscriptions it reached."""
    now = clock.now()
    rows = (
        await session.execute(
            select(Subscription, Grant, Resource)
            .join(Grant, Subscription.grant_id == Grant.id)
            .join(Resource, Grant.resource_id == Resource.id)
            .where(
                Resource.source_registry == record_type,
                Resource.active,
                Subscription.active,
                Grant.status == "approved",
            )
            .order_by(Subscription.created_at, Subscription.id)
        )
    ).all()
    departments = await service.departments_by_id(session)
    reached = 0
    for subscription, grant, resource in rows:
        if grants.standing(grant, now) != "active":
            continue
        allowed = grants.effective_fields(grant, resource)
        names = allowed if created else [name for name in changed if name in allowed]
        if not names:
            continue
        topic = events.resource_changed(resource.code).name
        consumer = departments.get(grant.consumer_department_id)
        delivered = {name: values[name] for name in names if name in values}
        if len(delivered) < len(names):
            delivered = await _current_values(
                session, subscription, grant, resource, record_type, record_id, names
            )
        elif record_type == "person":
            # The values came with the change: pushing them is still a disclosure of the
            # person's data to the consumer, logged as the exchange read it is.
            await _log_push(session, subscription, grant, resource, record_id, names, consumer)
        payload = {
            "event_id": str(event_id),
            "topic": topic,
            "resource": resource.code,
            "record_type": record_type,
            "record_id": record_id,
            "version": version,
            "fields": names,
            "values": delivered,
            "occurred_at": now.isoformat(),
            "subscription": str(subscription.id),
            "consumer": consumer.code if consumer else "",
        }
        await events.resource_changed(resource.code).emit(
            session, events.ResourceChanged.model_validate(payload)
        )
        if subscription.webhook_url:
            session.add(
                WebhookDelivery(
                    subscription_id=subscription.id,
                    event_id=event_id,
                    payload=payload,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    last_error="",
                )
            )
        reached += 1
    await session.flush()
    return reached


# Who a subscription push is logged as in the person's access log (Chinese, as they read it).
SUBSCRIPTION_READER = "共享订阅推送"


async def _log_push(
    session: AsyncSession,
    subscription: Subscription,
    grant: Grant,
    resource: Resource,
    record_id: str,
    names: list[str],
    consumer: Department | None,
) -> None:
    try:
        person_id = uuid.UUID(record_id)
    except ValueError:
        return
    reader = registry.Reader(
        kind="system",
        actor=f"subscription:{subscription.id}",
        name=SUBSCRIPTION_READER,
        department_code=consumer.code if consumer is not None else "",
    )
    await registry.log_reads(
        session,
        reader,
        [(person_id, names)],
        purpose=grant.purpose,
        via="exchange",
        grant_name=grants.grant_label(resource),
    )


async def _current_values(
    session: AsyncSession,
    subscription: Subscription,
    grant: Grant,
    resource: Resource,
    record_type: str,
    record_id: str,
    names: list[str],
) -> dict[str, Any]:
    """The record's granted values now, read as the subscribing department: pushing them is
    a disclosure like any exchange read, so it goes through the registry and its access log."""
    reader = Principal(
        id=None,
        kind="system",
        name=f"subscription:{subscription.id}",
        department_id=grant.consumer_department_id,
        via="system",
    )
    try:
        async with session.begin_nested():
            rows = await registry.exchange_read(
                session,
                reader,
                record_type=record_type,
                filters={"id": record_id},
                fields=names,
                purpose=grant.purpose,
                grant_name=grants.grant_label(resource),
                actor_name=SUBSCRIPTION_READER,
                limit=1,
            )
    except Problem:
        # The record is gone or unreadable: the change is still announced, without values.
        return {}
    return dict(rows[0]) if rows else {}


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Send:
    delivery_id: int
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0


async def _post(client: httpx.AsyncClient, send: _Send) -> str | None:
    """None when the endpoint took it (2xx); else what went wrong, for last_error."""
    try:
        response = await client.post(send.url, content=send.body, headers=send.headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


async def deliver_due(
    session: AsyncSession,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    limit: int = BATCH,
    release_lock: bool = False,
) -> DeliveryReport:
    """Send the deliveries that are due, concurrently (5 s timeout each); failures wait
    ``backoff(attempts)`` and die after ``max_attempts``. ``transport`` is for tests.

    With ``release_lock`` the reading transaction ends before the requests go out, so a slow
    endpoint does not hold SQLite's write lock; a delivery may then be sent twice if two
    processes race, which webhooks allow (receivers dedupe by ``event_id``)."""
    now = clock.now()
    report = DeliveryReport()
    rows = (
        await session.execute(
            select(WebhookDelivery, Subscription, Grant)
            .join(Subscription, WebhookDelivery.subscription_id == Subscription.id)
            .join(Grant, Subscription.grant_id == Grant.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    ).all()
    instance_secret = get_settings().resolved_secret()
    sends: list[_Send] = []
    stopped: list[tuple[int, str]] = []
    for delivery, subscription, grant in rows:
        if not subscription.active or not subscription.webhook_url:
            stopped.append((delivery.id, "the subscription was cancelled"))
            continue
        grant_standing = grants.standing(grant, now)
        if grant_standing != "active":
            stopped.append((delivery.id, f"the grant is {grant_standing}"))
            continue
        secret = decrypt(instance_secret, SECRET_PURPOSE, subscription.secret_enc).decode()
        body = payload_bytes(delivery.payload)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secret, body),
            "X-Smartcity-Event": str(delivery.payload.get("topic", "")),
            "X-Smartcity-Event-Id": str(delivery.event_id),
            "X-Smartcity-Delivery": str(delivery.id),
            "User-Agent": "smartcity-webhooks/1",
        }
        sends.append(_Send(delivery.id, subscription.webhook_url, body, headers))
    if release_lock:
        await session.rollback()
    errors: list[str | None] = []
    if sends:
        async with httpx.AsyncClient(
            transport=transport, timeout=TIMEOUT_SECONDS, follow_redirects=False
        ) as client:
            errors = list(await asyncio.gather(*(_post(client, send) for send in sends)))
    finished = clock.now()
    for delivery_id, why in stopped:
        stopped_row = await session.get(WebhookDelivery, delivery_id)
        if stopped_row is not None and stopped_row.status == "pending":
            stopped_row.status, stopped_row.last_error = "cancelled", why
            report.cancelled += 1
    for send, error in zip(sends, errors, strict=True):
        row = await session.get(WebhookDelivery, send.delivery_id)
        if row is None or row.status != "pending":
            continue
        row.attempts += 1
        if error is None:
            row.status, row.delivered_at, row.last_error = "delivered", finished, ""
            report.delivered += 1
            continue
        row.last_error = error
        if row.attempts >= max_attempts:
            row.status = "dead"
            report.dead += 1
        else:
            row.next_attempt_at = finished + backoff(row.attempts)
            report.failed += 1
    await session.flush()
    return report
