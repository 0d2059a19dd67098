"""Input and output of the hotline's API: OrderCreate / ReportCreate in, OrderRead out."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from smartcity.core.text import FreeText, Name
from smartcity.hotline.types import Kind, Rating

TEXT_MAX = 2000
ADDRESS_MAX = 200
REASON_MAX = 500
# Shenzhen's box in WGS 84 (深圳市域, with a margin for the islands and the bay).
LON_MIN, LON_MAX = 113.70, 114.70
LAT_MIN, LAT_MAX = 22.40, 22.90
CATEGORY_PATTERN = r"^\d{2}(\.\d{2}){0,2}$"
DEPARTMENT_PATTERN = r"^[A-Z0-9]{2,32}$"
PHONE_PATTERN = r"^[0-9+\-]{5,20}$"
ID_PATTERN = r"^\d{17}[\dXx]$"

Lon = Annotated[float, Field(ge=LON_MIN, le=LON_MAX)]
Lat = Annotated[float, Field(ge=LAT_MIN, le=LAT_MAX)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaceInput(_Input):
    """Where: the address as said or typed, and a point on the map (WGS 84), both optional."""

    address: Annotated[Name, Field(max_length=ADDRESS_MAX)] = ""
    lon: Lon | None = None
    lat: Lat | None = None


class ReportCreate(_Input):
    """A report on the web (网上诉求) by a signed-in citizen or anyone anonymously."""

    kind: Kind
    category: Annotated[str, Field(pattern=CATEGORY_PATTERN)]
    text: Annotated[FreeText, Field(min_length=1, max_length=TEXT_MAX)]
    place: PlaceInput = PlaceInput()
    contact_name: Annotated[Name, Field(max_length=50)] = ""
    contact_phone: Annotated[str, Field(pattern=PHONE_PATTERN)] | None = None


class OrderCreate(ReportCreate):
    """A call taken by a 12345 agent (来电受理): the caller found by ID number or phone, or
    anonymous; a consultation may be answered and closed at once (直接办结)."""

    caller_id_number: Annotated[str, Field(pattern=ID_PATTERN)] | None = None
    anonymous: bool = False
    department: Annotated[str, Field(pattern=DEPARTMENT_PATTERN)] | None = None
    answer: Annotated[FreeText, Field(max_length=TEXT_MAX)] = ""


class CallerLookup(_Input):
    id_number: Annotated[str, Field(pattern=ID_PATTERN)] | None = None
    phone: Annotated[str, Field(pattern=PHONE_PATTERN)] | None = None


class DispatchInput(_Input):
    department: Annotated[str, Field(pattern=DEPARTMENT_PATTERN)]


class ReasonInput(_Input):
    reason: Annotated[FreeText, Field(min_length=1, max_length=REASON_MAX)]


class TransferInput(ReasonInput):
    department: Annotated[str, Field(pattern=DEPARTMENT_PATTERN)]


class ReplyInput(_Input):
    reply: Annotated[FreeText, Field(min_length=1, max_length=TEXT_MAX)]


class VisitInput(_Input):
    rating: Rating
    comment: Annotated[FreeText, Field(max_length=REASON_MAX)] = ""


class CloseInput(_Input):
    opinion: Annotated[FreeText, Field(min_length=1, max_length=REASON_MAX)]


class CategoryRead(BaseModel):
    code: str
    name: str
    name_en: str
    parent: str | None
    department: str | None


class CallerRead(BaseModel):
    found: bool
    name: str = ""
    phone: str = ""
    id_number: str = ""
    earlier_orders: list[OrderSummaryRead] = []


class DeadlineRead(BaseModel):
    clock: str
    due_date: date
    remaining: int
    state: str


class OrderSummaryRead(BaseModel):
    id: uuid.UUID
    number: str
    kind: Kind
    category: str
    category_name: str
    state: str
    department: str
    received_at: datetime
    deadline: DeadlineRead


class TimelineRead(BaseModel):
    at: datetime
    actor: str
    step: str
    from_state: str
    to_state: str
    note: str


class VisitRead(BaseModel):
    at: datetime
    rating: Rating
    comment: str
    online: bool


class OrderRead(OrderSummaryRead):
    channel: Literal["phone", "web", "api", "open311"]
    text: str
    address: str
    lon: float | None
    lat: float | None
    district: str
    street: str
    anonymous: bool
    caller_name: str
    caller_phone: str
    reworks: int
    reply: str
    rating: str
    closed_at: datetime | None
    visits: list[VisitRead]
    timeline: list[TimelineRead]


class OrderPage(BaseModel):
    items: list[OrderSummaryRead]
    total: int
    limit: int
    offset: int


CallerRead.model_rebuild()
