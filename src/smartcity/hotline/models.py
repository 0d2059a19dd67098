"""Tables of the 12345 hotline (政务服务便民热线): the work order's own facts beside its case,
and the follow-up calls (回访) with the caller's rating."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base, UTCDateTime, UUIDPk


class WorkOrder(UUIDPk, Base):
    """A citizen's request (工单): kind, category, place, caller; its lifecycle is the case's."""

    __tablename__ = "hotline_order"
    __table_args__ = (
        Index("ix_hotline_order_department_state", "department_code", "state"),
        Index("ix_hotline_order_received_at", "received_at"),
        # The insight's hot spots read only this index (hotline/insight/service.py).
        Index(
            "ix_hotline_order_insight",
            "received_at",
            "district_code",
            "street_code",
            "category_code",
            "handling_department_code",
            "department_code",
        ),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), unique=True
    )
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # phone, web, api
    text: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(200), default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    district_code: Mapped[str] = mapped_column(String(32), default="")
    street_code: Mapped[str] = mapped_column(String(32), default="")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # The caller: a person of the population registry (found by ID number or phone), an
    # account (a citizen reporting on the web), or neither (anonymous). Name and phone are
    # what the caller gave; pages mask them for the handling department.
    caller_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    caller_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    caller_name: Mapped[str] = mapped_column(String(50), default="")
    caller_phone: Mapped[str] = mapped_column(String(20), default="")
    # Mirrors of the case kept for the lists (the hotline's own rows, written with each step).
    state: Mapped[str] = mapped_column(String(32))
    department_code: Mapped[str] = mapped_column(String(32))
    limit_days: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    handling_department_code: Mapped[str] = mapped_column(String(32), default="")
    reworks: Mapped[int] = mapped_column(Integer, default=0)
    reply: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[str] = mapped_column(String(24), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))


class OrderVisit(UUIDPk, Base):
    """One follow-up (回访) of an answered order: the caller's rating and what they said."""

    __tablename__ = "hotline_visit"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_order.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    rating: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(100))
    online: Mapped[bool] = mapped_column(Boolean, default=False)


class OrderExtension(UUIDPk, Base):
    """A request for 延期 of an order's limit by its handling department, and the 12345
    centre's decision on it (pending, approved, rejected). An approved one has moved the case's
    clocks; at most one is pending per order."""

    __tablename__ = "hotline_extension"
    __table_args__ = (
        Index("ix_hotline_extension_state_requested", "state", "requested_at"),
        # One request pending per order, even when two are sent at once.
        Index(
            "uq_hotline_extension_pending",
            "order_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_order.id", ondelete="CASCADE"), index=True
    )
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    department_code: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")
