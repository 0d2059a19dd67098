"""What a domain may use of the registries (基础库): resolve a place, read a person or an
organization under the registry's rules, the sources of fields (一数一源). Domains import
the registries only from here (import-linter checks it)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.registry import organizations as _organizations
from smartcity.registry import service as _persons
from smartcity.registry.records import PERSONAL_FIELDS, mask_id_number, snapshot
from smartcity.registry.service import log_reads
from smartcity.registry.sources import source_of
from smartcity.registry.stewardship import department_names
from smartcity.registry.validation import check_resident_id

# --- what the service hall uses ---


@dataclass(frozen=True)
class OwnRecord:
    """The registry record an applicant's account is linked to, as the applicant may see it:
    a person masked for them (the read is not logged here; the caller logs what it uses) or
    an organization's registered data."""

    record_type: str  # person, organization
    record_id: uuid.UUID
    values: Mapping[str, Any]


async def own_record(session: AsyncSession, principal: Principal) -> OwnRecord | None:
    """An enterprise's organization, anyone else's person record, if the account is linked."""
    if principal.kind == "enterprise":
        org = await _organizations.my_organization(session, principal)
        if org is None:
            return None
        return OwnRecord("organization", org.id, snapshot("organization", org))
    person = await _persons.my_person(session, principal)
    if person is None:
        return None
    view = await _persons.present_person(session, principal, person)
    return OwnRecord("person", person.id, view.data)


@dataclass(frozen=True)
class AccountHolder:
    """Who an account is in the registries, as a document issued to them names them: a
    person with the ID number masked, or an organization with its USCC."""

    name: str
    identifier_type: str  # resident_id, uscc
    identifier: str


async def account_holder(session: AsyncSession, account_id: uuid.UUID) -> AccountHolder | None:
    """The person, else the organization, whose record the account is linked to: what the
    holder themself would read as their own record (so the registry's rules decide)."""
    person = await _persons.my_person(session, Principal(id=account_id, kind="citizen", name=""))
    if person is not None:
        return AccountHolder(person.name, "resident_id", mask_id_number(person.id_number))
    org = await _organizations.my_organization(
        session, Principal(id=account_id, kind="enterprise", name="")
    )
    if org is not None:
        return AccountHolder(org.name, "uscc", org.uscc)
    return None


__all__ = [
    "PERSONAL_FIELDS",
    "AccountHolder",
    "OwnRecord",
    "account_holder",
    "check_resident_id",
    "department_names",
    "log_reads",
    "own_record",
    "source_of",
]
