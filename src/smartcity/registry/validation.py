"""Validation (校验) of person and organization fields: identifiers, choices, dates and labels."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import numdb

from smartcity.core import clock
from smartcity.core.errors import InvalidInput
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
from smartcity.registry import places
from smartcity.registry.models import Place
from smartcity.registry.records import data_fields

PERSON_STATUSES = ("living", "deceased", "moved_out")
SOCIAL_INSURANCE_STATUSES = ("", "insured", "suspended", "terminated")
ORGANIZATION_TYPES = ("enterprise", "public_institution", "social_organization", "government_body")
ORGANIZATION_STATUSES = ("active", "revoked", "cancelled")
MAX_PAGE = 200


# The legal representative is named by ID number in input, stored as a person id.
LEGAL_REPRESENTATIVE_NUMBER = "legal_representative_id_number"
# What an organization's input may name: its fields, with the representative by ID number.
ORGANIZATION_INPUT_FIELDS = (*data_fields("organization"), LEGAL_REPRESENTATIVE_NUMBER)

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
# The codes records hold for a fixed vocabulary (sex, status, kind of organization), in words.
VALUE_LABELS = {
    "male": N_("male"),
    "female": N_("female"),
    "living": N_("living"),
    "deceased": N_("deceased"),
    "moved_out": N_("moved out"),
    "insured": N_("insured"),
    "suspended": N_("suspended"),
    "terminated": N_("terminated"),
    "enterprise": N_("enterprise"),
    "public_institution": N_("public institution"),
    "social_organization": N_("social organization"),
    "government_body": N_("government body"),
    "active": N_("active"),
    "revoked": N_("revoked"),
    "cancelled": N_("cancelled"),
}
_PHONE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{3,6})$")


# --- validation --------------------------------------------------------------------------


def label(name: str) -> str:
    """A field's name as people read it, in the current language."""
    return _(FIELD_LABELS[name]) if name in FIELD_LABELS else name


def code_label(code: str) -> str | None:
    """A code of the registries' fixed vocabularies (a status, a kind of organization or of
    place) in words in the current language, or None for a value that is not such a code."""
    words = VALUE_LABELS.get(code) or places.KIND_LABELS.get(code)
    return _(words) if words else None


def check_known_fields(names: Iterable[str], known: Iterable[str]) -> None:
    """Reject a field the record does not have (未知字段), naming it as people read it."""
    allowed = set(known)
    for name in names:
        if name not in allowed:
            raise InvalidInput(_("Unknown field {field}.").format(field=label(name)), field=name)


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
    check_known_fields(values, data_fields("person"))
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
    check_known_fields(values, ORGANIZATION_INPUT_FIELDS)
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


def _limits(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(_("limit must be between 1 and {n}.").format(n=MAX_PAGE), field="limit")
    if offset < 0:
        raise InvalidInput(_("offset cannot be negative."), field="offset")


def name_prefix_filter(column: Any, prefix: str) -> Any:
    """A prefix match as a range, so the name index serves it on SQLite and PostgreSQL
    (LIKE 'p%' uses no index on PostgreSQL under most collations)."""
    return (column >= prefix) & (column < prefix + "\uffff")
