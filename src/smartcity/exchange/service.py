"""The catalog (资源目录) and grants (共享授权) of the government data exchange.

Reads through a grant, the message log and statistics are in ``evidence``; subscriptions and
webhooks in ``webhooks``; the open-data API in ``ckan``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.accounts import department_by_code, readable_departments
from smartcity.core.authz import Principal, authorize, can, register_actions, register_rule
from smartcity.core.bus import emit
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.exchange import events
from smartcity.exchange.models import Grant, Resource, Subscription, WebhookDelivery
from smartcity.exchange.schemas import (
    FieldSpec,
    GrantApproval,
    GrantRequest,
    ResourceCreate,
    ResourceUpdate,
)
from smartcity.registry import records
from smartcity.registry.models import Organization, Place

ACTIONS = {
    "exchange.resource.create": {"staff", "admin"},
    "exchange.resource.update": {"staff", "admin"},
    "exchange.grant.request": {"staff", "supervisor", "admin"},
    "exchange.grant.decide": {"staff", "admin"},
    "exchange.grant.revoke": {"staff", "admin"},
    "exchange.resource.query": {"staff", "system"},
    "exchange.log.verify": {"admin", "auditor"},
    "exchange.subscription.create": {"staff", "system"},
    "exchange.subscription.cancel": {"staff", "system", "admin"},
}
register_actions(ACTIONS)


def _publisher_staff(principal: Principal, resource: Any) -> bool:
    """Only the publisher's own people decide about a resource (or an administrator)."""
    if principal.is_("admin"):
        return True
    return principal.department_id is not None and principal.department_id == getattr(
        resource, "publisher_department_id", None
    )


for _action in (
    "exchange.resource.create",
    "exchange.resource.update",
    "exchange.grant.decide",
    "exchange.grant.revoke",
):
    register_rule(_action, _publisher_staff)


def can_decide(principal: Principal, resource: Resource) -> bool:
    """Whether the principal decides requests for the resource (its publisher's staff)."""
    return can(principal, "exchange.grant.decide", resource)


SHARING_CLASSES = {
    "unconditional": "无条件共享",
    "conditional": "有条件共享",
    "none": "不予共享",
}
UPDATE_CYCLES = ("realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular")
# The licences open data may carry (CKAN license_list); the id is what datasets name.
LICENSES: dict[str, tuple[str, str]] = {
    "cc-by-4.0": (
        "Creative Commons Attribution 4.0",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    "cc-zero": ("Creative Commons CCZero", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "odc-by": ("Open Data Commons Attribution License", "https://opendatacommons.org/licenses/by/"),
    "other-open": ("Other (Open)", ""),
}
DEFAULT_OPEN_LICENSE = "cc-by-4.0"
_COLUMN_TYPES = {
    "String": "string",
    "Date": "date",
    "DateTime": "datetime",
    "UTCDateTime": "datetime",
    "Float": "number",
    "Integer": "integer",
    "BigInteger": "integer",
    "Boolean": "boolean",
    "Uuid": "uuid",
    "JSON": "object",
}
# Grant statuses as the messages name them.
GRANT_STATUSES = (N_("requested"), N_("approved"), N_("refused"), N_("revoked"))
# Who decides when the catalog itself decides (无条件共享 and 不予共享 need no person).
AUTOMATIC = "platform"


# --- departments -------------------------------------------------------------------------


async def departments_by_id(session: AsyncSession) -> dict[uuid.UUID, Department]:
    """Every department by id: the catalog names publishers and consumers by code."""
    rows = (await session.execute(readable_departments())).scalars().all()
    return {d.id: d for d in rows}


async def resources_by_id(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, Resource]:
    """Resources by id for rows already read through a readable_ query (grants, messages)."""
    if not ids:
        return {}
    rows = (await session.execute(select(Resource).where(Resource.id.in_(ids)))).scalars()
    return {r.id: r for r in rows}


async def grant_and_resource(session: AsyncSession, grant_id: uuid.UUID) -> tuple[Grant, Resource]:
    """A grant already reached through a readable_ query, with its resource."""
    grant = await session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_("There is no grant {id}.").format(id=grant_id))
    resource = await session.get(Resource, grant.resource_id)
    assert resource is not None
    return grant, resource


# --- catalog (资源目录) --------------------------------------------------------------------


def readable_resources(principal: Principal | None) -> Select[Resource]:
    """Anonymous callers see open data only; everyone signed in sees the whole catalog
    (withdrawn resources only their publisher and administrators)."""
    query = select(Resource).order_by(Resource.code)
    if principal is None:
        return query.where(Resource.open_data, Resource.active)
    if principal.is_("admin"):
        return query
    if principal.department_id is None:
        return query.where(Resource.active)
    return query.where(
        or_(Resource.active, Resource.publisher_department_id == principal.department_id)
    )


async def get_resource(session: AsyncSession, principal: Principal | None, code: str) -> Resource:
    found = (
        await session.execute(readable_resources(principal).where(Resource.code == code))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no resource {code} in the catalog.").format(code=code))
    return found


async def list_resources(
    session: AsyncSession,
    principal: Principal | None,
    *,
    q: str | None = None,
    sharing_class: str | None = None,
    publisher: str | None = None,
    open_data: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Resource], int]:
    """A page of the catalog, filtered; the text search looks at code, title and description."""
    query = readable_resources(principal)
    if q:
        like = f"%{q.strip()}%"
        query = query.where(
            or_(
                Resource.code.ilike(like),
                Resource.title.ilike(like),
                Resource.description.ilike(like),
            )
        )
    if sharing_class:
        query = query.where(Resource.sharing_class == sharing_class)
    if open_data is not None:
        query = query.where(Resource.open_data.is_(open_data))
    if publisher:
        department = await department_by_code(session, publisher)
        query = query.where(Resource.publisher_department_id == department.id)
    total = (
        await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))
    ).scalar_one()
    rows = (await session.execute(query.limit(limit).offset(offset))).scalars().all()
    return list(rows), int(total)


def field_names(resource: Resource) -> list[str]:
    return [f["name"] for f in resource.fields]


def personal_fields(resource: Resource) -> list[str]:
    return [f["name"] for f in resource.fields if f.get("personal")]


def _column_type(record_type: str, name: str) -> str:
    column = records.MODELS[record_type].__table__.columns[name]
    return _COLUMN_TYPES.get(type(column.type).__name__, "string")


def _checked_fields(source_registry: str, specs: list[FieldSpec]) -> list[dict[str, Any]]:
    names = [spec.name for spec in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(
            _("Each field may appear once; repeated: {names}.").format(names=", ".join(repeated)),
            field="fields",
        )
    if source_registry:
        allowed = records.data_fields(source_registry)
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise InvalidInput(
                _(
                    "{names} are not fields of the {registry} registry; choose from {allowed}."
                ).format(
                    names=", ".join(unknown), registry=source_registry, allowed=", ".join(allowed)
                ),
                field="fields",
            )
    checked = []
    for spec in specs:
        personal = spec.personal
        kind: str = spec.type or "string"
        if source_registry:
            # The registry is the authority: a person's ID number is personal whatever the
            # form said, and a column's type is what it is.
            personal = personal or (
                source_registry == "person" and spec.name in records.PERSONAL_FIELDS
            )
            kind = spec.type or _column_type(source_registry, spec.name)
        checked.append(
            {
                "name": spec.name,
                "title": spec.title or spec.name,
                "type": kind,
                "personal": personal,
            }
        )
    return checked


def _check_open_data(resource: Resource) -> None:
    if not resource.open_data:
        return
    if resource.sharing_class != "unconditional":
        raise InvalidInput(
            _("Only resources shared unconditionally (无条件共享) can be open data."),
            field="open_data",
        )
    if resource.source_registry == "person":
        raise InvalidInput(
            _("Records of persons are never open data: every read of them is logged."),
            field="open_data",
        )
    personal = personal_fields(resource)
    if personal:
        raise InvalidInput(
            _("Open data may hold no personal fields; remove {names} or keep it closed.").format(
                names=", ".join(personal)
            ),
            field="open_data",
        )


def _check_license(license_id: str) -> None:
    if license_id and license_id not in LICENSES:
        raise InvalidInput(
            _("Unknown licence {license}; use one of {known}.").format(
                license=license_id, known=", ".join(LICENSES)
            ),
            field="license_id",
        )


async def create_resource(
    session: AsyncSession, principal: Principal, data: ResourceCreate
) -> Resource:
    """Publish a resource in the catalog (编目); its publisher's staff or an administrator."""
    authorize(principal, "exchange.resource.create")
    if data.publisher:
        publisher_id = (await department_by_code(session, data.publisher)).id
    elif principal.department_id is not None:
        publisher_id = principal.department_id
    else:
        raise InvalidInput(
            _("Name the publishing department (its code, e.g. GAJ)."), field="publisher"
        )
    resource = Resource(
        code=data.code,
        title=data.title.strip(),
        description=data.description.strip(),
        publisher_department_id=publisher_id,
        source_registry=data.source_registry,
        fields=_checked_fields(data.source_registry, data.fields),
        update_cycle=data.update_cycle,
        sharing_class=data.sharing_class,
        open_data=data.open_data,
        license_id=data.license_id or (DEFAULT_OPEN_LICENSE if data.open_data else ""),
        keywords=data.keywords,
        active=True,
        updated_at=clock.now(),
    )
    authorize(principal, "exchange.resource.create", resource)
    _check_license(resource.license_id)
    _check_open_data(resource)
    taken = await session.execute(select(Resource.id).where(Resource.code == data.code))
    if taken.first() is not None:
        raise Conflict(
            _("The catalog already has a resource {code}.").format(code=data.code), field="code"
        )
    session.add(resource)
    await session.flush()
    await audit.log(
        session,
        principal,
        "exchange.resource.create",
        data.code,
        sharing_class=data.sharing_class,
        open_data=data.open_data,
        fields=field_names(resource),
    )
    return resource


async def update_resource(
    session: AsyncSession, principal: Principal, code: str, data: ResourceUpdate
) -> Resource:
    """Change a resource's description, fields or sharing; grants already given stay."""
    authorize(principal, "exchange.resource.update")
    resource = await get_resource(session, principal, code)
    authorize(principal, "exchange.resource.update", resource)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "fields" in changes:
        assert data.fields is not None
        resource.fields = _checked_fields(resource.source_registry, data.fields)
    for name in ("title", "description"):
        if name in changes:
            setattr(resource, name, str(changes[name]).strip())
    for name in ("update_cycle", "sharing_class", "open_data", "keywords", "license_id", "active"):
        if name in changes:
            setattr(resource, name, changes[name])
    if resource.open_data and not resource.license_id:
        resource.license_id = DEFAULT_OPEN_LICENSE
    _check_license(resource.license_id)
    _check_open_data(resource)
    resource.updated_at = clock.now()
    await session.flush()
    await audit.log(session, principal, "exchange.resource.update", code, changed=sorted(changes))
    return resource


# --- grants (共享授权) ---------------------------------------------------------------------


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


async def _grant_event(session: AsyncSession, topic: str, grant: Grant, resource: Resource) -> None:
    await emit(
        session,
        topic,
        {
            "id": str(grant.id),
            "resource": resource.code,
            "consumer_department_id": str(grant.consumer_department_id),
            "status": grant.status,
            "fields": list(grant.granted_fields or grant.requested_fields),
        },
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


# --- open data -----------------------------------------------------------------------------


async def open_resource(session: AsyncSession, code: str) -> Resource:
    """An open-data resource by code, as anyone may see it (404 for anything else)."""
    return await get_resource(session, None, code)


async def open_record_batch(
    session: AsyncSession, resource: Resource, *, after: uuid.UUID | None, size: int = 1000
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """The next batch of an open resource's rows, keyed by record id (keyset paging keeps
    each transaction short while a download streams)."""
    if not resource.open_data or resource.source_registry not in ("organization", "place"):
        return []
    found: list[Organization] | list[Place]
    if resource.source_registry == "organization":
        query = select(Organization).order_by(Organization.id).limit(size)
        if after is not None:
            query = query.where(Organization.id > after)
        found = list((await session.execute(query)).scalars())
    else:
        places = select(Place).order_by(Place.id).limit(size)
        if after is not None:
            places = places.where(Place.id > after)
        found = list((await session.execute(places)).scalars())
    names = field_names(resource)
    batch = []
    for record in found:
        data = records.snapshot(resource.source_registry, record)
        batch.append((record.id, {name: data.get(name) for name in names}))
    return batch
