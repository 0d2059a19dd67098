"""Tables of the sensing engine (物联感知): the OGC SensorThings API v1.1 entities.

Integer ids because the standard's clients expect ``@iot.id`` numbers. Geometry is GeoJSON in
JSON columns (shapely computes on it). Observations are keyed for time-range reads of one
datastream and, on PostgreSQL, range-partitioned by month of phenomenon time (migration 0006);
the ORM maps them the same on both databases.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base, UTCDateTime

# BIGINT on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid, and AUTOINCREMENT keeps
# a deleted entity's id from being handed out again (clients and subscribers cache ids).
STA_ID = BigInteger().with_variant(Integer(), "sqlite")
_AUTOINC = {"sqlite_autoincrement": True}

# How an Observation's result is stored: the typed column the filters compare on.
RESULT_NUMBER, RESULT_INTEGER, RESULT_BOOLEAN, RESULT_STRING, RESULT_JSON, RESULT_NULL = (
    0,
    1,
    2,
    3,
    4,
    5,
)


class StaThing(Base):
    """A Thing (物): a device, station or system that can be identified on the network."""

    __tablename__ = "sta_thing"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The device account that may write this Thing's observations (not part of the standard).
    owner_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    # Whether anyone may read it (the default) or only staff and its owner (not part of the
    # standard: e.g. a water meter in a home).
    public: Mapped[bool] = mapped_column(default=True, server_default=true())


class StaLocation(Base):
    """A Location (位置): where a Thing is, last known."""

    __tablename__ = "sta_location"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    encoding_type: Mapped[str] = mapped_column(String(100))
    location: Mapped[Any] = mapped_column(JSON)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)


thing_location = Table(
    "sta_thing_location",
    Base.metadata,
    Column("thing_id", STA_ID, ForeignKey("sta_thing.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "location_id",
        STA_ID,
        ForeignKey("sta_location.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class StaHistoricalLocation(Base):
    """A HistoricalLocation (历史位置): when a Thing was known to be at its Locations."""

    __tablename__ = "sta_historical_location"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    thing_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_thing.id", ondelete="CASCADE"), index=True
    )


historical_location_location = Table(
    "sta_historical_location_location",
    Base.metadata,
    Column(
        "historical_location_id",
        STA_ID,
        # Named by hand: the convention's name passes PostgreSQL's 63 characters.
        ForeignKey(
            "sta_historical_location.id",
            ondelete="CASCADE",
            name="fk_sta_historical_location_location_historical_location",
        ),
        primary_key=True,
    ),
    Column(
        "location_id",
        STA_ID,
        ForeignKey("sta_location.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class StaSensor(Base):
    """A Sensor (传感器): the instrument, with its datasheet or SensorML description."""

    __tablename__ = "sta_sensor"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    encoding_type: Mapped[str] = mapped_column(String(100))
    # "metadata" is reserved on declarative classes; the column keeps the standard's name.
    sensor_metadata: Mapped[Any] = mapped_column("metadata", JSON)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class StaObservedProperty(Base):
    """An ObservedProperty (观测属性): the phenomenon observed, e.g. PM2.5 mass concentration."""

    __tablename__ = "sta_observed_property"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    definition: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class _StreamColumns:
    """What Datastreams and MultiDatastreams share. The time ranges and the observed area
    are kept up to date by the ingestion path, once per written batch (never per row)."""

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    observation_type: Mapped[str] = mapped_column(String(200))
    observed_area: Mapped[Any | None] = mapped_column(JSON)
    phenomenon_time_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    phenomenon_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result_time_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Observations older than this many days are deleted by the retention job (not part of
    # the standard); None keeps them for ever.
    retention_days: Mapped[int | None] = mapped_column(Integer)


class StaDatastream(_StreamColumns, Base):
    """A Datastream (数据流): the Observations of one ObservedProperty by one Sensor."""

    __tablename__ = "sta_datastream"
    __table_args__ = _AUTOINC

    unit_of_measurement: Mapped[Any] = mapped_column(JSON)
    thing_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_thing.id", ondelete="CASCADE"), index=True
    )
    sensor_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_sensor.id", ondelete="CASCADE"), index=True
    )
    observed_property_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_observed_property.id", ondelete="CASCADE"), index=True
    )
    # Its Observations are computed by the platform (an air station's AQI): no client, not
    # even a department's key, may write or change them (not part of the standard).
    computed: Mapped[bool] = mapped_column(default=False, server_default=false())


class StaMultiDatastream(_StreamColumns, Base):
    """A MultiDatastream (多值数据流): Observations whose result is an array, one element per
    ObservedProperty, in order."""

    __tablename__ = "sta_multi_datastream"
    __table_args__ = _AUTOINC

    unit_of_measurements: Mapped[list[Any]] = mapped_column(JSON)
    multi_observation_data_types: Mapped[list[str]] = mapped_column(JSON)
    thing_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_thing.id", ondelete="CASCADE"), index=True
    )
    sensor_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_sensor.id", ondelete="CASCADE"), index=True
    )


class StaMultiDatastreamObservedProperty(Base):
    """The ordered ObservedProperties of a MultiDatastream: ``position`` is the index of the
    result element (and of the unit and data type) that observes it."""

    __tablename__ = "sta_multi_datastream_observed_property"

    multi_datastream_id: Mapped[int] = mapped_column(
        STA_ID,
        ForeignKey(
            "sta_multi_datastream.id", ondelete="CASCADE", name="fk_sta_mds_op_multi_datastream"
        ),
        primary_key=True,
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    observed_property_id: Mapped[int] = mapped_column(
        STA_ID,
        ForeignKey(
            "sta_observed_property.id", ondelete="CASCADE", name="fk_sta_mds_op_observed_property"
        ),
        index=True,
    )


class StaFeatureOfInterest(Base):
    """A FeatureOfInterest (观测对象): what an Observation observes, often the Thing's place."""

    __tablename__ = "sta_feature_of_interest"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    encoding_type: Mapped[str] = mapped_column(String(100))
    feature: Mapped[Any] = mapped_column(JSON)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # sha256 of the canonical (encodingType, feature): Observations without a FeatureOfInterest
    # reuse the one identical to their Thing's Location instead of creating one per row.
    feature_hash: Mapped[str] = mapped_column(String(64), index=True)


class StaObservation(Base):
    """An Observation (观测值). The result is kept in the typed column its JSON type calls for
    (``result_kind``), so filters and sorting on numbers and strings run in SQL."""

    __tablename__ = "sta_observation"
    __table_args__ = (
        CheckConstraint(
            "(datastream_id IS NULL) <> (multi_datastream_id IS NULL)", name="one_stream"
        ),
        Index("ix_sta_observation_stream_time", "datastream_id", "phenomenon_time_start", "id"),
        Index(
            "ix_sta_observation_multi_stream_time",
            "multi_datastream_id",
            "phenomenon_time_start",
            "id",
        ),
        Index("ix_sta_observation_feature", "feature_of_interest_id"),
        _AUTOINC,
    )

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    # An instant has no end; an interval has both.
    phenomenon_time_start: Mapped[datetime] = mapped_column(UTCDateTime())
    phenomenon_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result_kind: Mapped[int] = mapped_column(SmallInteger)
    result_number: Mapped[float | None] = mapped_column(Float)
    result_string: Mapped[str | None] = mapped_column(Text)
    result_boolean: Mapped[bool | None] = mapped_column(Boolean)
    result_json: Mapped[Any | None] = mapped_column(JSON)
    result_quality: Mapped[Any | None] = mapped_column(JSON)
    valid_time_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    datastream_id: Mapped[int | None] = mapped_column(
        STA_ID, ForeignKey("sta_datastream.id", ondelete="CASCADE")
    )
    multi_datastream_id: Mapped[int | None] = mapped_column(
        STA_ID, ForeignKey("sta_multi_datastream.id", ondelete="CASCADE")
    )
    feature_of_interest_id: Mapped[int] = mapped_column(
        STA_ID,
        ForeignKey(
            "sta_feature_of_interest.id",
            ondelete="CASCADE",
            name="fk_sta_observation_feature_of_interest",
        ),
    )


__all__ = [
    "RESULT_BOOLEAN",
    "RESULT_INTEGER",
    "RESULT_JSON",
    "RESULT_NULL",
    "RESULT_NUMBER",
    "RESULT_STRING",
    "STA_ID",
    "StaDatastream",
    "StaFeatureOfInterest",
    "StaHistoricalLocation",
    "StaLocation",
    "StaMultiDatastream",
    "StaMultiDatastreamObservedProperty",
    "StaObservation",
    "StaObservedProperty",
    "StaSensor",
    "StaThing",
    "historical_location_location",
    "thing_location",
]


class StaMqttDeadLetter(Base):
    """An MQTT message the bridge could not turn into an Observation (死信): kept with the
    reason so a malformed message is never lost silently and never stops the stream."""

    __tablename__ = "sta_mqtt_dead_letter"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    topic: Mapped[str] = mapped_column(Text)
    # Decoded as UTF-8 with replacement and cut to mqtt.PAYLOAD_KEPT characters.
    payload: Mapped[str] = mapped_column(Text)
    payload_bytes: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
