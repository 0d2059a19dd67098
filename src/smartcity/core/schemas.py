"""Input and output models of the foundation's API."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smartcity.core.models import PrincipalKind
from smartcity.core.text import Name

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,63}$")


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DepartmentCreate(BaseModel):
    code: str = Field(
        min_length=2,
        max_length=32,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="Short code, upper case, e.g. GAJ for 公安局",
    )
    name: Name = Field(min_length=2, max_length=100, description="Chinese name, e.g. 公安局")
    name_en: Name = Field(default="", max_length=200)


class DepartmentUpdate(BaseModel):
    name: Name | None = Field(default=None, min_length=2, max_length=100)
    name_en: Name | None = Field(default=None, max_length=200)
    active: bool | None = None


class DepartmentRead(ReadModel):
    id: uuid.UUID
    code: str
    name: str
    name_en: str
    active: bool


class AccountCreate(BaseModel):
    username: str = Field(description="Lower case letters, digits, . _ -; 3 to 64 characters")
    display_name: Name = Field(min_length=1, max_length=100)
    kind: PrincipalKind
    department_code: str | None = Field(
        default=None, description="Required for staff, supervisors and system accounts"
    )
    roles: list[str] = Field(default_factory=list)
    password: str | None = Field(default=None, description="Omit to generate one")

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME.match(value):
            raise ValueError(
                "use 3-64 lower-case letters, digits, '.', '_' or '-', starting with a letter"
            )
        return value


class AccountUpdate(BaseModel):
    display_name: Name | None = Field(default=None, min_length=1, max_length=100)
    roles: list[str] | None = None
    department_code: str | None = None
    active: bool | None = None


class AccountRead(ReadModel):
    id: uuid.UUID
    username: str
    display_name: str
    kind: str
    department_id: uuid.UUID | None
    roles: list[str]
    totp_enabled: bool
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class AccountCreated(AccountRead):
    initial_password: str | None = Field(
        default=None, description="Shown once when the platform generated the password"
    )


class AccountPage(BaseModel):
    items: list[AccountRead]
    total: int


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class ApiKeyCreate(BaseModel):
    account: str = Field(description="User name of a system or device account")
    name: Name = Field(min_length=1, max_length=100)
    expires_at: datetime | None = None


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself: shown once, never again")


class Me(BaseModel):
    id: uuid.UUID | None
    username: str
    kind: str
    department_id: uuid.UUID | None
    roles: list[str]
    via: str


class AuditVerdictRead(BaseModel):
    intact: bool
    checked: int
    first_broken_seq: int | None
    reason: str


class AuditEntryRead(ReadModel):
    seq: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    target: str
    outcome: str
    ip: str
    detail: dict[str, object]
    hash: str


# --- working-day calendar (工作日历) ---------------------------------------------------------


class CalendarEntryIn(BaseModel):
    """A holiday range (法定节假日) or a make-up working day (调休) from a year's notice."""

    start: date
    end: date | None = Field(default=None, description="Last day of a range; omit for one day")
    kind: Literal["holiday", "workday"]
    name: Name = Field(min_length=1, max_length=100, description="e.g. 春节, or 春节调休")

    @model_validator(mode="after")
    def _range(self) -> CalendarEntryIn:
        if self.end is not None and self.end < self.start:
            raise ValueError("the range ends before it starts")
        return self


class CalendarYearEnter(BaseModel):
    notice: str = Field(
        min_length=1,
        max_length=200,
        description="The notice the dates come from, e.g. 国办发明电〔2025〕7号",
    )
    entries: list[CalendarEntryIn] = Field(min_length=1, max_length=400)


class CalendarDayRead(BaseModel):
    date: date
    is_workday: bool
    name: str


class MonthWorkdaysRead(BaseModel):
    month: int
    workdays: int


class CalendarYearRead(BaseModel):
    year: int
    source: Literal["entered", "official_package", "weekend_rule"]
    provisional: bool = Field(description="No notice covers the year: weekends only, may change")
    notice: str
    entered_by: str | None
    entered_at: datetime | None
    special_days: list[CalendarDayRead] = Field(
        description="Holidays on weekdays and make-up working days on weekends"
    )
    months: list[MonthWorkdaysRead]
    workdays: int


class DeadlineRead(BaseModel):
    start: datetime
    days: int
    at: datetime = Field(description="End of the limit: 24:00 Asia/Shanghai of due_date, in UTC")
    due_date: date
    provisional: bool = Field(description="A day crossed is in a year no notice covers yet")


class SigningKeyRead(ReadModel):
    id: uuid.UUID
    algorithm: str
    fingerprint: str
    public_key_pem: str
    active: bool
    created_at: datetime
    retired_at: datetime | None


class SignatureRead(BaseModel):
    """A detached signature (数字签名): store it beside the document."""

    algorithm: str
    key_fingerprint: str
    signed_at: str
    digest: str
    signature: str = Field(description="Base64 of the DER signature")


class VerificationRead(BaseModel):
    valid: bool
    reason: str
    key: SigningKeyRead | None = None
