"""Input and output models of places (地理空间库), point resolution, imports and data quality."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PlaceKind = Literal["street", "community", "grid", "building", "address", "road_segment", "poi"]


class PlaceCreate(BaseModel):
    """A new place; its parent must exist, its geometry is GeoJSON in WGS 84."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_.\-]+$")
    kind: PlaceKind
    name: str = Field(min_length=1, max_length=200)
    parent_code: str | None = Field(
        default=None, max_length=32, description="The enclosing place; for a street its district"
    )
    district_code: str | None = Field(
        default=None,
        max_length=6,
        description="Shenzhen district (GB/T 2260, or 4403DP for 大鹏新区); default: the parent's",
    )
    geometry: dict[str, Any] = Field(description="GeoJSON geometry, WGS 84 lon/lat")
    properties: dict[str, Any] = Field(default_factory=dict)


class PlaceUpdate(BaseModel):
    """A change to a place; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    parent_code: str | None = Field(default=None, max_length=32)
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    reason: str = Field(default="", max_length=200)


class PlaceRead(BaseModel):
    """A place without its geometry (lists); the bounding box says where it is."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    kind: str
    name: str
    parent_code: str | None
    district_code: str
    min_lon: float | None
    min_lat: float | None
    max_lon: float | None
    max_lat: float | None
    version: int


class PlacePage(BaseModel):
    items: list[PlaceRead]
    total: int
    limit: int
    offset: int


class PlaceFeature(BaseModel):
    """A place as a GeoJSON Feature (RFC 7946)."""

    type: Literal["Feature"] = "Feature"
    id: str
    bbox: list[float] | None = None
    geometry: dict[str, Any] | None
    properties: dict[str, Any]
    warnings: list[str] = Field(default_factory=list, description="Sanity warnings, if any")


class PlaceRefRead(BaseModel):
    code: str
    name: str
    kind: str


class ResolvedPlaceRead(BaseModel):
    """Where a point or address lies: grid → community → street → district."""

    lon: float
    lat: float
    grid: PlaceRefRead
    community: PlaceRefRead | None
    street: PlaceRefRead | None
    district: PlaceRefRead
    address: PlaceRefRead | None = None


class ImportRunRead(BaseModel):
    """A bulk import and how far it got (resumable from ``rows_done``)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    record_type: str
    source_name: str
    source_sha256: str
    status: str
    rows_done: int
    accepted: int
    rejected: int
    actor: str
    started_at: datetime
    finished_at: datetime | None


class QualityReportRow(BaseModel):
    department_code: str
    department_name: str
    record_type: str
    field: str
    rule: str
    open: int


class QualityReport(BaseModel):
    """Open data-quality problems per source department and field."""

    rows: list[QualityReportRow]
    total_open: int


class QualityIssueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    record_type: str
    record_id: uuid.UUID
    rule: str
    field: str
    department_code: str
    message: str
    detected_at: datetime
    resolved_at: datetime | None


class QualityIssuePage(BaseModel):
    items: list[QualityIssueRead]
    total: int
    limit: int
    offset: int


class QualityRunRead(BaseModel):
    """What a run of the quality rules changed."""

    record_type: str
    open: int
    added: int
    resolved: int
