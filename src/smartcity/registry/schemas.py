"""Input and output models of the registry API: persons (人口库) and organizations (法人库)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smartcity.core.text import FreeText, Name

PersonStatus = Literal["living", "deceased", "moved_out"]
OrganizationType = Literal[
    "enterprise", "public_institution", "social_organization", "government_body"
]
OrganizationStatus = Literal["active", "revoked", "cancelled"]
Sex = Literal["male", "female"]


class PersonCreate(BaseModel):
    """A new person; sex and birth date come from the ID number and, if given, must match it."""

    id_number: str = Field(description="公民身份号码 (GB 11643), 18 characters")
    name: Name = Field(min_length=1, max_length=50)
    sex: Sex | None = Field(default=None, description="Optional; checked against the ID number")
    birth_date: date | None = Field(
        default=None, description="Optional; checked against the ID number"
    )
    ethnicity: Name = Field(default="", max_length=20, description="民族, e.g. 汉族")
    phone: str = Field(default="", max_length=20)
    hukou_division_code: str = Field(
        default="", max_length=6, description="户籍地: a six-digit GB/T 2260 code"
    )
    residence_address: Name = Field(default="", max_length=200)
    residence_place_code: str | None = Field(
        default=None, max_length=32, description="The grid (网格) the residence resolves to"
    )
    residence_lon: float | None = None
    residence_lat: float | None = None
    status: PersonStatus = "living"
    social_insurance_status: str = Field(default="", max_length=16)


class OrganizationCreate(BaseModel):
    """A new organization; the legal representative is named by their ID number."""

    uscc: str = Field(description="统一社会信用代码 (GB 32100), 18 characters")
    name: Name = Field(min_length=1, max_length=200)
    org_type: OrganizationType
    legal_representative_id_number: str | None = Field(
        default=None, description="ID number of the legal representative, a registered person"
    )
    registered_address: Name = Field(default="", max_length=200)
    registered_place_code: str | None = Field(default=None, max_length=32)
    industry: Name = Field(default="", max_length=100, description="GB/T 4754 section or class")
    established_on: date | None = None
    status: OrganizationStatus = "active"


class RecordUpdate(BaseModel):
    """A change to some fields of a record (一数一源: all from one source department)."""

    fields: dict[str, Any] = Field(
        description="Field name to new value; only fields of the caller's own source groups",
        examples=[{"phone": "13800138000"}],
    )
    reason: FreeText = Field(default="", max_length=200, description="Why, e.g. 户籍迁入")


class PersonRead(BaseModel):
    """A person as the caller may see them: personal fields masked unless visible."""

    id: uuid.UUID
    version: int
    id_number: str
    name: str
    sex: str
    birth_date: str = Field(description="ISO date, or 1990-**-** when masked")
    ethnicity: str
    phone: str
    hukou_division_code: str
    residence_address: str
    residence_place_code: str | None
    residence_lon: float | None
    residence_lat: float | None
    status: str
    social_insurance_status: str
    masked_fields: list[str] = Field(description="Personal fields shown masked to this caller")
    as_of: datetime | None = Field(default=None, description="Set when read as of an instant")


class PersonPage(BaseModel):
    items: list[PersonRead]
    limit: int
    offset: int
    has_more: bool


class OrganizationRead(BaseModel):
    id: uuid.UUID
    version: int
    uscc: str
    name: str
    org_type: str
    legal_representative_id: uuid.UUID | None
    legal_representative_name: str | None = None
    registered_address: str
    registered_place_code: str | None
    industry: str
    established_on: date | None
    status: str
    as_of: datetime | None = None


class OrganizationPage(BaseModel):
    items: list[OrganizationRead]
    limit: int
    offset: int
    has_more: bool


class RecordVersionRead(BaseModel):
    """One version in a record's history; personal values masked as in the record."""

    version: int
    valid_from: datetime
    valid_to: datetime | None
    attribute_group: str
    source_department_code: str
    source_department_name: str
    actor: str
    reason: str
    changes: dict[str, list[Any]]


class AccessLogRead(BaseModel):
    """One read of a person's record (个人信息访问记录)."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    department_code: str
    department_name: str
    actor_kind: str
    purpose: str
    via: str
    fields: list[str]
    case_number: str
    actor_name: str = Field(description="Who read: the officer's name, or the system reading")
    grant_name: str = Field(description="The exchange grant (共享授权) of a machine read")
    reads: int = Field(description="How many reads of this kind that city day this row stands for")
    last_at: datetime | None = Field(description="When the last of them was, if more than one")


class AccessLogPage(BaseModel):
    items: list[AccessLogRead]
    limit: int
    offset: int
    has_more: bool


class AccountLink(BaseModel):
    """Link a citizen's account to their person record, or unlink with null."""

    username: str | None = Field(description="The citizen's user name; null unlinks")
