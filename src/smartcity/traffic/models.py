"""The traffic module's own tables (交通领域数据): segment attributes, intersections, the
per-minute road state, the index history, corridors and parking facilities. Detectors and
their readings live in the sensing engine (SensorThings), reached through its contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base, UTCDateTime


class Segment(Base):
    """A road segment (路段): one direction of a road between two nodes."""

    __tablename__ = "traffic_segment"

    code: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    road_class: Mapped[str] = mapped_column(String(16))
    lanes: Mapped[int] = mapped_column(SmallInteger)
    length_m: Mapped[float] = mapped_column(Float)
    free_flow_kmh: Mapped[float] = mapped_column(Float)
    speed_limit_kmh: Mapped[float] = mapped_column(Float)
    district_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    # [[lon, lat], ...] WGS 84 (or the net's metres when the net had no projection)
    coordinates: Mapped[Any] = mapped_column(JSON)
    from_node: Mapped[str] = mapped_column(String(120), default="")
    to_node: Mapped[str] = mapped_column(String(120), default="")


class Intersection(Base):
    """A signalised intersection (信号控制路口) with its signal programmes' ids."""

    __tablename__ = "traffic_intersection"

    code: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    signal_programs: Mapped[Any] = mapped_column(JSON, default=list)


class SegmentState(Base):
    """A segment's state in one minute (路况, the minute starting at ``minute``): means of its
    detectors' readings, or the last state carried forward (``carried`` minutes) when none
    came; ``level`` is ``no_data`` once carrying ran out."""

    __tablename__ = "traffic_segment_state"
    __table_args__ = (Index("ix_traffic_segment_state_minute", "minute"),)

    segment_code: Mapped[str] = mapped_column(String(120), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), primary_key=True)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    flow_vph: Mapped[float | None] = mapped_column(Float)
    occupancy_pct: Mapped[float | None] = mapped_column(Float)
    saturation: Mapped[float | None] = mapped_column(Float)
    tti: Mapped[float | None] = mapped_column(Float)
    tpi: Mapped[float | None] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(20))
    readings: Mapped[int] = mapped_column(Integer, default=0)
    carried: Mapped[int] = mapped_column(SmallInteger, default=0)


class IndexPoint(Base):
    """The TPI of the city (``scope`` = "city") or a district (its code) in one minute."""

    __tablename__ = "traffic_index"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), primary_key=True)
    tpi: Mapped[float] = mapped_column(Float)
    tti: Mapped[float] = mapped_column(Float)
    segments: Mapped[int] = mapped_column(Integer)


class Corridor(Base):
    """A named corridor (通道): an ordered list of segments whose travel time is published."""

    __tablename__ = "traffic_corridor"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    segment_codes: Mapped[Any] = mapped_column(JSON)


class ParkingFacility(Base):
    """A parking facility (停车场) with its capacity; free spaces come from its detectors."""

    __tablename__ = "traffic_parking"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    capacity: Mapped[int] = mapped_column(Integer)
    district_code: Mapped[str] = mapped_column(String(32), default="")
    free: Mapped[int | None] = mapped_column(Integer)
    free_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))


class JobMark(Base):
    """How far the minute job computed (``name`` = "state"): the last minute done."""

    __tablename__ = "traffic_job_mark"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    through: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    # the largest Observation id read, so readings that come in late are found by id
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)


class Incident(Base):
    """A possible incident (疑似事件) or a severe congestion the minute job found; the Atom
    feed publishes them."""

    __tablename__ = "traffic_incident"
    __table_args__ = (Index("ix_traffic_incident_minute", "minute"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # incident, congestion
    segment_code: Mapped[str] = mapped_column(String(120))
    minute: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    speed_kmh: Mapped[float] = mapped_column(Float)
    baseline_kmh: Mapped[float | None] = mapped_column(Float)
