"""Input and output models of the service hall API (网上办事大厅)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ApplicantKind = Literal["citizen", "enterprise"]
FieldType = Literal["text", "textarea", "date", "number", "select", "id_number", "phone"]
CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{1,31}$"


class Material(BaseModel):
    """A material to hand in (申请材料); from_registry names a registry field that replaces it
    (免提交)."""

    name: str = Field(min_length=1, max_length=100)
    required: bool = True
    from_registry: str | None = Field(default=None, max_length=64)


class FormField(BaseModel):
    """A field of the application form (申请表); prefill names a registry field."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    label: str = Field(min_length=1, max_length=100)
    type: FieldType = "text"
    required: bool = True
    prefill: str | None = Field(default=None, max_length=64)


class ServiceItemCreate(BaseModel):
    """A new service item (事项)."""

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    department_code: str = Field(min_length=1, max_length=32)
    legal_basis: str = Field(default="", max_length=2000)
    statutory_days: int = Field(ge=1, le=365)
    promised_days: int = Field(ge=1, le=365)
    fee_fen: int = Field(default=0, ge=0)
    applicant_kinds: list[ApplicantKind] = Field(min_length=1)
    life_events: list[str] = Field(default_factory=list)
    materials: list[Material] = Field(default_factory=list)
    form_fields: list[FormField] = Field(default_factory=list)

    @model_validator(mode="after")
    def _promise_within_law(self) -> ServiceItemCreate:
        if self.promised_days > self.statutory_days:
            raise ValueError("promised_days must not exceed statutory_days")
        return self


class ServiceItemRead(BaseModel):
    """A service item as the public catalog shows it."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    description: str
    department_code: str
    department_name: str
    legal_basis: str
    statutory_days: int
    promised_days: int
    fee_fen: int
    applicant_kinds: list[str]
    life_events: list[str]
    materials: list[Material]
    form_fields: list[FormField]
