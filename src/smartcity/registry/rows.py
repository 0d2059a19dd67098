"""Per-row checks and the bulk insert fast paths of the registries (批量导入)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, cast

import orjson
from sqlalchemy import JSON, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import numdb

from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import (
    DIVISIONS,
    InvalidIdentifier,
    parse_division_code,
    parse_resident_id,
    parse_uscc,
)
from smartcity.core.models import Department
from smartcity.registry import records
from smartcity.registry.models import Organization, Person, Place, RecordVersion
from smartcity.registry.places import GridIndex
from smartcity.registry.sources import groups_of
from smartcity.registry.stewardship import department_code_of, require_source

BATCH_SIZE = 5000
# The attribute group whose source department may load a registry in bulk (一数一源).
IMPORT_GROUP = {"person": "identity", "organization": "registration", "place": "geography"}

PERSON_COLUMNS = (
    "id_number",
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "phone",
    "hukou_division_code",
    "residence_address",
    "residence_place_code",
    "residence_lon",
    "residence_lat",
    "status",
    "social_insurance_status",
)
PERSON_REQUIRED = ("id_number", "name")
ORGANIZATION_COLUMNS = (
    "uscc",
    "name",
    "org_type",
    "legal_representative_id_number",
    "registered_address",
    "registered_place_code",
    "industry",
    "established_on",
    "status",
)
ORGANIZATION_REQUIRED = ("uscc", "name", "org_type")
PERSON_STATUSES = ("living", "deceased", "moved_out")
ORGANIZATION_TYPES = ("enterprise", "public_institution", "social_organization", "government_body")
ORGANIZATION_STATUSES = ("active", "revoked", "cancelled")
# Mobiles, landlines with an area code and short service numbers, as registry.service has it.
PHONE = re.compile(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{3,6}")


class RowError(Exception):
    """A row that cannot be imported; the message is the reason in the rejects file."""


@lru_cache(maxsize=8192)
def division_known(code: str) -> bool:
    """Whether a six-digit code is a GB/T 2260 division stdnum knows (any year)."""
    if code in DIVISIONS:
        return True
    try:
        parse_division_code(code)
    except InvalidIdentifier:
        return False
    return any(len(part) == 4 and props for part, props in numdb.get("cn/loc").info(code))


def valid_phone(value: str) -> bool:
    return PHONE.fullmatch(value.replace(" ", "")) is not None


# --- rows --------------------------------------------------------------------------------


def _text(raw: Mapping[str, str], name: str, limit: int) -> str:
    value = (raw.get(name) or "").strip()
    if len(value) > limit:
        raise RowError(f"{name} is longer than {limit} characters")
    return value


def _coordinate(raw: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    value = (raw.get(name) or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{name} {value!r} is not a number") from None
    if not low <= number <= high:  # also false for NaN
        raise RowError(f"{name} {value} is outside {low} to {high} (WGS 84 degrees)")
    return number


def _iso_date(raw: Mapping[str, str], name: str) -> date | None:
    value = (raw.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


class PersonRows:
    """Checks person rows (人口库 columns) and turns them into column values."""

    def __init__(self, grids: GridIndex, today: date | None = None) -> None:
        self.grids = grids
        self.today = today or clock.to_city(clock.now()).date()

    def check(self, raw: Mapping[str, str]) -> dict[str, Any]:
        if any("\ufffd" in (v or "") for v in raw.values()):
            raise RowError("the row is not valid UTF-8")
        try:
            rid = parse_resident_id(raw.get("id_number") or "", today=self.today)
        except InvalidIdentifier as exc:
            raise RowError(f"id_number: {exc}") from None
        name = _text(raw, "name", 50)
        if not name:
            raise RowError("name is empty")
        sex = (raw.get("sex") or "").strip()
        if sex and sex != rid.sex:
            raise RowError(f"sex {sex!r} does not match the ID number ({rid.sex})")
        birth = _iso_date(raw, "birth_date")
        if birth is not None and birth != rid.birth_date:
            raise RowError(
                f"birth_date {birth.isoformat()} does not match the ID number "
                f"({rid.birth_date.isoformat()})"
            )
        phone = _text(raw, "phone", 20)
        if phone and not valid_phone(phone):
            raise RowError(f"phone {phone!r} is not a mobile or landline number")
        hukou = _text(raw, "hukou_division_code", 6) or rid.division_code
        if not division_known(hukou):
            raise RowError(f"hukou_division_code {hukou!r} is not a known GB/T 2260 division")
        status = (raw.get("status") or "").strip() or "living"
        if status not in PERSON_STATUSES:
            raise RowError(f"status {status!r} is not one of {', '.join(PERSON_STATUSES)}")
        lon = _coordinate(raw, "residence_lon", -180, 180)
        lat = _coordinate(raw, "residence_lat", -90, 90)
        if (lon is None) != (lat is None):
            raise RowError("give both residence_lon and residence_lat, or neither")
        place = (raw.get("residence_place_code") or "").strip() or None
        if place is not None and place not in self.grids.code_set:
            raise RowError(f"residence_place_code {place!r} is not a grid")
        if place is None and lon is not None and lat is not None:
            place = self.grids.locate(lon, lat)
        return {
            "id_number": rid.number,
            "name": name,
            "sex": rid.sex,
            "birth_date": rid.birth_date,
            "ethnicity": _text(raw, "ethnicity", 20),
            "phone": phone,
            "hukou_division_code": hukou,
            "residence_address": _text(raw, "residence_address", 200),
            "residence_place_code": place,
            "residence_lon": lon,
            "residence_lat": lat,
            "status": status,
            "social_insurance_status": _text(raw, "social_insurance_status", 16),
        }


class OrganizationRows:
    """Checks organization rows (法人库 columns); references are looked up per batch."""

    def __init__(self, today: date | None = None) -> None:
        self.today = today or clock.to_city(clock.now()).date()

    def check(self, raw: Mapping[str, str]) -> dict[str, Any]:
        if any("\ufffd" in (v or "") for v in raw.values()):
            raise RowError("the row is not valid UTF-8")
        try:
            uscc = parse_uscc(raw.get("uscc") or "").number
        except InvalidIdentifier as exc:
            raise RowError(f"uscc: {exc}") from None
        name = _text(raw, "name", 200)
        if not name:
            raise RowError("name is empty")
        org_type = (raw.get("org_type") or "").strip()
        if org_type not in ORGANIZATION_TYPES:
            raise RowError(f"org_type {org_type!r} is not one of {', '.join(ORGANIZATION_TYPES)}")
        representative = (raw.get("legal_representative_id_number") or "").strip().upper()
        if representative:
            try:
                representative = parse_resident_id(representative, today=self.today).number
            except InvalidIdentifier as exc:
                raise RowError(f"legal_representative_id_number: {exc}") from None
        established = _iso_date(raw, "established_on")
        if established is not None and established > self.today:
            raise RowError(f"established_on {established.isoformat()} is in the future")
        status = (raw.get("status") or "").strip() or "active"
        if status not in ORGANIZATION_STATUSES:
            raise RowError(f"status {status!r} is not one of {', '.join(ORGANIZATION_STATUSES)}")
        return {
            "uscc": uscc,
            "name": name,
            "org_type": org_type,
            "legal_representative_id_number": representative or None,
            "registered_address": _text(raw, "registered_address", 200),
            "registered_place_code": (raw.get("registered_place_code") or "").strip() or None,
            "industry": _text(raw, "industry", 100),
            "established_on": established,
            "status": status,
        }


# --- the fast insert path ----------------------------------------------------------------


@dataclass
class BatchOutcome:
    """What a batch did: how many went in, and (position, reason) of those that did not."""

    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def first_versions(
    record_type: str, rows: list[dict[str, Any]], *, source: str, actor: str, reason: str
) -> list[dict[str, Any]]:
    """Version 1 of each new record (its history's start), as rows for bulk_insert."""
    return [
        {
            "record_type": record_type,
            "record_id": row["id"],
            "version": 1,
            "valid_from": row["created_at"],
            "valid_to": None,
            # snapshot() reads attributes, so a namespace over the row gives exactly what a
            # version of an ORM-created record stores.
            "data": records.snapshot(record_type, cast(Any, SimpleNamespace(**row))),
            "changes": {},
            "attribute_group": "import",
            "source_department_code": source,
            "actor": actor[:100],
            "reason": reason[:200],
        }
        for row in rows
    ]


async def bulk_insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows at once: COPY on PostgreSQL, one executemany elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        # COPY is several times faster than multi-row INSERTs; it runs on the session's own
        # connection, so it is inside the batch's transaction. It bypasses SQLAlchemy's type
        # processing: JSON goes as text, everything else as asyncpg's native types.
        json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
        columns = list(rows[0])
        values = [
            tuple(orjson.dumps(row[c]).decode() if c in json_columns else row[c] for c in columns)
            for row in rows
        ]
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(table.name, records=values, columns=columns)
        return
    await session.execute(insert(table), rows)


async def _existing(session: AsyncSession, column: Any, values: Iterable[str]) -> set[str]:
    wanted = list(set(values))
    found: set[str] = set()
    # Chunks stay under every driver's bound-parameter limit.
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        found.update((await session.execute(select(column).where(column.in_(chunk)))).scalars())
    return found


async def _insert_person_batch(
    session: AsyncSession,
    checker: PersonRows,
    raws: Sequence[Mapping[str, str]],
    *,
    source: str,
    actor: str,
    reason: str,
) -> BatchOutcome:
    outcome = BatchOutcome()
    checked: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for position, raw in enumerate(raws):
        try:
            row = checker.check(raw)
        except RowError as exc:
            outcome.rejected.append((position, str(exc)))
            continue
        if row["id_number"] in seen:
            outcome.rejected.append((position, "duplicate: the ID number is twice in this file"))
            continue
        seen.add(row["id_number"])
        checked.append((position, row))
    taken = await _existing(session, Person.id_number, seen)
    now = clock.now()
    persons = []
    for position, row in checked:
        if row["id_number"] in taken:
            outcome.rejected.append((position, "duplicate: a person with this ID number exists"))
            continue
        row.update(id=uuid.uuid4(), account_id=None, version=1, created_at=now, updated_at=now)
        persons.append(row)
    await bulk_insert(session, cast(Table, Person.__table__), persons)
    versions = first_versions("person", persons, source=source, actor=actor, reason=reason)
    await bulk_insert(session, cast(Table, RecordVersion.__table__), versions)
    outcome.accepted = len(persons)
    outcome.rejected.sort()
    return outcome


async def _insert_organization_batch(
    session: AsyncSession,
    checker: OrganizationRows,
    raws: Sequence[Mapping[str, str]],
    *,
    source: str,
    actor: str,
    reason: str,
) -> BatchOutcome:
    outcome = BatchOutcome()
    checked: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for position, raw in enumerate(raws):
        try:
            row = checker.check(raw)
        except RowError as exc:
            outcome.rejected.append((position, str(exc)))
            continue
        if row["uscc"] in seen:
            outcome.rejected.append((position, "duplicate: the credit code is twice in this file"))
            continue
        seen.add(row["uscc"])
        checked.append((position, row))
    taken = await _existing(session, Organization.uscc, seen)
    wanted = {r["legal_representative_id_number"] for _, r in checked} - {None}
    people: dict[str, uuid.UUID] = {}
    for start in range(0, len(wanted), 5000):
        chunk = sorted(cast(set[str], wanted))[start : start + 5000]
        query = select(Person.id_number, Person.id).where(Person.id_number.in_(chunk))
        people.update({n: i for n, i in (await session.execute(query)).all()})
    places = await _existing(
        session,
        Place.code,
        [r["registered_place_code"] for _, r in checked if r["registered_place_code"]],
    )
    now = clock.now()
    organizations = []
    for position, row in checked:
        number = row.pop("legal_representative_id_number")
        if row["uscc"] in taken:
            outcome.rejected.append((position, "duplicate: an organization with this code exists"))
            continue
        if number is not None and number not in people:
            outcome.rejected.append(
                (position, "legal_representative_id_number names no person in the registry")
            )
            continue
        if row["registered_place_code"] and row["registered_place_code"] not in places:
            outcome.rejected.append(
                (position, f"registered_place_code {row['registered_place_code']!r} is no place")
            )
            continue
        row.update(
            id=uuid.uuid4(),
            legal_representative_id=people.get(number) if number else None,
            version=1,
            created_at=now,
            updated_at=now,
        )
        organizations.append(row)
    await bulk_insert(session, cast(Table, Organization.__table__), organizations)
    versions = first_versions(
        "organization", organizations, source=source, actor=actor, reason=reason
    )
    await bulk_insert(session, cast(Table, RecordVersion.__table__), versions)
    outcome.accepted = len(organizations)
    outcome.rejected.sort()
    return outcome


async def _import_department(
    session: AsyncSession, principal: Principal, record_type: str, department_code: str | None
) -> str:
    """The department the records are attributed to: the caller's, who must be the source
    (一数一源); an administrator (the CLI) names it, by default the source itself."""
    authorize(principal, "registry.import.run")
    group = next(g for g in groups_of(record_type) if g.name == IMPORT_GROUP[record_type])
    await require_source(session, principal, [group])
    source = group.department_code
    if principal.is_("admin"):
        code = department_code or source
        query = select(Department.code).where(Department.code == code)
        if (await session.execute(query)).scalar_one_or_none() is None:
            raise InvalidInput(
                _("There is no department with code {code}.").format(code=code),
                field="department",
            )
        return code
    own = await department_code_of(session, principal)
    if department_code and department_code != own:
        raise Forbidden(
            _("You import for your own department ({own}), not {other}.").format(
                own=own, other=department_code
            )
        )
    return source


async def insert_persons(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[Mapping[str, str]],
    *,
    department_code: str | None = None,
    reason: str = "",
    grids: GridIndex | None = None,
) -> BatchOutcome:
    """The fast path: check and insert persons (and their first versions) in one go, for
    callers that hold many rows, such as the demo; rows use the CSV columns as strings."""
    source = await _import_department(session, principal, "person", department_code)
    checker = PersonRows(grids if grids is not None else await GridIndex.load(session))
    return await _insert_person_batch(
        session, checker, rows, source=source, actor=principal.name, reason=reason
    )


async def insert_organizations(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[Mapping[str, str]],
    *,
    department_code: str | None = None,
    reason: str = "",
) -> BatchOutcome:
    """The fast path for organizations (legal representatives named by ID number)."""
    source = await _import_department(session, principal, "organization", department_code)
    return await _insert_organization_batch(
        session, OrganizationRows(), rows, source=source, actor=principal.name, reason=reason
    )
