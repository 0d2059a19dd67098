"""一数一源: every attribute group of a registry has one authoritative source department,
which alone (or its system account) may change it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttributeGroup:
    record_type: str  # person, organization, place
    name: str  # e.g. identity
    title: str  # 中文名
    department_code: str  # the source (core.seed.DEPARTMENTS)
    fields: tuple[str, ...]


GROUPS: tuple[AttributeGroup, ...] = (
    AttributeGroup(
        "person",
        "identity",
        "身份信息",
        "GAJ",
        ("id_number", "name", "sex", "birth_date", "ethnicity"),
    ),
    AttributeGroup(
        "person",
        "household",
        "户籍与居住",
        "GAJ",
        (
            "hukou_division_code",
            "residence_address",
            "residence_place_code",
            "residence_lon",
            "residence_lat",
            "status",
        ),
    ),
    AttributeGroup("person", "contact", "联系方式", "ZWSJJ", ("phone",)),
    AttributeGroup("person", "social_insurance", "社会保险", "RSJ", ("social_insurance_status",)),
    AttributeGroup(
        "organization",
        "registration",
        "登记信息",
        "SCJGJ",
        (
            "uscc",
            "name",
            "org_type",
            "legal_representative_id",
            "registered_address",
            "registered_place_code",
            "industry",
            "established_on",
            "status",
        ),
    ),
    AttributeGroup(
        "place",
        "geography",
        "地理空间",
        "GHZRJ",
        ("code", "kind", "name", "parent_code", "district_code", "geometry", "properties"),
    ),
)


def groups_of(record_type: str) -> tuple[AttributeGroup, ...]:
    return tuple(g for g in GROUPS if g.record_type == record_type)


def group_of_field(record_type: str, field: str) -> AttributeGroup:
    for group in groups_of(record_type):
        if field in group.fields:
            return group
    raise KeyError(f"{record_type}.{field} belongs to no attribute group")


def source_of(record_type: str, field: str) -> str:
    """The code of the department that is the source of a field."""
    return group_of_field(record_type, field).department_code
