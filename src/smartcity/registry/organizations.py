"""Organizations (法人库): reading, search, history, as-of reads, registration and changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.registry.history import (
    VersionView,
    _version_views,
    _versions,
    record_created,
    record_updated,
    version_as_of,
)
from smartcity.registry.models import Organization, Person
from smartcity.registry.records import snapshot
from smartcity.registry.schemas import OrganizationCreate
from smartcity.registry.service import READERS, account_to_link
from smartcity.registry.stewardship import _groups_of_fields, require_one_source, require_source
from smartcity.registry.validation import (
    LEGAL_REPRESENTATIVE_NUMBER,
    ORGANIZATION_INPUT_FIELDS,
    ORGANIZATION_STATUSES,
    _choice,
    _limits,
    _require_place,
    check_known_fields,
    check_uscc,
    clean_organization_fields,
    name_prefix_filter,
)


@dataclass(frozen=True)
class OrganizationView:
    id: uuid.UUID
    version: int
    data: dict[str, Any]
    legal_representative_name: str | None = None
    as_of: datetime | None = None


# --- organizations ---------------------------------------------------------------------------


def readable_organizations(principal: Principal) -> Select[Organization]:
    """Department people read every organization; nobody else, here."""
    query = select(Organization)
    if principal.is_(*READERS):
        return query
    return query.where(false())


async def _readable_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> Organization:
    authorize(principal, "registry.organization.read")
    found = (
        await session.execute(
            readable_organizations(principal).where(Organization.id == organization_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such organization in the legal-person registry."))
    return found


async def _representative_names(
    session: AsyncSession, ids: Iterable[uuid.UUID | str | None]
) -> dict[str, str]:
    wanted = {uuid.UUID(str(i)) for i in ids if i}
    if not wanted:
        return {}
    rows = await session.execute(select(Person.id, Person.name).where(Person.id.in_(wanted)))
    return {str(pid): name for pid, name in rows.all()}


async def _organization_views(
    session: AsyncSession,
    rows: Sequence[tuple[uuid.UUID, int, dict[str, Any]]],
    as_of: datetime | None = None,
) -> list[OrganizationView]:
    names = await _representative_names(
        session, [data.get("legal_representative_id") for _, _, data in rows]
    )
    return [
        OrganizationView(
            oid,
            version,
            data,
            names.get(str(data.get("legal_representative_id") or "")),
            as_of,
        )
        for oid, version, data in rows
    ]


async def get_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> OrganizationView:
    org = await _readable_organization(session, principal, organization_id)
    return (
        await _organization_views(session, [(org.id, org.version, snapshot("organization", org))])
    )[0]


async def get_organization_as_of(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, at: datetime
) -> OrganizationView:
    """The organization's record as it was at ``at`` (404 if not registered yet)."""
    if at.tzinfo is None:
        raise InvalidInput(_("Give the instant with its time zone."), field="as_of")
    org = await _readable_organization(session, principal, organization_id)
    version = await version_as_of(session, "organization", org.id, at)
    if version is None:
        raise NotFound(
            _("This organization was not yet registered at {at}.").format(
                at=clock.to_city(at).strftime("%Y-%m-%d %H:%M")
            ),
            field="as_of",
        )
    return (
        await _organization_views(session, [(org.id, version.version, dict(version.data))], at)
    )[0]


async def organization_history(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> list[VersionView]:
    org = await _readable_organization(session, principal, organization_id)
    return await _version_views(session, await _versions(session, "organization", org.id), None)


async def search_organizations(
    session: AsyncSession,
    principal: Principal,
    *,
    uscc: str | None = None,
    name_prefix: str | None = None,
    status: str | None = None,
    industry: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OrganizationView], bool]:
    """Organizations by exact USCC, name prefix, status and industry, ordered by name."""
    authorize(principal, "registry.organization.read")
    _limits(limit, offset)
    query = readable_organizations(principal)
    if uscc:
        query = query.where(Organization.uscc == check_uscc(uscc))
    if name_prefix and name_prefix.strip():
        query = query.where(name_prefix_filter(Organization.name, name_prefix.strip()))
    if status:
        query = query.where(Organization.status == _choice(status, "status", ORGANIZATION_STATUSES))
    if industry and industry.strip():
        query = query.where(Organization.industry == industry.strip())
    query = query.order_by(Organization.name, Organization.uscc).limit(limit + 1).offset(offset)
    found = list((await session.execute(query)).scalars().all())
    views = await _organization_views(
        session, [(o.id, o.version, snapshot("organization", o)) for o in found[:limit]]
    )
    return views, len(found) > limit


async def _resolve_representative(session: AsyncSession, values: dict[str, Any]) -> None:
    number = values.pop(LEGAL_REPRESENTATIVE_NUMBER, None)
    if number is not None:
        found = (
            await session.execute(select(Person.id).where(Person.id_number == number))
        ).scalar_one_or_none()
        if found is None:
            raise InvalidInput(
                _("No person with this ID number is in the population registry."),
                field=LEGAL_REPRESENTATIVE_NUMBER,
            )
        values["legal_representative_id"] = found
    elif (
        values.get("legal_representative_id") is not None
        and await session.get(Person, values["legal_representative_id"]) is None
    ):
        raise InvalidInput(
            _("The legal representative is not in the population registry."),
            field="legal_representative_id",
        )


async def _uscc_taken(session: AsyncSession, code: str) -> None:
    if (await session.execute(select(Organization.id).where(Organization.uscc == code))).first():
        raise Conflict(
            _("An organization with this unified social credit code is already registered."),
            field="uscc",
        )


async def create_organization(
    session: AsyncSession, principal: Principal, data: OrganizationCreate, *, reason: str = ""
) -> Organization:
    """Register an organization (法人登记): the registration source (市场监管局) or an admin."""
    authorize(principal, "registry.organization.create")
    groups = _groups_of_fields("organization", ["uscc"])
    await require_source(session, principal, groups)
    values = clean_organization_fields(data.model_dump(), new=True)
    await _uscc_taken(session, values["uscc"])
    await _resolve_representative(session, values)
    await _require_place(session, values.get("registered_place_code"), "registered_place_code")
    org = Organization(**values, version=1, updated_at=clock.now())
    await record_created(
        session,
        principal,
        "organization",
        org,
        source_department_code=groups[0].department_code,
        reason=reason,
    )
    return org


async def update_organization(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    *,
    fields: Mapping[str, Any],
    reason: str = "",
) -> Organization:
    """Change some fields of an organization (registration source only); versioned."""
    org = await _readable_organization(session, principal, organization_id)
    authorize(principal, "registry.organization.update", org)
    if not fields:
        raise InvalidInput(_("Name at least one field to change."), field="fields")
    check_known_fields(fields, ORGANIZATION_INPUT_FIELDS)
    groups = await require_one_source(
        session,
        principal,
        "organization",
        ["legal_representative_id" if f == LEGAL_REPRESENTATIVE_NUMBER else f for f in fields],
    )
    values = clean_organization_fields(fields)
    if values.get("uscc", org.uscc) != org.uscc:
        await _uscc_taken(session, values["uscc"])
    await _resolve_representative(session, values)
    if values.get("registered_place_code") != org.registered_place_code:
        await _require_place(session, values.get("registered_place_code"), "registered_place_code")
    await record_updated(
        session, principal, "organization", org, values, groups=groups, reason=reason
    )
    return org


# --- the enterprise's own account (法人账户) ------------------------------------------------------


async def my_organization(session: AsyncSession, principal: Principal) -> Organization | None:
    """The organization whose own platform account the enterprise principal is, if linked
    (for applying online with what the legal-person registry holds, 免提交)."""
    if principal.kind != "enterprise" or principal.id is None:
        return None
    return (
        await session.execute(select(Organization).where(Organization.account_id == principal.id))
    ).scalar_one_or_none()


async def link_account(
    session: AsyncSession,
    principal: Principal,
    *,
    organization_id: uuid.UUID,
    username: str | None,
) -> Organization:
    """Link an enterprise account to its organization's record (法人账户绑定), or unlink with
    None. The registration source (市场监管局) or an admin does it, like any change to the
    organization's registration."""
    org = await _readable_organization(session, principal, organization_id)
    authorize(principal, "registry.organization.update", org)
    await require_source(session, principal, _groups_of_fields("organization", ["uscc"]))
    if username is None:
        org.account_id = None
        await audit.log(session, principal, "registry.organization.unlink_account", str(org.id))
        return org
    account = await account_to_link(
        session,
        username,
        kind="enterprise",
        linked_elsewhere=select(Organization.id).where(Organization.id != org.id),
        owner_column=Organization.account_id,
        unknown=_("There is no enterprise account {username}."),
        taken=_("The account {username} is already linked to another organization."),
    )
    org.account_id = account.id
    await session.flush()
    await audit.log(
        session, principal, "registry.organization.link_account", str(org.id), account=username
    )
    return org
