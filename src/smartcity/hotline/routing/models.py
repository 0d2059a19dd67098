"""Tables of the hotline's routing (智能分派): the trained classifiers, versioned, and what
routing decided for each new order; the duplicate proposals (疑似重复) and merges (合并工单)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base, UTCDateTime, UUIDPk


class RoutingModel(UUIDPk, Base):
    """One trained classifier: its version, what it was trained on, its held-out metrics
    and the fitted pipeline as joblib bytes (our own, loaded only from our own database)."""

    __tablename__ = "hotline_model"

    version: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    trained_on: Mapped[int] = mapped_column(Integer)
    # macro_f1, accuracy, baseline_macro_f1, baseline_accuracy, held_out, classes, seconds
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Only a model that beat the majority-class baseline on the held-out split ships.
    shipped: Mapped[bool] = mapped_column(Boolean, index=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class OrderRouting(Base):
    """What routing decided for one order: the model's top three, its confidence and
    whether it dispatched the order itself (auto) or left it to the dispatcher (queue);
    a dispatcher's choice among the suggestions later sets ``manual``."""

    __tablename__ = "hotline_routing"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_order.id", ondelete="CASCADE"), primary_key=True
    )
    model_version: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    department_code: Mapped[str] = mapped_column(String(32), default="")
    # auto, queue (waits with its suggestions), manual (a dispatcher chose), none (no model)
    mode: Mapped[str] = mapped_column(String(8))
    # [{"category": .., "department": .., "confidence": ..}, ...] best first, at most 3
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    routed_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class DuplicateProposal(UUIDPk, Base):
    """A new order that looks like an open one (near, recent, similar): proposed for merging;
    the dispatcher merges it (the parent's handling answers both callers) or rejects it."""

    __tablename__ = "hotline_duplicate"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_order.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_order.id", ondelete="CASCADE"), index=True
    )
    distance_m: Mapped[float] = mapped_column(Float)
    similarity: Mapped[float] = mapped_column(Float)
    # proposed, merged, rejected
    state: Mapped[str] = mapped_column(String(12), index=True)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    decided_by: Mapped[str] = mapped_column(String(100), default="")
