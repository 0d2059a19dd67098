"""Persons (人口库) and organizations (法人库): validation, 一数一源 source checks, full
history with "as of" reads, masking of personal data and the access log of every read."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, false, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import numdb

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize, register_actions
from smartcity.core.bus import emit
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import (
    InvalidIdentifier,
    ResidentId,
    district_of,
    parse_division_code,
    parse_resident_id,
    parse_uscc,
)
from smartcity.core.models import Account, Department
from smartcity.exchange.models import Grant, Resource
from smartcity.registry import records
from smartcity.registry.models import AccessLog, Organization, Person, Place, RecordVersion
from smartcity.registry.records import PERSONAL_FIELDS, data_fields, mask_person, snapshot
from smartcity.registry.schemas import OrganizationCreate, PersonCreate
from smartcity.registry.sources import AttributeGroup, group_of_field, groups_of

# Department people read everything (masked); citizens read only their own record.
READERS = frozenset({"staff", "supervisor", "admin", "system"})
# Who may write at all; the 一数一源 source check then narrows it to the source department.
WRITERS = frozenset({"staff", "system", "admin"})
ACTIONS: dict[str, frozenset[str]] = {
    "registry.person.create": WRITERS,
    "registry.person.update": WRITERS,
    "registry.person.read": READERS | {"citizen"},
    "registry.person.link_account": frozenset({"staff", "admin"}),
    "registry.organization.create": WRITERS,
    "registry.organization.update": WRITERS,
    "registry.organization.read": READERS,
}
register_actions(ACTIONS)

PERSON_STATUSES = ("living", "deceased", "moved_out")
SOCIAL_INSURANCE_STATUSES = ("", "insured", "suspended", "terminated")
ORGANIZATION_TYPES = ("enterprise", "public_institution", "social_organization", "government_body")
ORGANIZATION_STATUSES = ("active", "revoked", "cancelled")
MAX_PAGE = 200
# Stored in the access log and shown to the person: Chinese, as the citizen reads it.
PURPOSE_SEARCH = "查询"
PURPOSE_VIEW = "查看"
PURPOSE_MY_DATA = "本人查看"
# The legal representative is named by ID number in input, stored as a person id.
LEGAL_REPRESENTATIVE_NUMBER = "legal_representative_id_number"

# Names of fields as people read them, for forms, pages and error messages.
FIELD_LABELS = {
    "id_number": N_("ID number"),
    "name": N_("Full name"),
    "sex": N_("Sex"),
    "birth_date": N_("Date of birth"),
    "ethnicity": N_("Ethnicity"),
    "phone": N_("Phone"),
    "hukou_division_code": N_("Household registration (hukou)"),
    "residence_address": N_("Residence address"),
    "residence_place_code": N_("Residence grid"),
    "residence_lon": N_("Residence longitude"),
    "residence_lat": N_("Residence latitude"),
    "status": N_("Status"),
    "social_insurance_status": N_("Social insurance"),
    "uscc": N_("Unified social credit code"),
    "org_type": N_("Type"),
    "legal_representative_id": N_("Legal representative"),
    "legal_representative_id_number": N_("Legal representative's ID number"),
    "registered_address": N_("Registered address"),
    "registered_place_code": N_("Registered grid"),
    "industry": N_("Industry"),
    "established_on": N_("Established on"),
}
_PHONE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{3,6})$")
_DEPARTMENT_CODES: dict[uuid.UUID, str] = {}


@dataclass(frozen=True)
class PersonView:
    """A person as one caller may see them: ``data`` has personal fields masked."""

    id: uuid.UUID
    version: int
    data: dict[str, Any]
    visible: frozenset[str]
    masked: frozenset[str]
    as_of: datetime | None = None


@dataclass(frozen=True)
class OrganizationView:
    id: uuid.UUID
    version: int
    data: dict[str, Any]
    legal_representative_name: str | None = None
    as_of: datetime | None = None


@dataclass(frozen=True)
class VersionView:
    """One version in a record's history (变更记录), personal values masked as in the record."""

    version: int
    valid_from: datetime
    valid_to: datetime | None
    attribute_group: str
    group_titles: list[str]
    source_department_code: str
    source_department_name: str
    actor: str
    reason: str
    changes: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class AccessEntry:
    """One read of a person's record as the person sees it (个人信息访问记录)."""

    at: datetime
    department_code: str
    department_name: str
    actor_kind: str
    purpose: str
    via: str
    fields: list[str]
    case_number: str


# --- departments and the 一数一源 source check -------------------------------------------


async def department_code_of(session: AsyncSession, principal: Principal) -> str:
    """The code of the principal's department, or "" (department codes never change)."""
    if principal.department_id is None:
        return ""
    code = _DEPARTMENT_CODES.get(principal.department_id)
    if code is None:
        code = (
            await session.execute(
                select(Department.code).where(Department.id == principal.department_id)
            )
        ).scalar_one_or_none() or ""
        if code:
            _DEPARTMENT_CODES[principal.department_id] = code
    return code


async def department_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """Chinese names of departments by code; an unknown code names itself."""
    wanted = {c for c in codes if c}
    names = {c: c for c in wanted}
    if wanted:
        rows = await session.execute(
            select(Department.code, Department.name).where(Department.code.in_(wanted))
        )
        names.update({code: name for code, name in rows.all()})
    return names


async def require_source(
    session: AsyncSession, principal: Principal, groups: Iterable[AttributeGroup]
) -> None:
    """一数一源: only the source department of each group (or an admin) may write it; the
    403 names the source so the caller knows whom to ask."""
    if principal.is_("admin"):
        return
    code = await department_code_of(session, principal)
    for group in groups:
        if group.department_code != code:
            names = await department_names(session, [group.department_code])
            department = names[group.department_code]
            raise Forbidden(
                _(
                    "{group} is kept by its source department, {department}; only {department} "
                    "may change it (one source for each item of data)."
                ).format(group=group.title, department=department),
                source_department=group.department_code,
                source_department_name=department,
                attribute_group=group.name,
            )


async def groups_kept_by(session: AsyncSession, principal: Principal, record_type: str) -> set[str]:
    """Names of the attribute groups the principal's department is the source of (and so
    may change, if the principal is its staff or system account)."""
    if not principal.is_("staff", "system"):
        return set()
    code = await department_code_of(session, principal)
    return {g.name for g in groups_of(record_type) if code and g.department_code == code}


def _groups_of_fields(record_type: str, names: Iterable[str]) -> list[AttributeGroup]:
    wanted = {group_of_field(record_type, name).name for name in names}
    return [g for g in groups_of(record_type) if g.name in wanted]


def _one_source(groups: Sequence[AttributeGroup]) -> None:
    if len({g.department_code for g in groups}) > 1:
        raise InvalidInput(
            _(
                "These fields come from different source departments ({groups}); change each "
                "department's fields in a separate update."
            ).format(groups=", ".join(g.title for g in groups)),
            field="fields",
        )


# --- validation --------------------------------------------------------------------------


def label(name: str) -> str:
    """A field's name as people read it, in the current language."""
    return _(FIELD_LABELS[name]) if name in FIELD_LABELS else name


def _text(
    value: Any, name: str, max_length: int, *, required: bool = False, shown: str = ""
) -> str:
    shown = shown or label(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(_("{field} must be text.").format(field=shown), field=name)
    text = value.strip()
    if required and not text:
        raise InvalidInput(_("Enter the {field}.").format(field=shown), field=name)
    if len(text) > max_length:
        raise InvalidInput(
            _("{field} may be at most {n} characters.").format(field=shown, n=max_length),
            field=name,
        )
    return text


def _choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InvalidInput(
            _("{field} must be one of: {allowed}.").format(
                field=label(name), allowed=", ".join(a or '""' for a in allowed)
            ),
            field=name,
        )
    return str(value)


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(
            _("{field} must be a date like 2024-05-31.").format(field=label(name)), field=name
        ) from None


def _coordinate(value: Any, name: str, bound: float) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            _("{field} must be a number.").format(field=label(name)), field=name
        ) from None
    if not -bound <= number <= bound:
        raise InvalidInput(
            _("{field} must be between -{bound} and {bound}.").format(
                field=label(name), bound=bound
            ),
            field=name,
        )
    return number


_IDENTIFIER_RULES = {
    "length": N_("it must be 18 characters long"),
    "checksum": N_("the check character (the last one) is wrong; look for a typing error"),
    "org_checksum": N_(
        "the organization code inside it (characters 9 to 17) has a wrong check character"
    ),
    "birth_date": N_("the birth date in it is impossible or in the future"),
    "division": N_("the division code in it is not a known one"),
    "authority": N_("the registration authority (the first character) is unknown"),
}
_FORMAT_RULES = {
    "id_number": N_("it may contain only digits, with X allowed as the last character"),
    "uscc": N_("it may contain only digits and capital letters other than I, O, S, V and Z"),
}


_DIVISION_RULES = {
    "length": N_("it must be six digits"),
    "format": N_("it may contain only the digits 0-9"),
    "division": N_("its first two digits are not a province code"),
}


def _identifier_problem(message: str, exc: InvalidIdentifier, name: str, kind: str) -> InvalidInput:
    rule = _FORMAT_RULES[kind] if exc.code == "format" else _IDENTIFIER_RULES[exc.code]
    # The translated reason for people; the validator's own words for integrators.
    return InvalidInput(
        message.format(reason=_(rule)), field=name, rule=exc.code, explanation=str(exc)
    )


def check_resident_id(value: Any, name: str = "id_number") -> ResidentId:
    """Parse a 公民身份号码 or raise InvalidInput naming the field and the broken rule."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(_("Enter the resident ID number."), field=name)
    try:
        return parse_resident_id(value)
    except InvalidIdentifier as exc:
        raise _identifier_problem(
            _("The resident ID number is not valid: {reason}."), exc, name, "id_number"
        ) from None


def check_uscc(value: Any, name: str = "uscc") -> str:
    """Parse a 统一社会信用代码 or raise InvalidInput; returns the normalised code."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(_("Enter the unified social credit code."), field=name)
    try:
        return parse_uscc(value).number
    except InvalidIdentifier as exc:
        raise _identifier_problem(
            _("The unified social credit code is not valid: {reason}."), exc, name, "uscc"
        ) from None


def check_division_code(value: Any, name: str = "hukou_division_code") -> str:
    """A six-digit GB/T 2260 code that the standard knows (户籍地), or "" for none."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise InvalidInput(_("The division code must be six digits."), field=name)
    try:
        code = parse_division_code(value).code
    except InvalidIdentifier as exc:
        reason = _DIVISION_RULES.get(exc.code, _DIVISION_RULES["division"])
        raise InvalidInput(
            _("The division code is not valid: {reason}.").format(reason=_(reason)),
            field=name,
            rule=exc.code,
            explanation=str(exc),
        ) from None
    # parse_division_code checks the shape and province; the code itself must be one
    # GB/T 2260 has (stdnum's table of county-level codes and their years of use).
    known = any(
        "county" in props for part, props in numdb.get("cn/loc").info(code) if len(part) == 4
    )
    if not known:
        raise InvalidInput(
            _("{code} is not a GB/T 2260 division code.").format(code=code), field=name
        )
    return code


def check_district(value: str) -> str:
    """A district to search in: a Shenzhen district code (also 4403DP) or a GB/T 2260 code."""
    code = "".join(value.split()).upper()
    if district_of(code) is not None:
        return code
    return check_division_code(code, "district")


def _phone(value: Any) -> str:
    phone = _text(value, "phone", 20).replace(" ", "")
    if phone and not _PHONE.match(phone):
        raise InvalidInput(
            _("The phone number is not valid: use 11 digits for a mobile, or 0755-12345678."),
            field="phone",
        )
    return phone


def clean_person_fields(
    values: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Validate and normalise person fields (for a new person when ``current`` is None).
    Sex and birth date always follow the ID number; a different value given is an error."""
    known = set(data_fields("person"))
    for name in values:
        if name not in known:
            raise InvalidInput(_("Unknown field {field}.").format(field=label(name)), field=name)
    out: dict[str, Any] = {}
    sex: str
    birth: date | None
    if "id_number" in values or current is None:
        resident = check_resident_id(values.get("id_number"))
        out["id_number"] = resident.number
        sex, birth = resident.sex, resident.birth_date
        out["sex"], out["birth_date"] = sex, birth
    else:
        sex, birth = str(current["sex"]), _date(current["birth_date"], "birth_date")
    if values.get("sex") not in (None, "") and values["sex"] != sex:
        raise InvalidInput(
            _("The sex does not match the ID number, which says {sex}.").format(sex=_(sex)),
            field="sex",
        )
    given_birth = _date(values.get("birth_date"), "birth_date")
    if given_birth is not None and given_birth != birth:
        raise InvalidInput(
            _("The birth date does not match the ID number, which says {date}.").format(
                date=birth.isoformat() if birth else ""
            ),
            field="birth_date",
        )
    if "name" in values:
        out["name"] = _text(values["name"], "name", 50, required=True)
    if "ethnicity" in values:
        out["ethnicity"] = _text(values["ethnicity"], "ethnicity", 20)
    if "phone" in values:
        out["phone"] = _phone(values["phone"])
    if "hukou_division_code" in values:
        out["hukou_division_code"] = check_division_code(values["hukou_division_code"])
    if "residence_address" in values:
        out["residence_address"] = _text(values["residence_address"], "residence_address", 200)
    if "residence_place_code" in values:
        code = _text(values["residence_place_code"], "residence_place_code", 32)
        out["residence_place_code"] = code or None
    if "residence_lon" in values:
        out["residence_lon"] = _coordinate(values["residence_lon"], "residence_lon", 180)
    if "residence_lat" in values:
        out["residence_lat"] = _coordinate(values["residence_lat"], "residence_lat", 90)
    if "status" in values:
        out["status"] = _choice(values["status"], "status", PERSON_STATUSES)
    if "social_insurance_status" in values:
        out["social_insurance_status"] = _choice(
            values["social_insurance_status"] or "",
            "social_insurance_status",
            SOCIAL_INSURANCE_STATUSES,
        )
    return out


async def _require_place(session: AsyncSession, code: str | None, name: str) -> None:
    if not code:
        return
    found = (await session.execute(select(Place.id).where(Place.code == code))).first()
    if found is None:
        raise InvalidInput(
            _("There is no place with code {code} in the geospatial registry.").format(code=code),
            field=name,
        )


def clean_organization_fields(values: Mapping[str, Any], *, new: bool = False) -> dict[str, Any]:
    """Validate and normalise organization fields; the legal representative stays an ID
    number here (``legal_representative_id_number``) and is resolved against the persons."""
    known = {*data_fields("organization"), LEGAL_REPRESENTATIVE_NUMBER}
    for name in values:
        if name not in known:
            raise InvalidInput(_("Unknown field {field}.").format(field=label(name)), field=name)
    out: dict[str, Any] = {}
    if "uscc" in values or new:
        out["uscc"] = check_uscc(values.get("uscc"))
    if "name" in values or new:
        out["name"] = _text(values.get("name"), "name", 200, required=True, shown=_("Name"))
    if "org_type" in values or new:
        out["org_type"] = _choice(values.get("org_type"), "org_type", ORGANIZATION_TYPES)
    if values.get(LEGAL_REPRESENTATIVE_NUMBER) not in (None, ""):
        out[LEGAL_REPRESENTATIVE_NUMBER] = check_resident_id(
            values[LEGAL_REPRESENTATIVE_NUMBER], LEGAL_REPRESENTATIVE_NUMBER
        ).number
    if "legal_representative_id" in values:
        raw = values["legal_representative_id"]
        try:
            out["legal_representative_id"] = uuid.UUID(str(raw)) if raw else None
        except ValueError:
            raise InvalidInput(
                _("legal_representative_id must be a person id."),
                field="legal_representative_id",
            ) from None
    if "registered_address" in values:
        out["registered_address"] = _text(values["registered_address"], "registered_address", 200)
    if "registered_place_code" in values:
        code = _text(values["registered_place_code"], "registered_place_code", 32)
        out["registered_place_code"] = code or None
    if "industry" in values:
        out["industry"] = _text(values["industry"], "industry", 100)
    if "established_on" in values:
        established = _date(values["established_on"], "established_on")
        if established is not None and established > clock.to_city(clock.now()).date():
            raise InvalidInput(
                _("The establishment date cannot be in the future."), field="established_on"
            )
        out["established_on"] = established
    if "status" in values or new:
        out["status"] = _choice(values.get("status", "active"), "status", ORGANIZATION_STATUSES)
    return out


# --- history (变更记录) ----------------------------------------------------------------------


async def write_version(
    session: AsyncSession,
    principal: Principal,
    record_type: str,
    record: records.RecordModel,
    *,
    changes: dict[str, list[Any]],
    attribute_group: str,
    source_department_code: str,
    reason: str = "",
) -> RecordVersion:
    """Close the record's open version and open a new one holding its current data."""
    now = clock.now()
    await session.execute(
        update(RecordVersion)
        .where(
            RecordVersion.record_type == record_type,
            RecordVersion.record_id == record.id,
            RecordVersion.valid_to.is_(None),
        )
        .values(valid_to=now)
    )
    version = RecordVersion(
        record_type=record_type,
        record_id=record.id,
        version=record.version,
        valid_from=now,
        valid_to=None,
        data=snapshot(record_type, record),
        changes=changes,
        attribute_group=attribute_group,
        source_department_code=source_department_code,
        actor=principal.name[:100],
        reason=reason[:200],
    )
    session.add(version)
    return version


async def version_as_of(
    session: AsyncSession, record_type: str, record_id: uuid.UUID, at: datetime
) -> RecordVersion | None:
    """The version of a record that was valid at the instant ``at``, if it existed then."""
    query = (
        select(RecordVersion)
        .where(
            RecordVersion.record_type == record_type,
            RecordVersion.record_id == record_id,
            RecordVersion.valid_from <= at,
            or_(RecordVersion.valid_to.is_(None), RecordVersion.valid_to > at),
        )
        .order_by(RecordVersion.version.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _versions(
    session: AsyncSession, record_type: str, record_id: uuid.UUID
) -> list[RecordVersion]:
    query = (
        select(RecordVersion)
        .where(RecordVersion.record_type == record_type, RecordVersion.record_id == record_id)
        .order_by(RecordVersion.version.desc(), RecordVersion.id.desc())
    )
    return list((await session.execute(query)).scalars().all())


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


async def _version_views(
    session: AsyncSession, rows: Sequence[RecordVersion], visible: frozenset[str] | None
) -> list[VersionView]:
    """History rows for people; ``visible`` None means nothing is masked (organizations)."""
    names = await department_names(session, {r.source_department_code for r in rows})
    views = []
    for row in rows:
        group_names = [g for g in row.attribute_group.split(",") if g]
        titles = [g.title for g in groups_of(row.record_type) if g.name in group_names]
        changes = row.changes or {}
        if visible is not None:
            old = mask_person({k: v[0] for k, v in changes.items()}, visible)
            new = mask_person({k: v[1] for k, v in changes.items()}, visible)
            changes = {k: [old[k], new[k]] for k in changes}
        views.append(
            VersionView(
                version=row.version,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                attribute_group=row.attribute_group,
                group_titles=titles,
                source_department_code=row.source_department_code,
                source_department_name=names.get(row.source_department_code, ""),
                actor=row.actor,
                reason=row.reason,
                changes=changes,
            )
        )
    return views


# --- persons: reading, masking and the access log ------------------------------------------


def readable_persons(principal: Principal) -> Select[Person]:
    """Department people read every person (masked); a citizen only their own record."""
    query = select(Person)
    if principal.is_(*READERS):
        return query
    if principal.kind == "citizen" and principal.id is not None:
        return query.where(Person.account_id == principal.id)
    return query.where(false())


async def _granted_person_fields(session: AsyncSession, department_id: uuid.UUID) -> set[str]:
    """Fields of persons named by the department's approved, live exchange grants (共享授权)."""
    now = clock.now()
    rows = await session.execute(
        select(Grant.granted_fields)
        .join(Resource, Resource.id == Grant.resource_id)
        .where(
            Grant.consumer_department_id == department_id,
            Grant.status == "approved",
            Grant.revoked_at.is_(None),
            or_(Grant.expires_at.is_(None), Grant.expires_at > now),
            Resource.source_registry == "person",
            Resource.active.is_(True),
        )
    )
    granted: set[str] = set()
    for fields in rows.scalars():
        granted.update(fields or ())
    return granted & set(data_fields("person"))


async def _department_visible(session: AsyncSession, principal: Principal) -> set[str]:
    # Admins are deliberately not here: administering the platform is no reason to read
    # anyone's personal data (least privilege).
    if not principal.is_("staff", "supervisor", "system") or principal.department_id is None:
        return set()
    code = await department_code_of(session, principal)
    visible = {f for g in groups_of("person") if g.department_code == code for f in g.fields}
    return visible | await _granted_person_fields(session, principal.department_id)


def _own(principal: Principal, person: Person) -> bool:
    return (
        principal.kind == "citizen"
        and principal.id is not None
        and person.account_id == principal.id
    )


async def visible_fields(session: AsyncSession, principal: Principal, person: Person) -> set[str]:
    """The person's fields this caller sees unmasked: all of them on their own record; the
    fields of groups their department is the source of; fields an exchange grant names."""
    if _own(principal, person):
        return set(data_fields("person"))
    return await _department_visible(session, principal)


def _view(
    person_id: uuid.UUID,
    version: int,
    data: dict[str, Any],
    visible: Iterable[str],
    as_of: datetime | None = None,
) -> PersonView:
    shown = frozenset(visible)
    masked = frozenset(f for f in PERSONAL_FIELDS - shown if data.get(f) not in (None, ""))
    return PersonView(person_id, version, mask_person(data, shown), shown, masked, as_of)


async def present_person(session: AsyncSession, principal: Principal, person: Person) -> PersonView:
    """A person masked for the caller, without an access-log row: for the answer to a
    write, which shows the writer what they wrote."""
    return _view(
        person.id,
        person.version,
        snapshot("person", person),
        await visible_fields(session, principal, person),
    )


def _disclosed(view: PersonView) -> list[str]:
    return sorted(f for f in PERSONAL_FIELDS & view.visible if view.data.get(f) not in (None, ""))


def _purpose(purpose: str, default: str) -> str:
    return (purpose or "").strip()[:200] or default


async def log_reads(
    session: AsyncSession,
    principal: Principal,
    reads: Sequence[tuple[uuid.UUID, Sequence[str]]],
    *,
    purpose: str,
    via: str,
    case_number: str = "",
) -> None:
    """Write one access-log row per person read, in one batched insert."""
    if not reads:
        return
    code = await department_code_of(session, principal)
    now = clock.now()
    await session.execute(
        insert(AccessLog),
        [
            {
                "at": now,
                "person_id": person_id,
                "actor": principal.name[:100],
                "actor_kind": principal.kind,
                "department_code": code,
                "purpose": purpose[:200],
                "via": via[:16],
                "fields": list(fields),
                "case_number": case_number[:64],
            }
            for person_id, fields in reads
        ],
    )


async def _readable_person(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID
) -> Person:
    authorize(principal, "registry.person.read")
    person = (
        await session.execute(readable_persons(principal).where(Person.id == person_id))
    ).scalar_one_or_none()
    if person is None:
        raise NotFound(_("There is no such person in the population registry."))
    return person


async def get_person(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    purpose: str = "",
    via: str = "api",
) -> PersonView:
    """A person's current record, masked for the caller; the read is logged."""
    person = await _readable_person(session, principal, person_id)
    view = _view(
        person.id,
        person.version,
        snapshot("person", person),
        await visible_fields(session, principal, person),
    )
    await log_reads(
        session,
        principal,
        [(person.id, _disclosed(view))],
        purpose=_purpose(purpose, PURPOSE_VIEW),
        via=via,
    )
    return view


async def get_person_as_of(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    at: datetime,
    *,
    purpose: str = "",
    via: str = "api",
) -> PersonView:
    """The person's record as it was at the instant ``at`` (404 if not registered yet)."""
    if at.tzinfo is None:
        raise InvalidInput(_("Give the instant with its time zone."), field="as_of")
    person = await _readable_person(session, principal, person_id)
    version = await version_as_of(session, "person", person.id, at)
    if version is None:
        raise NotFound(
            _("This person was not yet in the population registry at {at}.").format(
                at=clock.to_city(at).strftime("%Y-%m-%d %H:%M")
            ),
            field="as_of",
        )
    view = _view(
        person.id,
        version.version,
        dict(version.data),
        await visible_fields(session, principal, person),
        as_of=at,
    )
    await log_reads(
        session,
        principal,
        [(person.id, _disclosed(view))],
        purpose=_purpose(purpose, PURPOSE_VIEW),
        via=via,
    )
    return view


async def person_history(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    purpose: str = "",
    via: str = "api",
) -> list[VersionView]:
    """Every version of a person's record, newest first; personal values masked; logged."""
    person = await _readable_person(session, principal, person_id)
    visible = frozenset(await visible_fields(session, principal, person))
    views = await _version_views(session, await _versions(session, "person", person.id), visible)
    disclosed = sorted(PERSONAL_FIELDS & visible)
    await log_reads(
        session,
        principal,
        [(person.id, disclosed)],
        purpose=_purpose(purpose, PURPOSE_VIEW),
        via=via,
    )
    return views


async def get_person_record(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    at: datetime | None = None,
    purpose: str = "",
    via: str = "page",
) -> tuple[PersonView, list[VersionView]]:
    """The record page: the person now (or as of ``at``) with the history, one logged read."""
    if at is not None:
        view = await get_person_as_of(session, principal, person_id, at, purpose=purpose, via=via)
    else:
        view = await get_person(session, principal, person_id, purpose=purpose, via=via)
    history = await _version_views(
        session, await _versions(session, "person", person_id), view.visible
    )
    return view, history


def _limits(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(_("limit must be between 1 and {n}.").format(n=MAX_PAGE), field="limit")
    if offset < 0:
        raise InvalidInput(_("offset cannot be negative."), field="offset")


def name_prefix_filter(column: Any, prefix: str) -> Any:
    """A prefix match as a range, so the name index serves it on SQLite and PostgreSQL
    (LIKE 'p%' uses no index on PostgreSQL under most collations)."""
    return (column >= prefix) & (column < prefix + "\uffff")


async def search_persons(
    session: AsyncSession,
    principal: Principal,
    *,
    id_number: str | None = None,
    name_prefix: str | None = None,
    district: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    purpose: str = "",
    via: str = "api",
) -> tuple[list[PersonView], bool]:
    """Persons by exact ID number, name prefix, district (户籍地 or residence) and status,
    ordered by name; returns the page and whether more follow. Every row read is logged."""
    authorize(principal, "registry.person.read")
    _limits(limit, offset)
    query = readable_persons(principal)
    if not (id_number or name_prefix or district) and not principal.is_("citizen"):
        # No dragnet over personal data: a search names whom it looks for.
        raise InvalidInput(_("Search by ID number, name or district."), field="id_number")
    if id_number:
        query = query.where(Person.id_number == check_resident_id(id_number).number)
    if name_prefix and name_prefix.strip():
        query = query.where(name_prefix_filter(Person.name, name_prefix.strip()))
    if district:
        code = check_district(district)
        places = select(Place.code).where(Place.district_code == code)
        query = query.where(
            or_(Person.hukou_division_code == code, Person.residence_place_code.in_(places))
        )
    if status:
        query = query.where(Person.status == _choice(status, "status", PERSON_STATUSES))
    query = query.order_by(Person.name, Person.id_number).limit(limit + 1).offset(offset)
    found = list((await session.execute(query)).scalars().all())
    more = len(found) > limit
    found = found[:limit]
    base = await _department_visible(session, principal)
    views = [
        _view(
            p.id,
            p.version,
            snapshot("person", p),
            set(data_fields("person")) if _own(principal, p) else base,
        )
        for p in found
    ]
    await log_reads(
        session,
        principal,
        [(v.id, _disclosed(v)) for v in views],
        purpose=_purpose(purpose, PURPOSE_SEARCH),
        via=via,
    )
    return views, more


# --- persons: writing ----------------------------------------------------------------------


async def _id_number_taken(session: AsyncSession, number: str) -> None:
    if (await session.execute(select(Person.id).where(Person.id_number == number))).first():
        raise Conflict(_("A person with this ID number is already registered."), field="id_number")


async def create_person(
    session: AsyncSession, principal: Principal, data: PersonCreate, *, reason: str = ""
) -> Person:
    """Register a person (人口登记): the identity source (公安局) or an admin; any other
    field given must also be the caller's to write."""
    authorize(principal, "registry.person.create")
    given = {k for k, v in data.model_dump(exclude_unset=True).items() if v not in (None, "")}
    groups = _groups_of_fields("person", {"id_number", "status", *given} - {"sex", "birth_date"})
    await require_source(session, principal, groups)
    values = clean_person_fields(data.model_dump(), None)
    await _id_number_taken(session, values["id_number"])
    await _require_place(session, values.get("residence_place_code"), "residence_place_code")
    person = Person(**values, version=1, updated_at=clock.now())
    session.add(person)
    await session.flush()
    identity = group_of_field("person", "id_number")
    await write_version(
        session,
        principal,
        "person",
        person,
        changes={},
        attribute_group="",
        source_department_code=identity.department_code,
        reason=reason,
    )
    await audit.log(session, principal, "registry.person.create", str(person.id))
    await emit(
        session,
        "registry.person.changed",
        {"id": str(person.id), "version": 1, "change": "created", "fields": []},
    )
    return person


async def update_person(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    fields: Mapping[str, Any],
    reason: str = "",
) -> Person:
    """Change some fields of a person; every group they belong to must be the caller's
    department's (一数一源). Writes a new version with the old and new values."""
    person = await _readable_person(session, principal, person_id)
    authorize(principal, "registry.person.update", person)
    if not fields:
        raise InvalidInput(_("Name at least one field to change."), field="fields")
    known = set(data_fields("person"))
    for name in fields:
        if name not in known:
            raise InvalidInput(_("Unknown field {field}.").format(field=label(name)), field=name)
    groups = _groups_of_fields("person", fields)
    await require_source(session, principal, groups)
    _one_source(groups)
    before = snapshot("person", person)
    values = clean_person_fields(fields, before)
    if values.get("id_number", person.id_number) != person.id_number:
        await _id_number_taken(session, values["id_number"])
    if values.get("residence_place_code") != person.residence_place_code:
        await _require_place(session, values.get("residence_place_code"), "residence_place_code")
    for name, value in values.items():
        setattr(person, name, value)
    changes = _changes(before, snapshot("person", person))
    if not changes:
        return person
    person.version += 1
    person.updated_at = clock.now()
    await session.flush()
    await write_version(
        session,
        principal,
        "person",
        person,
        changes=changes,
        attribute_group=",".join(g.name for g in groups),
        source_department_code=groups[0].department_code,
        reason=reason,
    )
    await audit.log(
        session,
        principal,
        "registry.person.update",
        str(person.id),
        fields=sorted(changes),
        group=",".join(g.name for g in groups),
        reason=reason[:200],
    )
    await emit(
        session,
        "registry.person.changed",
        {
            "id": str(person.id),
            "version": person.version,
            "change": "updated",
            "fields": sorted(changes),
        },
    )
    return person


async def link_account(
    session: AsyncSession,
    principal: Principal,
    *,
    person_id: uuid.UUID,
    username: str | None,
) -> Person:
    """Link a citizen's platform account to their person record (for 我的数据), or unlink
    with None. The identity source (公安局) or an admin does it, after checking identity."""
    authorize(principal, "registry.person.link_account")
    await require_source(session, principal, [group_of_field("person", "id_number")])
    person = await _readable_person(session, principal, person_id)
    if username is None:
        person.account_id = None
        await audit.log(session, principal, "registry.person.unlink_account", str(person.id))
        return person
    account = (
        await session.execute(select(Account).where(Account.username == username.strip()))
    ).scalar_one_or_none()
    if account is None or account.kind != "citizen":
        raise InvalidInput(
            _("There is no citizen account {username}.").format(username=username),
            field="username",
        )
    other = (
        await session.execute(select(Person.id).where(Person.account_id == account.id))
    ).scalar_one_or_none()
    if other is not None and other != person.id:
        raise Conflict(
            _("The account {username} is already linked to another person.").format(
                username=username
            ),
            field="username",
        )
    person.account_id = account.id
    await session.flush()
    await audit.log(
        session, principal, "registry.person.link_account", str(person.id), account=username
    )
    return person


# --- 我的数据: a citizen's own record and who read it ------------------------------------------


async def my_person(session: AsyncSession, principal: Principal) -> Person | None:
    """The person record linked to the citizen's account, if any (reading it is not logged;
    use get_my_record to show it)."""
    if principal.kind != "citizen" or principal.id is None:
        return None
    return (
        await session.execute(readable_persons(principal).where(Person.account_id == principal.id))
    ).scalar_one_or_none()


async def get_my_record(
    session: AsyncSession, principal: Principal, *, via: str = "api"
) -> PersonView:
    """The citizen's own record, unmasked to them; 404 if their account is not linked."""
    person = await my_person(session, principal)
    if person is None:
        raise NotFound(
            _(
                "Your account is not linked to a record in the population registry. The "
                "public security bureau links it when you show your ID card at a service hall."
            )
        )
    return await get_person(session, principal, person.id, purpose=PURPOSE_MY_DATA, via=via)


async def my_access_log(
    session: AsyncSession, principal: Principal, *, limit: int = 50, offset: int = 0
) -> tuple[list[AccessEntry], bool]:
    """Who read the citizen's record, newest first (their own views left out)."""
    _limits(limit, offset)
    person = await my_person(session, principal)
    if person is None:
        raise NotFound(_("Your account is not linked to a record in the population registry."))
    query = (
        select(AccessLog)
        .where(
            AccessLog.person_id == person.id,
            or_(AccessLog.actor_kind != "citizen", AccessLog.actor != principal.name),
        )
        .order_by(AccessLog.at.desc(), AccessLog.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    rows = list((await session.execute(query)).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    names = await department_names(session, {r.department_code for r in rows})
    entries = [
        AccessEntry(
            at=r.at,
            department_code=r.department_code,
            department_name=names.get(r.department_code, ""),
            actor_kind=r.actor_kind,
            purpose=r.purpose,
            via=r.via,
            fields=list(r.fields or []),
            case_number=r.case_number,
        )
        for r in rows
    ]
    return entries, more


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
    session.add(org)
    await session.flush()
    await write_version(
        session,
        principal,
        "organization",
        org,
        changes={},
        attribute_group="",
        source_department_code=groups[0].department_code,
        reason=reason,
    )
    await audit.log(session, principal, "registry.organization.create", str(org.id))
    await emit(
        session,
        "registry.organization.changed",
        {"id": str(org.id), "version": 1, "change": "created", "fields": []},
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
    known = {*data_fields("organization"), LEGAL_REPRESENTATIVE_NUMBER}
    for name in fields:
        if name not in known:
            raise InvalidInput(_("Unknown field {field}.").format(field=label(name)), field=name)
    groups = _groups_of_fields(
        "organization",
        ["legal_representative_id" if f == LEGAL_REPRESENTATIVE_NUMBER else f for f in fields],
    )
    await require_source(session, principal, groups)
    _one_source(groups)
    values = clean_organization_fields(fields)
    if values.get("uscc", org.uscc) != org.uscc:
        await _uscc_taken(session, values["uscc"])
    await _resolve_representative(session, values)
    if values.get("registered_place_code") != org.registered_place_code:
        await _require_place(session, values.get("registered_place_code"), "registered_place_code")
    before = snapshot("organization", org)
    for name, value in values.items():
        setattr(org, name, value)
    changes = _changes(before, snapshot("organization", org))
    if not changes:
        return org
    org.version += 1
    org.updated_at = clock.now()
    await session.flush()
    group = ",".join(g.name for g in groups)
    await write_version(
        session,
        principal,
        "organization",
        org,
        changes=changes,
        attribute_group=group,
        source_department_code=groups[0].department_code,
        reason=reason,
    )
    await audit.log(
        session,
        principal,
        "registry.organization.update",
        str(org.id),
        fields=sorted(changes),
        group=group,
        reason=reason[:200],
    )
    await emit(
        session,
        "registry.organization.changed",
        {"id": str(org.id), "version": org.version, "change": "updated", "fields": sorted(changes)},
    )
    return org


# --- reads for the data exchange (交换) --------------------------------------------------------

EXCHANGE_FILTERS: dict[str, frozenset[str]] = {
    "person": frozenset({"id", "id_number", "name_prefix"}),
    "organization": frozenset({"id", "uscc", "name_prefix"}),
    "place": frozenset({"id", "code", "name_prefix"}),
}
MAX_EXCHANGE_ROWS = 1000


def _exchange_query(record_type: str, filters: Mapping[str, str]) -> Select[Any]:
    model = records.MODELS[record_type]
    query: Select[Any] = select(model)
    for name, value in filters.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(
                _("The filter {filter} needs a value.").format(filter=name), field=name
            )
        value = value.strip()
        if name == "id":
            try:
                query = query.where(model.id == uuid.UUID(value))
            except ValueError:
                raise InvalidInput(_("id must be a UUID."), field="id") from None
        elif name == "id_number":
            query = query.where(Person.id_number == check_resident_id(value).number)
        elif name == "uscc":
            query = query.where(Organization.uscc == check_uscc(value))
        elif name == "code":
            query = query.where(Place.code == value)
        elif name == "name_prefix":
            query = query.where(name_prefix_filter(model.name, value))
    order = {"person": (Person.name, Person.id_number), "organization": (Organization.name,)}
    return query.order_by(*order.get(record_type, (Place.code,)))


async def exchange_read(
    session: AsyncSession,
    consumer: Principal,
    *,
    record_type: str,
    filters: dict[str, str],
    fields: list[str],
    purpose: str,
    case_number: str = "",
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Records for the exchange engine, reduced to exactly ``fields`` and unmasked: the
    exchange has checked the grant. Reads of persons go to their access log (via exchange)."""
    if record_type not in EXCHANGE_FILTERS:
        raise InvalidInput(
            _("Unknown record type {record_type}.").format(record_type=record_type),
            field="record_type",
        )
    allowed_fields = {"id", *data_fields(record_type)}
    unknown = [f for f in fields if f not in allowed_fields]
    if unknown or not fields:
        raise InvalidInput(
            _("Unknown fields: {fields}.").format(fields=", ".join(unknown) or "—"),
            field="fields",
        )
    bad_filters = sorted(set(filters) - EXCHANGE_FILTERS[record_type])
    if bad_filters:
        raise InvalidInput(
            _("Unknown filters for {record_type}: {filters}. Known: {known}.").format(
                record_type=record_type,
                filters=", ".join(bad_filters),
                known=", ".join(sorted(EXCHANGE_FILTERS[record_type])),
            ),
            field="filters",
        )
    if record_type == "person" and not filters:
        raise InvalidInput(_("A read of persons must name whom it is for."), field="filters")
    if not 1 <= limit <= MAX_EXCHANGE_ROWS:
        raise InvalidInput(
            _("limit must be between 1 and {n}.").format(n=MAX_EXCHANGE_ROWS), field="limit"
        )
    query = _exchange_query(record_type, filters).limit(limit)
    found = list((await session.execute(query)).scalars().all())
    answer = []
    for record in found:
        data = snapshot(record_type, record)
        data["id"] = str(record.id)
        answer.append({f: data[f] for f in fields})
    if record_type == "person":
        await log_reads(
            session,
            consumer,
            [(r.id, list(fields)) for r in found],
            purpose=_purpose(purpose, PURPOSE_VIEW),
            via="exchange",
            case_number=case_number,
        )
    return answer
