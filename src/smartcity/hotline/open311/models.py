"""Tables of the Open311 GeoReport v2 interface: what a client application sent with a request
beside its work order, the photo it uploaded, and the numbered updates clients follow
(FixMyStreet's ``servicerequestupdates``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base, UTCDateTime, UUIDPk


class Open311Request(Base):
    """A work order received through Open311: the client application that posted it, the
    token it was given and the contact details beside the order's own (name, phone)."""

    __tablename__ = "open311_request"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_order.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(32), unique=True)
    # The username of the system account whose API key posted it (the client application).
    client: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), default="")
    device_id: Mapped[str] = mapped_column(String(100), default="")
    account_ref: Mapped[str] = mapped_column(String(100), default="")
    media_url: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), index=True)


class Open311Media(UUIDPk, Base):
    """A photo uploaded with a request (multipart ``media``), checked by its first bytes."""

    __tablename__ = "open311_media"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_order.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class Open311Update(Base):
    """One step of an Open311 request's order, numbered in the order it happened: its
    ``update_id`` is the sequence clients page on."""

    __tablename__ = "open311_update"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_order.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), index=True)
    step: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    # What the step said: the answer, the reason or the comment; the rating (a key of
    # RATINGS) and the department it went to, as codes shown in the reader's language.
    note: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[str] = mapped_column(String(24), default="")
    department_code: Mapped[str] = mapped_column(String(32), default="")
