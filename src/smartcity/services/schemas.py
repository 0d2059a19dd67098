"""Input and output models of the service hall API (网上办事大厅)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from smartcity.core.text import FreeText, Name

ApplicantKind = Literal["citizen", "enterprise"]
FieldType = Literal["text", "textarea", "date", "number", "select", "id_number", "phone"]
CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{1,31}$"


class Material(BaseModel):
    """A material to hand in (申请材料); from_registry names a registry field that replaces it
    (免提交)."""

    name: Name = Field(min_length=1, max_length=100)
    required: bool = True
    from_registry: str | None = Field(default=None, max_length=64)


class FormField(BaseModel):
    """A field of the application form (申请表); prefill names a registry field."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    label: Name = Field(min_length=1, max_length=100)
    type: FieldType = "text"
    required: bool = True
    prefill: str | None = Field(default=None, max_length=64)
    # The choices of a select field; without them it is answered in words.
    options: list[str] = Field(default_factory=list, max_length=50)


class ServiceItemCreate(BaseModel):
    """A new service item (事项)."""

    code: str = Field(pattern=CODE_PATTERN)
    name: Name = Field(min_length=1, max_length=200)
    # The name English pages show; without one they show the Chinese, marked.
    name_en: Name | None = Field(default=None, min_length=1, max_length=200)
    description: FreeText = Field(default="", max_length=2000)
    department_code: str = Field(min_length=1, max_length=32)
    legal_basis: FreeText = Field(default="", max_length=2000)
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
    name_en: str | None = None
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


class ServiceSearchHitRead(ServiceItemRead):
    """A service item a search found, with where its words were found, best first."""

    matched: list[Literal["name", "keyword", "life_event", "department"]]


class ServiceSearchRead(BaseModel):
    """What a search of the service items (事项搜索) found, best first."""

    query: str
    words: list[str] = Field(description="The query's words after Chinese word segmentation.")
    total: int = Field(description="How many items match; at most `limit` are in `items`.")
    items: list[ServiceSearchHitRead]


# --- applying online (网上申报) ---------------------------------------------------------------


class ApplicationCreate(BaseModel):
    """Start an application for a service item (or get the open draft for it)."""

    item_code: str = Field(pattern=CODE_PATTERN)


class AnswersUpdate(BaseModel):
    """Answers to save in a draft, by field name; null or "" clears one."""

    answers: dict[str, str | int | float | None] = Field(max_length=200)


class SupplementInput(BaseModel):
    """Send the supplement (补正) with an optional note."""

    note: FreeText = Field(default="", max_length=500)


class RatingInput(BaseModel):
    """好差评: 1 (非常不满意) to 5 (非常满意), with an optional comment."""

    score: int
    comment: FreeText = Field(default="", max_length=500)


class SourceRead(BaseModel):
    """Where a prefilled value comes from (一数一源): the registry field and its source."""

    registry: str
    field: str
    department_code: str
    department_name: str


class FieldRead(BaseModel):
    """A form field: prefilled from the registries (read-only, ``source`` set) or answered."""

    name: str
    label: str
    type: str
    required: bool
    value: str
    prefilled: bool
    source: SourceRead | None = None
    note: str = ""


class MaterialRead(BaseModel):
    """An uploaded file (its content at ``download``)."""

    id: uuid.UUID
    name: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    supplement: bool
    download: str


class RequiredMaterialRead(BaseModel):
    """One of the item's materials: provided by the registries (免提交) or by files."""

    name: str
    required: bool
    provided: bool
    source: SourceRead | None = None
    registry_value: str = ""
    files: list[MaterialRead]
    note: str = ""


class MissingRead(BaseModel):
    kind: Literal["field", "material"]
    name: str
    label: str


class ClockRead(BaseModel):
    """Time as the applicant sees it: the case's one deadline (cases/deadline.py), the
    promised limit's working days left, due date and state."""

    due_at: datetime
    due_date: date
    remaining_workdays: int | None
    paused: bool
    warning: Literal["none", "yellow", "red"]
    state: Literal["on_time", "warning", "overdue", "paused", "closed"]
    closed_at: datetime | None
    handled_workdays: int | None
    on_time: bool | None


class TimelineLineRead(BaseModel):
    at: datetime
    title: str
    detail: str
    by_you: bool


class SupplementRequestRead(BaseModel):
    at: datetime
    missing: str


class RatingRead(BaseModel):
    score: int
    comment: str
    rated_at: datetime


class ApplicationSummaryRead(BaseModel):
    """One line of 我的申请."""

    id: uuid.UUID
    item_code: str
    item_name: str
    status: Literal["draft", "submitted"]
    created_at: datetime
    submitted_at: datetime | None
    case_id: uuid.UUID | None
    case_number: str | None
    state: str
    state_title: str
    clock: ClockRead | None


class ApplicationRead(ApplicationSummaryRead):
    """An application with its form, materials and, once submitted, its case's progress."""

    department_code: str
    department_name: str
    registry_note: str
    fields: list[FieldRead]
    materials: list[RequiredMaterialRead]
    supplements: list[MaterialRead]
    missing: list[MissingRead]
    timeline: list[TimelineLineRead]
    supplement_request: SupplementRequestRead | None
    rating: RatingRead | None
    can_rate: bool
