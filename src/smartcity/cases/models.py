"""Tables of the case engine (办件): cases with their clocks and the timeline of events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core import clock
from smartcity.core.db import Base, UUIDPk

_BIGINT_PK = BigInteger().with_variant(Integer(), "sqlite")

# Warning levels of each clock (预警): none, yellow (黄牌, share of the limit used), red (红牌,
# overdue).
WARNING_LEVELS = ("none", "yellow", "red")


class Case(UUIDPk, Base):
    """A case (办件) of a declared type, with its statutory, promised and step clocks."""

    __tablename__ = "case_file"
    __table_args__ = (
        Index("ix_case_file_queue", "department_id", "closed_at", "next_due_at"),
        # The warning sweep reads open, running cases by their next threshold.
        Index("ix_case_file_open", "closed_at", "paused_at"),
    )

    number: Mapped[str] = mapped_column(String(40), unique=True)
    case_type: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    applicant_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT")
    )
    assignee_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Each clock: the instant it runs out (24:00 of the last working day) and the instant its
    # yellow share is reached, both computed with the working-day calendar so the sweep is a
    # plain comparison with now.
    statutory_due_at: Mapped[datetime]
    statutory_warn_at: Mapped[datetime]
    statutory_warning: Mapped[str] = mapped_column(String(8), default="none")
    promised_due_at: Mapped[datetime | None]
    promised_warn_at: Mapped[datetime | None]
    promised_warning: Mapped[str] = mapped_column(String(8), default="none")
    step_started_at: Mapped[datetime] = mapped_column(default=clock.now)
    step_due_at: Mapped[datetime | None]
    step_warn_at: Mapped[datetime | None]
    step_warning: Mapped[str] = mapped_column(String(8), default="none")
    # The nearest of the running clocks' ends: the work queue's sort key after red cases.
    next_due_at: Mapped[datetime]
    # True while a deadline lies in a year the calendar knows only by weekends.
    provisional: Mapped[bool] = mapped_column(default=False)
    paused_at: Mapped[datetime | None]
    paused_workdays: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    # Optimistic locking: two officers acting on one case at once cannot both win.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseEvent(Base):
    """One line of a case's timeline (办理过程): a transition, comment, assignment, transfer,
    clock change or warning."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case", "case_id", "seq"),)

    seq: Mapped[int] = mapped_column(_BIGINT_PK, primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor: Mapped[str] = mapped_column(String(100))
    # transition, comment, assignment, transfer, clock, warning
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    from_state: Mapped[str] = mapped_column(String(64), default="")
    to_state: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
