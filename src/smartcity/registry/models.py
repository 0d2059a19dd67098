"""Tables of the base registries (城市数字资源中心): persons (人口库), organizations (法人库),
places (地理空间库), their history, access log, quality issues and import runs."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core import clock
from smartcity.core.db import Base, Timestamps, UUIDPk

_BIGINT_PK = BigInteger().with_variant(Integer(), "sqlite")


class Person(UUIDPk, Timestamps, Base):
    """A resident in the population registry (人口库), keyed by resident ID number."""

    __tablename__ = "person"

    id_number: Mapped[str] = mapped_column(String(18), unique=True)  # GB 11643
    name: Mapped[str] = mapped_column(String(50), index=True)
    sex: Mapped[str] = mapped_column(String(8))  # male / female, derived from the number
    birth_date: Mapped[date]  # derived from the number
    ethnicity: Mapped[str] = mapped_column(String(20), default="")  # 民族
    phone: Mapped[str] = mapped_column(String(20), default="")
    hukou_division_code: Mapped[str] = mapped_column(String(6), default="")  # 户籍地
    residence_address: Mapped[str] = mapped_column(String(200), default="")
    # The grid the residence resolves to (网格 place code), and the point it was resolved from.
    residence_place_code: Mapped[str | None] = mapped_column(String(32), index=True)
    residence_lon: Mapped[float | None] = mapped_column(Float)
    residence_lat: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="living")  # living/deceased/moved_out
    social_insurance_status: Mapped[str] = mapped_column(String(16), default="")
    # A citizen's own platform account, for 我的数据.
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), unique=True
    )
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


class Organization(UUIDPk, Timestamps, Base):
    """A legal entity in the legal-person registry (法人库), keyed by unified social credit code."""

    __tablename__ = "organization"

    uscc: Mapped[str] = mapped_column(String(18), unique=True)  # GB 32100
    name: Mapped[str] = mapped_column(String(200), index=True)
    # enterprise, public_institution, social_organization, government_body
    org_type: Mapped[str] = mapped_column(String(32))
    legal_representative_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    registered_address: Mapped[str] = mapped_column(String(200), default="")
    registered_place_code: Mapped[str | None] = mapped_column(String(32), index=True)
    industry: Mapped[str] = mapped_column(String(100), default="")  # GB/T 4754 section or class
    established_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), default="active")  # active/revoked/cancelled
    # The entity's own platform account (法人账户), for applying online with what the
    # registry holds (免提交).
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), unique=True
    )
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


class Place(UUIDPk, Timestamps, Base):
    """A place in the geospatial registry (地理空间库): 街道, 社区, 网格 under a district, and
    buildings, addresses, road segments and points of interest. Geometry is GeoJSON (WGS 84);
    the bounding box columns let point-in-polygon look at few candidates."""

    __tablename__ = "place"
    __table_args__ = (
        Index("ix_place_kind_bbox", "kind", "min_lon", "max_lon", "min_lat", "max_lat"),
    )

    code: Mapped[str] = mapped_column(String(32), unique=True)
    # street, community, grid, building, address, road_segment, poi
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    # The enclosing place's code; for a street, its district's GB/T 2260 code (core.division).
    parent_code: Mapped[str | None] = mapped_column(String(32), index=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


class RecordVersion(Base):
    """One version of a registry record: the full record as it was from ``valid_from`` until
    ``valid_to``, and who changed what to make it. Reading "as of" an instant is one lookup."""

    __tablename__ = "registry_version"
    __table_args__ = (Index("ix_registry_version_record", "record_type", "record_id", "version"),)

    id: Mapped[int] = mapped_column(_BIGINT_PK, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(16))  # person, organization, place
    record_id: Mapped[uuid.UUID]
    version: Mapped[int]
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {field: [old, new]}; empty for the first version.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attribute_group: Mapped[str] = mapped_column(String(32), default="")
    source_department_code: Mapped[str] = mapped_column(String(32), default="")
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(200), default="")


class AccessLog(Base):
    """Every read of a person's record, by anyone (个人信息访问记录): the person can see it."""

    __tablename__ = "person_access_log"
    __table_args__ = (Index("ix_person_access_log_person_at", "person_id", "at"),)

    id: Mapped[int] = mapped_column(_BIGINT_PK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    person_id: Mapped[uuid.UUID]
    actor: Mapped[str] = mapped_column(String(100))
    actor_kind: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str] = mapped_column(String(32), default="")
    # What for: a page view, a search, an exchange call with its stated purpose.
    purpose: Mapped[str] = mapped_column(String(200), default="")
    via: Mapped[str] = mapped_column(String(16))  # page, api, exchange, export
    # Which fields were disclosed unmasked.
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    case_number: Mapped[str] = mapped_column(String(64), default="")  # 办件号
    # Who read, as the person is told: the officer's display name, or the system reading.
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    # The exchange grant (共享授权) a machine read was made under, as the person is told.
    grant_name: Mapped[str] = mapped_column(String(200), default="")
    # Repeats of the same read on the same city day fold into this row (see log_reads):
    # how many reads it stands for and when the last one was.
    reads: Mapped[int] = mapped_column(default=1)
    last_at: Mapped[datetime | None]


class QualityIssue(Base):
    """A data-quality problem found by a rule, for the responsible source department to fix."""

    __tablename__ = "quality_issue"
    __table_args__ = (Index("ix_quality_issue_open", "record_type", "resolved_at"),)

    id: Mapped[int] = mapped_column(_BIGINT_PK, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[uuid.UUID] = mapped_column(index=True)
    rule: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str] = mapped_column(String(32), index=True)
    message: Mapped[str] = mapped_column(String(300))
    detected_at: Mapped[datetime] = mapped_column(default=clock.now)
    resolved_at: Mapped[datetime | None]


class ImportRun(UUIDPk, Base):
    """A bulk import: resumable from ``rows_done`` after a crash; rejects go to a file."""

    __tablename__ = "registry_import_run"

    record_type: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(300))
    source_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running/done/failed
    rows_done: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    rejects_path: Mapped[str] = mapped_column(String(300), default="")
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]
