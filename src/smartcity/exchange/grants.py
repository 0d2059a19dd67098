"""The grants workflow (共享授权): request, approve, refuse and revoke, and the grant in force."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.accounts import department_by_code
from smartcity.core.authz import Principal, authorize, can
from smartcity.core.bus import Topic
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.text import clean_text
from smartcity.exchange import events
from smartcity.exchange.models import Grant, Resource, Subscription, WebhookDelivery
from smartcity.exchange.schemas import GrantApproval, GrantRequest
from smartcity.exchange.service import field_names, get_resource

# Grant statuses as the messages name them.
GRANT_STATUSES = (N_("requested"), N_("approved"), N_("refused"), N_("revoked"))
# Who decides when the catalog itself decides (无条件共享 and 不予共享 need no person).
AUTOMATIC = "platform"


def can_decide(principal: Principal, resource: Resource) -> bool:
    """Whether the principal decides requests for the resource (its publisher's staff)."""
    return can(principal, "exchange.grant.decide", resource)


async def grant_and_resource(session: AsyncSession, grant_id: uuid.UUID) -> tuple[Grant, Resource]:
    """A grant already reached through a readable_ query, with its resource."""
    grant = await session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_("There is no grant {id}.").format(id=grant_id))
    resource = await session.get(Resource, grant.resource_id)
    assert resource is not None
    return grant, resource


def readable_grants(principal: Principal) -> Select[Grant]:
    """A department sees the grants it asked for and those on resources it publishes."""
    query = select(Grant).order_by(Grant.created_at.desc(), Grant.id)
    if principal.is_("admin", "auditor"):
        return query
    if principal.department_id is None:
        return query.where(false())
    published = select(Resource.id).where(
        Resource.publisher_department_id == principal.department_id
    )
    return query.where(
        or_(
            Grant.consumer_department_id == principal.department_id,
            Grant.resource_id.in_(published),
        )
    )


async def get_grant(session: AsyncSession, principal: Principal, grant_id: uuid.UUID) -> Grant:
    found = (
        await session.execute(readable_grants(principal).where(Grant.id == grant_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no grant {id}.").format(id=grant_id))
    return found


async def list_grants(
    session: AsyncSession,
    principal: Principal,
    *,
    direction: str | None = None,
    status: str | None = None,
    resource: str | None = None,
    limit: int = 100,
) -> list[Grant]:
    """``direction`` incoming: requests for my resources; outgoing: my department's requests."""
    query = readable_grants(principal)
    if direction == "outgoing":
        query = query.where(Grant.consumer_department_id == principal.department_id)
    elif direction == "incoming":
        query = query.where(
            Grant.resource_id.in_(
                select(Resource.id).where(
                    Resource.publisher_department_id == principal.department_id
                )
            )
        )
    if status:
        query = query.where(Grant.status == status)
    if resource:
        query = query.where(
            Grant.resource_id.in_(select(Resource.id).where(Resource.code == resource))
        )
    return list((await session.execute(query.limit(limit))).scalars().all())


def standing(grant: Grant, at: datetime | None = None) -> str:
    """What a grant allows now: active, expired, revoked, requested or refused."""
    if grant.status != "approved":
        return grant.status
    if grant.expires_at is not None and grant.expires_at <= (at or clock.now()):
        return "expired"
    return "active"


@dataclass(frozen=True)
class GrantCheck:
    """The grant a department reads a resource under, or why it has none."""

    grant: Grant | None
    reason: str  # "" when granted; else no-grant, expired, revoked, not-approved, refused


async def grant_in_force(
    session: AsyncSession, resource: Resource, department_id: uuid.UUID | None
) -> GrantCheck:
    """The department's approved, unexpired, unrevoked grant for the resource, if any."""
    if department_id is None:
        return GrantCheck(None, "no-grant")
    rows = (
        (
            await session.execute(
                select(Grant)
                .where(
                    Grant.resource_id == resource.id, Grant.consumer_department_id == department_id
                )
                .order_by(Grant.created_at.desc(), Grant.id)
            )
        )
        .scalars()
        .all()
    )
    now = clock.now()
    for grant in rows:
        if standing(grant, now) == "active":
            return GrantCheck(grant, "")
    if not rows:
        return GrantCheck(None, "no-grant")
    latest = standing(rows[0], now)
    return GrantCheck(None, "not-approved" if latest == "requested" else latest)


def effective_fields(grant: Grant, resource: Resource) -> list[str]:
    """Granted fields the resource still has (a field dropped from the catalog is gone)."""
    present = set(field_names(resource))
    return [f for f in grant.granted_fields if f in present]


async def _grant_event(
    session: AsyncSession, topic: Topic[events.GrantChanged], grant: Grant, resource: Resource
) -> None:
    await topic.emit(
        session,
        events.GrantChanged(
            id=str(grant.id),
            resource=resource.code,
            consumer_department_id=str(grant.consumer_department_id),
            status=grant.status,
            fields=list(grant.granted_fields or grant.requested_fields),
        ),
    )


def _future(expires_at: datetime | None) -> datetime | None:
    if expires_at is not None and expires_at <= clock.now():
        raise InvalidInput(_("The expiry must be in the future."), field="expires_at")
    return expires_at


async def request_grant(
    session: AsyncSession, principal: Principal, code: str, data: GrantRequest
) -> Grant:
    """A department asks for a resource (申请共享). 无条件共享 is granted at once and 不予共享
    refused at once; 有条件共享 waits for the publisher."""
    authorize(principal, "exchange.grant.request")
    resource = await get_resource(session, principal, code)
    consumer_id = principal.department_id
    if data.consumer:
        if not principal.is_("admin"):
            raise Forbidden(_("Only administrators request on behalf of another department."))
        consumer_id = (await department_by_code(session, data.consumer)).id
    if consumer_id is None:
        raise InvalidInput(
            _("Requests are made by a department; your account belongs to none."),
            field="consumer",
        )
    if consumer_id == resource.publisher_department_id:
        raise InvalidInput(
            _("Your department publishes this resource; it needs no grant."), field="resource"
        )
    if not resource.active:
        raise InvalidInput(_("This resource has been withdrawn."), field="resource")
    purpose = data.purpose.strip()
    if not purpose:
        raise InvalidInput(_("State what the data is for."), field="purpose")
    unknown = [f for f in data.fields if f not in field_names(resource)]
    if unknown:
        raise InvalidInput(
            _("{names} are not fields of this resource.").format(names=", ".join(unknown)),
            field="fields",
        )
    fields = list(dict.fromkeys(data.fields))
    expires_at = _future(data.expires_at)
    pending = await session.execute(
        select(Grant.id).where(
            Grant.resource_id == resource.id,
            Grant.consumer_department_id == consumer_id,
            Grant.status == "requested",
        )
    )
    if pending.first() is not None:
        raise Conflict(
            _("Your department already has a request for this resource waiting for a decision."),
            field="resource",
        )
    grant = Grant(
        resource_id=resource.id,
        consumer_department_id=consumer_id,
        purpose=purpose,
        legal_basis=data.legal_basis.strip(),
        requested_fields=fields,
        granted_fields=[],
        status="requested",
        requested_by=principal.name,
        expires_at=expires_at,
    )
    session.add(grant)
    await session.flush()
    await audit.log(
        session,
        principal,
        "exchange.grant.request",
        f"{code}:{grant.id}",
        fields=fields,
        purpose=purpose,
    )
    await _grant_event(session, events.GRANT_REQUESTED, grant, resource)
    if resource.sharing_class == "unconditional":
        await _approve(session, AUTOMATIC, grant, resource, fields, expires_at, "无条件共享")
    elif resource.sharing_class == "none":
        await _refuse(
            session,
            AUTOMATIC,
            grant,
            resource,
            _(
                "{title} is classed 不予共享 (not shared): the catalog refuses every request."
            ).format(title=resource.title),
        )
    return grant


async def _approve(
    session: AsyncSession,
    actor: Principal | str,
    grant: Grant,
    resource: Resource,
    fields: list[str],
    expires_at: datetime | None,
    reason: str,
) -> None:
    now = clock.now()
    # One grant in force per department and resource: a new decision supersedes the old one,
    # and its subscriptions move over so they keep running under the new field list.
    older = (
        (
            await session.execute(
                select(Grant).where(
                    Grant.resource_id == resource.id,
                    Grant.consumer_department_id == grant.consumer_department_id,
                    Grant.status == "approved",
                    Grant.id != grant.id,
                )
            )
        )
        .scalars()
        .all()
    )
    for old in older:
        old.status, old.revoked_at = "revoked", now
        old.decision_reason = f"superseded by grant {grant.id}"
        await session.execute(
            update(Subscription).where(Subscription.grant_id == old.id).values(grant_id=grant.id)
        )
    grant.status = "approved"
    grant.granted_fields = fields
    grant.expires_at = expires_at
    grant.decided_by = actor if isinstance(actor, str) else actor.name
    grant.decided_at = now
    grant.decision_reason = reason
    await session.flush()
    await audit.log(
        session,
        actor,
        "exchange.grant.approve",
        f"{resource.code}:{grant.id}",
        fields=fields,
        expires_at=expires_at.isoformat() if expires_at else None,
        superseded=[str(o.id) for o in older],
    )
    await _grant_event(session, events.GRANT_APPROVED, grant, resource)


async def _refuse(
    session: AsyncSession, actor: Principal | str, grant: Grant, resource: Resource, reason: str
) -> None:
    grant.status = "refused"
    grant.decided_by = actor if isinstance(actor, str) else actor.name
    grant.decided_at = clock.now()
    grant.decision_reason = reason
    await session.flush()
    await audit.log(
        session, actor, "exchange.grant.refuse", f"{resource.code}:{grant.id}", reason=reason
    )
    await _grant_event(session, events.GRANT_REFUSED, grant, resource)


async def _decidable(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID, action: str
) -> tuple[Grant, Resource]:
    authorize(principal, action)
    grant = await get_grant(session, principal, grant_id)
    resource = await session.get(Resource, grant.resource_id)
    assert resource is not None
    authorize(principal, action, resource)
    return grant, resource


def _already(grant: Grant) -> Conflict:
    return Conflict(
        _("This request was already decided: it is {status}.").format(status=_(grant.status)),
        status_now=grant.status,
    )


async def approve_grant(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID, data: GrantApproval
) -> Grant:
    """The publisher approves a request (同意共享), possibly for fewer fields, until a date."""
    grant, resource = await _decidable(session, principal, grant_id, "exchange.grant.decide")
    if grant.status != "requested":
        raise _already(grant)
    fields = list(dict.fromkeys(data.fields)) if data.fields is not None else grant.requested_fields
    if not fields:
        raise InvalidInput(_("Grant at least one field, or refuse the request."), field="fields")
    beyond = [f for f in fields if f not in grant.requested_fields]
    if beyond:
        raise InvalidInput(
            _("Only requested fields can be granted; {names} were not requested.").format(
                names=", ".join(beyond)
            ),
            field="fields",
        )
    gone = [f for f in fields if f not in field_names(resource)]
    if gone:
        raise InvalidInput(
            _("{names} are no longer fields of this resource.").format(names=", ".join(gone)),
            field="fields",
        )
    expires_at = _future(data.expires_at)
    await _approve(session, principal, grant, resource, fields, expires_at, data.reason.strip())
    return grant


async def refuse_grant(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID, reason: str
) -> Grant:
    """The publisher refuses a request (不同意共享); the reason is required and shown."""
    grant, resource = await _decidable(session, principal, grant_id, "exchange.grant.decide")
    reason = clean_text(reason, "reason")
    if not reason.strip():
        raise InvalidInput(_("Give the reason for refusing."), field="reason")
    if grant.status != "requested":
        raise _already(grant)
    await _refuse(session, principal, grant, resource, reason.strip())
    return grant


async def revoke_grant(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID, reason: str = ""
) -> Grant:
    """The publisher withdraws a grant (撤销授权); reads and deliveries stop at once."""
    grant, resource = await _decidable(session, principal, grant_id, "exchange.grant.revoke")
    reason = clean_text(reason, "reason")
    if grant.status != "approved":
        raise Conflict(
            _("Only an approved grant can be revoked; this one is {status}.").format(
                status=_(grant.status)
            ),
            status_now=grant.status,
        )
    now = clock.now()
    grant.status, grant.revoked_at = "revoked", now
    if reason.strip():
        grant.decision_reason = reason.strip()
    subscription_ids = select(Subscription.id).where(Subscription.grant_id == grant.id)
    await session.execute(
        update(Subscription).where(Subscription.grant_id == grant.id).values(active=False)
    )
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id.in_(subscription_ids),
            WebhookDelivery.status == "pending",
        )
        .values(status="cancelled", last_error="the grant was revoked")
    )
    await session.flush()
    await audit.log(
        session, principal, "exchange.grant.revoke", f"{resource.code}:{grant.id}", reason=reason
    )
    await _grant_event(session, events.GRANT_REVOKED, grant, resource)
    return grant


async def registry_fields_granted(
    session: AsyncSession, department_id: uuid.UUID, record_type: str
) -> set[str]:
    """Fields of a registry's records named by the department's approved, live grants on
    active resources of that registry: what the registry shows the department unmasked (the
    exchange's FieldGrants, declared in its MODULE)."""
    now = clock.now()
    rows = await session.execute(
        select(Grant.granted_fields)
        .join(Resource, Resource.id == Grant.resource_id)
        .where(
            Grant.consumer_department_id == department_id,
            Grant.status == "approved",
            Grant.revoked_at.is_(None),
            or_(Grant.expires_at.is_(None), Grant.expires_at > now),
            Resource.source_registry == record_type,
            Resource.active.is_(True),
        )
    )
    granted: set[str] = set()
    for fields in rows.scalars():
        granted.update(fields or ())
    return granted


def grant_label(resource: Resource) -> str:
    """How a person's access log names the grant (共享授权) an exchange read was made under:
    by the resource read. Chinese, as the citizen reads it."""
    return f"共享授权：{resource.title}（{resource.code}）"
