"""Tables of the sensing rules and their alerts (监测规则, 告警): a rule, what it remembers of
each datastream between Observations, and the alerts it raises."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core import clock
from smartcity.core.db import Base, UTCDateTime
from smartcity.sensing.models import STA_ID


class SensingRule(Base):
    """A rule (监测规则) on one datastream or on all datastreams of an observed property."""

    __tablename__ = "sensing_rule"
    __table_args__ = (
        CheckConstraint(
            "(datastream_id IS NULL) <> (observed_property_id IS NULL)", name="one_scope"
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(16))
    datastream_id: Mapped[int | None] = mapped_column(
        STA_ID, ForeignKey("sta_datastream.id", ondelete="CASCADE"), index=True
    )
    observed_property_id: Mapped[int | None] = mapped_column(
        STA_ID, ForeignKey("sta_observed_property.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class SensingRuleState(Base):
    """What a rule remembers of one datastream between Observations."""

    __tablename__ = "sensing_rule_state"

    rule_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sensing_rule.id", ondelete="CASCADE"), primary_key=True
    )
    datastream_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_datastream.id", ondelete="CASCADE"), primary_key=True
    )
    last_time: Mapped[datetime] = mapped_column(UTCDateTime())
    # rate: {"points": [[iso time, result], ...]} inside the window; n_of_m: {"flags": [...]}
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class SensingAlert(Base):
    """An alert (告警) a rule raised on one datastream."""

    __tablename__ = "sensing_alert"
    __table_args__ = (
        # One unresolved alert per rule and datastream, also against concurrent deliveries.
        Index(
            "ux_sensing_alert_active",
            "rule_id",
            "datastream_id",
            unique=True,
            sqlite_where=text("status <> 'resolved'"),
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index("ix_sensing_alert_status_opened", "status", "opened_at"),
        Index("ix_sensing_alert_last_raised", "last_raised_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sensing_rule.id", ondelete="CASCADE"), index=True
    )
    datastream_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_datastream.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The measure that breached: the result (threshold, N of M), the rate per minute (rate of
    # change) or the minutes without data (silence).
    first_value: Mapped[float | None] = mapped_column(Float)
    last_value: Mapped[float | None] = mapped_column(Float)
    last_time: Mapped[datetime] = mapped_column(UTCDateTime())
    breach_count: Mapped[int] = mapped_column(Integer, default=1)
    # How often the rule raised this alert: 1 when opened, one more each time it raised again
    # within the fold window after clearing by itself (alerts.FOLD_WINDOW), when the alert
    # is reopened instead of a new one opening. ``last_raised_at`` is the wall-clock time of
    # the latest raise, by which the list sorts.
    raise_count: Mapped[int] = mapped_column(Integer, default=1)
    last_raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    message: Mapped[str] = mapped_column(Text, default="")
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    # "auto" when the rule's own condition cleared it, "manual" when staff closed it.
    resolution: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class SensingAlertEvent(Base):
    """One step in an alert's history (告警记录): raised, reopened, auto_resolved,
    acknowledged, resolved; who (the officer's name, or the platform), when (wall clock),
    the reading's time and the measure at that step, and the officer's note."""

    __tablename__ = "sensing_alert_event"
    __table_args__ = (
        Index("ix_sensing_alert_event_alert", "alert_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sensing_alert.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    reading_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    value: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
