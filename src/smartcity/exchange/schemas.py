"""Input and output models of the exchange API (政务信息资源共享交换)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from smartcity.core.text import FreeText, Name

# CKAN dataset names: lower-case letters, digits, - and _ (the resource code is the name).
CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,63}$"
FIELD_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

SharingClass = Literal["unconditional", "conditional", "none"]
UpdateCycle = Literal["realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular"]
SourceRegistry = Literal["", "person", "organization", "place"]
FieldType = Literal[
    "string", "integer", "number", "boolean", "date", "datetime", "uuid", "geometry", "object"
]
GrantStatus = Literal["requested", "approved", "refused", "revoked"]


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- catalog (资源目录) --------------------------------------------------------------------


class FieldSpec(BaseModel):
    """One field of a resource (信息项)."""

    name: str = Field(pattern=FIELD_PATTERN, description="For registry resources: a data field")
    title: Name = Field(default="", max_length=100, description="Chinese name, e.g. 姓名")
    type: FieldType | None = Field(
        default=None, description="Omit for registry resources: taken from the registry"
    )
    personal: bool = Field(
        default=False, description="Personal data; for persons derived from the registry"
    )


def _keywords(value: list[str]) -> list[str]:
    cleaned: list[str] = []
    for word in value:
        word = word.strip()
        if not word or len(word) > 50:
            raise ValueError("keywords are 1 to 50 characters")
        if word not in cleaned:
            cleaned.append(word)
    return cleaned


class ResourceCreate(BaseModel):
    code: str = Field(pattern=CODE_PATTERN, description="Slug; also the CKAN dataset name")
    title: Name = Field(min_length=1, max_length=200)
    description: FreeText = Field(default="", max_length=5000)
    publisher: str | None = Field(
        default=None, description="Department code; default the caller's department"
    )
    source_registry: SourceRegistry = ""
    fields: list[FieldSpec] = Field(min_length=1, max_length=200)
    update_cycle: UpdateCycle = "realtime"
    sharing_class: SharingClass = Field(
        description="unconditional 无条件共享, conditional 有条件共享, none 不予共享"
    )
    open_data: bool = False
    keywords: list[str] = Field(default_factory=list, max_length=20)
    license_id: str = Field(default="", max_length=64)

    _check_keywords = field_validator("keywords")(_keywords)


class ResourceUpdate(BaseModel):
    title: Name | None = Field(default=None, min_length=1, max_length=200)
    description: FreeText | None = Field(default=None, max_length=5000)
    fields: list[FieldSpec] | None = Field(default=None, min_length=1, max_length=200)
    update_cycle: UpdateCycle | None = None
    sharing_class: SharingClass | None = None
    open_data: bool | None = None
    keywords: list[str] | None = Field(default=None, max_length=20)
    license_id: str | None = Field(default=None, max_length=64)
    active: bool | None = None

    @field_validator("keywords")
    @classmethod
    def _check_keywords(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _keywords(value)


class ResourceRead(BaseModel):
    id: uuid.UUID
    code: str
    title: str
    description: str
    publisher: str
    publisher_name: str
    source_registry: str
    fields: list[dict[str, Any]]
    update_cycle: str
    sharing_class: str
    open_data: bool
    license_id: str
    keywords: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class ResourcePage(BaseModel):
    total: int
    items: list[ResourceRead]


# --- grants (共享授权) ---------------------------------------------------------------------


class GrantRequest(BaseModel):
    purpose: FreeText = Field(min_length=1, max_length=500, description="What the data is used for")
    legal_basis: FreeText = Field(default="", max_length=300, description="法律法规或政策依据")
    fields: list[str] = Field(min_length=1, max_length=200)
    expires_at: AwareDatetime | None = None
    consumer: str | None = Field(
        default=None, description="Department code; only administrators name one"
    )


class GrantApproval(BaseModel):
    fields: list[str] | None = Field(
        default=None, description="Fewer fields than requested; default all requested"
    )
    expires_at: AwareDatetime | None = None
    reason: FreeText = Field(default="", max_length=500)


class GrantRefusal(BaseModel):
    reason: FreeText = Field(max_length=500)


class GrantRevocation(BaseModel):
    reason: FreeText = Field(default="", max_length=500)


class GrantRead(BaseModel):
    id: uuid.UUID
    resource: str
    resource_title: str
    consumer: str
    consumer_name: str
    purpose: str
    legal_basis: str
    requested_fields: list[str]
    granted_fields: list[str]
    status: str
    standing: str
    requested_by: str
    created_at: datetime
    decided_by: str
    decided_at: datetime | None
    decision_reason: str
    expires_at: datetime | None
    revoked_at: datetime | None


# --- exchange calls and the message log --------------------------------------------------


class ExchangeQuery(BaseModel):
    """The body of a read through the exchange."""

    filters: dict[str, str] = Field(default_factory=dict, max_length=20)
    fields: list[str] | None = Field(default=None, description="Default: all granted fields")
    purpose: FreeText = Field(min_length=1, max_length=500)
    limit: int = Field(default=100, ge=1, le=1000)


class ExchangeMessageRead(ReadModel):
    seq: int
    message_id: uuid.UUID
    at: datetime
    resource: str
    consumer_department: str
    consumer: str
    end_user: str
    case_number: str
    purpose: str
    query: dict[str, Any]
    fields: list[str]
    record_ids: list[str]
    outcome: str
    request_hash: str
    response_hash: str
    signature: str
    prev_hash: str
    hash: str
    intact: bool


class LogVerdictRead(BaseModel):
    intact: bool
    checked: int
    first_broken_seq: int | None
    reason: str


class StatRow(BaseModel):
    day: date
    resource: str
    consumer: str
    calls: int
    answered: int
    refused: int
    records: int


# --- subscriptions ------------------------------------------------------------------------


class SubscriptionCreate(BaseModel):
    resource: str = Field(pattern=CODE_PATTERN)
    webhook_url: str = Field(default="", max_length=500)


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    resource: str
    consumer: str
    grant_id: uuid.UUID
    webhook_url: str
    active: bool
    created_by: str
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str | None = Field(description="HMAC key of the webhook signature; shown once, keep it")


class DeliveryRead(ReadModel):
    id: int
    event_id: uuid.UUID
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    delivered_at: datetime | None
