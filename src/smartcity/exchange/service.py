"""The catalog (资源目录) of the government data exchange.

The grants workflow (共享授权) is in ``grants``; reads through a grant, the message log and
statistics in ``evidence``; subscriptions and webhooks in ``webhooks``; the open-data API in
``ckan``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.accounts import department_by_code, readable_departments
from smartcity.core.authz import ObjectRule, Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.exchange.models import Resource
from smartcity.exchange.schemas import (
    FieldSpec,
    ResourceCreate,
    ResourceUpdate,
)
from smartcity.registry import contract as registry

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


def _publisher_staff(principal: Principal, resource: Any) -> bool:
    """Only the publisher's own people decide about a resource (or an administrator)."""
    if principal.is_("admin"):
        return True
    return principal.department_id is not None and principal.department_id == getattr(
        resource, "publisher_department_id", None
    )


# object rules of the actions above, installed through the exchange's MODULE
RULES: dict[str, ObjectRule] = {
    action: _publisher_staff
    for action in (
        "exchange.resource.create",
        "exchange.resource.update",
        "exchange.grant.decide",
        "exchange.grant.revoke",
    )
}


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
    return _COLUMN_TYPES.get(registry.column_type(record_type, name), "string")


def _checked_fields(source_registry: str, specs: list[FieldSpec]) -> list[dict[str, Any]]:
    names = [spec.name for spec in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(
            _("Each field may appear once; repeated: {names}.").format(names=", ".join(repeated)),
            field="fields",
        )
    if source_registry:
        allowed = registry.data_fields(source_registry)
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
                source_registry == "person" and spec.name in registry.PERSONAL_FIELDS
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
            _("Only resources shared unconditionally can be open data."),
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
    found = await registry.record_batch(session, resource.source_registry, after=after, size=size)
    names = field_names(resource)
    return [(record_id, {name: data.get(name) for name in names}) for record_id, data in found]
