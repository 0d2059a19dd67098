"""What other modules may use of the base registries (城市数字资源中心, 基础库): resolve a
place, read a person or an organization under the registry's rules, the sources of fields
(一数一源); plain functions and frozen data types, no tables. Every other import of
``smartcity.registry`` from outside it is refused by import-linter
(tests/architecture/contracts.py). Sections say who uses what."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.registry import organizations as _organizations
from smartcity.registry import places as _places
from smartcity.registry import service as _persons

# --- what the demo uses ---
# The demo city seeds the registries once (places, persons, organizations, quality issues;
# seed_demo answers how many with a describe()), links its citizen and enterprise accounts
# to records of them, and places its devices inside the districts' boxes.
from smartcity.registry.demo import DISTRICT_BOXES as DISTRICT_BOXES
from smartcity.registry.demo import link_demo_citizen as link_demo_citizen
from smartcity.registry.demo import seed_demo as seed_demo

# --- what the exchange uses ---
# The exchange grants departments fields of the registries: it declares a FieldGrants in its
# MODULE.extends (the registry never queries the exchange's tables), reads records under a
# grant with exchange_read (unmasked, exactly the granted fields; reads of persons land in
# their access log), pages public records for open data with record_batch, describes a
# resource's fields with data_fields, column_type and PERSONAL_FIELDS, and fans changes out
# to its subscriptions from the RECORD_CHANGED topics.
from smartcity.registry.events import RECORD_CHANGED as RECORD_CHANGED
from smartcity.registry.events import RECORD_CHANGED_PATTERN as RECORD_CHANGED_PATTERN
from smartcity.registry.events import RecordChanged as RecordChanged
from smartcity.registry.models import Person, Place
from smartcity.registry.records import (
    PERSONAL_FIELDS,
    column_type,
    data_fields,
    mask_id_number,
    mask_phone,
    snapshot,
)

# --- what self-registration uses ---
# core.registration asks through a PersonRegistry declaration (the registry's MODULE.extends):
# does this name match this ID number (yes/no), has the number an account, link the account;
# enterprise registration through an EnterpriseRegistry: is the signed-in person the legal
# representative of this code and name (an outcome), link the enterprise account.
from smartcity.registry.registration import (
    check_enterprise_representative as check_enterprise_representative,
)
from smartcity.registry.registration import id_number_has_account as id_number_has_account
from smartcity.registry.registration import link_enterprise_account as link_enterprise_account
from smartcity.registry.registration import link_registered_account as link_registered_account
from smartcity.registry.registration import match_unlinked_person as match_unlinked_person
from smartcity.registry.service import FieldGrants, exchange_read, log_reads, record_batch

# Every read of a person's data outside the registry's own pages and API is logged with
# log_reads, once per reader, purpose and case a city day (repeats fold into that row): the
# service hall's prefill (as a Reader, the system reading for the applicant), an officer
# opening an application with the applicant's data, the exchange's reads (naming the grant).
from smartcity.registry.service import Reader as Reader
from smartcity.registry.sources import source_of
from smartcity.registry.stewardship import (
    department_labels,
    department_names,
    department_names_en,
)
from smartcity.registry.validation import check_resident_id, code_label
from smartcity.registry.validation import label as field_label

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


async def person_of_account(session: AsyncSession, account_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the person record a citizen account is linked to, if any: whose access log
    a read of that applicant's data belongs in. Reading the id is not logged."""
    person = await _persons.my_person(session, Principal(id=account_id, kind="citizen", name=""))
    return person.id if person is not None else None


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


# --- what the sensing engine and the environment use ---


@dataclass(frozen=True)
class PlaceOutline:
    """The outline of a Place (地点): its code, the district it lies in and its GeoJSON."""

    code: str
    district_code: str
    geometry: Any


async def outline_versions(
    session: AsyncSession, kinds: Sequence[str]
) -> tuple[tuple[str, int, str], ...]:
    """Per kind of Place that has outlines: (kind, how many, when one last changed), sorted.
    Changes whenever an outline of those kinds is added, removed or edited, so a reader can
    keep what it drew from them until then. Outlines are public geography (no personal
    data)."""
    rows = await session.execute(
        select(Place.kind, func.count(), func.max(Place.updated_at))
        .where(Place.kind.in_(list(kinds)), Place.geometry.is_not(None))
        .group_by(Place.kind)
    )
    return tuple(sorted((str(k), int(n), str(t)) for k, n, t in rows.all()))


async def place_outlines(session: AsyncSession, kind: str) -> list[PlaceOutline]:
    """The outlines of the Places of one kind (``district``, ``street``…) that have one."""
    rows = await session.execute(
        select(Place.code, Place.district_code, Place.geometry).where(
            Place.kind == kind, Place.geometry.is_not(None)
        )
    )
    return [
        PlaceOutline(code=str(code), district_code=str(district), geometry=geometry)
        for code, district, geometry in rows.all()
    ]


# --- what the sensing pages use ---


@dataclass(frozen=True)
class PlaceArea:
    """A Place with its outline and bounding box, as a map draws it."""

    code: str
    name: str
    district_code: str
    geometry: Any
    min_lon: float | None
    min_lat: float | None
    max_lon: float | None
    max_lat: float | None


async def areas(
    session: AsyncSession, principal: Principal, kinds: Sequence[str]
) -> list[PlaceArea]:
    """The Places of these kinds (``district``, ``street``…) in the city that the caller may
    read (a Problem when they may read none), ordered by code."""
    found = await _places.district_places(session, principal, None, kinds=kinds)
    return [
        PlaceArea(
            code=p.code,
            name=p.name,
            district_code=p.district_code,
            geometry=p.geometry,
            min_lon=p.min_lon,
            min_lat=p.min_lat,
            max_lon=p.max_lon,
            max_lat=p.max_lat,
        )
        for p in found
    ]


# --- what the 12345 hotline uses ---


@dataclass(frozen=True)
class Caller:
    """A caller found in the population registry by ID number or phone: who they are and
    the account their messages go to (the read is logged by the caller of find_caller)."""

    person_id: uuid.UUID
    name: str
    phone: str
    id_number_masked: str
    account_id: uuid.UUID | None


async def find_caller(
    session: AsyncSession, *, id_number: str = "", phone: str = ""
) -> Caller | None:
    """The living person with this ID number, else the one with this phone (the first if
    several share it), or None. The hotline logs the read with the order's number."""

    query = select(Person).where(Person.status == "living")
    if id_number:
        query = query.where(Person.id_number == id_number.strip().upper())
    elif phone:
        query = query.where(Person.phone == phone.strip()).order_by(Person.id_number).limit(1)
    else:
        return None
    person = (await session.execute(query)).scalars().first()
    if person is None:
        return None
    return Caller(
        person.id, person.name, person.phone, mask_id_number(person.id_number), person.account_id
    )


__all__ = [
    "DISTRICT_BOXES",
    "PERSONAL_FIELDS",
    "RECORD_CHANGED",
    "RECORD_CHANGED_PATTERN",
    "AccountHolder",
    "Caller",
    "FieldGrants",
    "OwnRecord",
    "PlaceArea",
    "PlaceOutline",
    "Reader",
    "RecordChanged",
    "account_holder",
    "areas",
    "check_resident_id",
    "code_label",
    "column_type",
    "data_fields",
    "department_labels",
    "department_names",
    "department_names_en",
    "exchange_read",
    "field_label",
    "find_caller",
    "link_demo_citizen",
    "log_reads",
    "mask_phone",
    "outline_versions",
    "own_record",
    "person_of_account",
    "place_outlines",
    "record_batch",
    "seed_demo",
    "source_of",
]
