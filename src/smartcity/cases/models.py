"""Tables of the case engine (办件): cases with their clocks and the timeline of events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core import clock
from smartcity.core.db import Base, UUIDPk

_BIGINT_PK = BigInteger().with_variant(Integer(), "sqlite")

# Warning levels of each clock (预警): none, yellow (黄牌, share of the limit used), red (红牌,
# overdue).
WARNING_LEVELS = ("none", "yellow", "red")


OPEN = "closed_at IS NULL"
# The cases whose clocks run: open and not waiting for the applicant.
RUNNING = "closed_at IS NULL AND paused_at IS NULL"


def _sweep_index(name: str, *columns: str) -> Index:
    """A partial index over running cases for one pass of the warning sweep. Leading with
    closed_at and paused_at (always NULL in it) makes SQLite, which has no statistics here,
    prefer it over the other indexes on closed_at."""
    return Index(
        name,
        "closed_at",
        "paused_at",
        *columns,
        sqlite_where=text(RUNNING),
        postgresql_where=text(RUNNING),
    )


class Case(UUIDPk, Base):
    """A case (办件) of a declared type, with its statutory, promised and step clocks."""

    __tablename__ = "case_file"
    __table_args__ = (
        Index("ix_case_file_queue", "department_id", "closed_at", "next_due_at"),
        # The warning sweep: per clock, the red pass reads running cases by due instant and
        # the yellow pass those still without a warning by yellow instant, so a sweep reads
        # the overdue and the newly crossing cases, not every open one (bench/cases_sweep.py).
        _sweep_index("ix_case_file_sweep_statutory_due", "statutory_due_at", "statutory_warning"),
        _sweep_index("ix_case_file_sweep_statutory_warn", "statutory_warning", "statutory_warn_at"),
        _sweep_index("ix_case_file_sweep_promised_due", "promised_due_at", "promised_warning"),
        _sweep_index("ix_case_file_sweep_promised_warn", "promised_warning", "promised_warn_at"),
        _sweep_index("ix_case_file_sweep_step_due", "step_due_at", "step_warning"),
        _sweep_index("ix_case_file_sweep_step_warn", "step_warning", "step_warn_at"),
        # The supervision board groups the closed cases of a range of months by department,
        # category and month: every column it reads is in the index (ratings join by id), so
        # the range is read from the index alone (bench/cases_board.py).
        Index(
            "ix_case_file_board",
            "closed_at",
            "department_id",
            "category",
            "case_type",
            "handled_workdays",
            "on_time",
            "id",
        ),
        # ... and the open cases (a few per cent of them) by department, category and state
        # with their warnings, from this small index alone (PostgreSQL; SQLite reads them
        # through ix_case_file_board as fast).
        Index(
            "ix_case_file_board_open",
            "department_id",
            "category",
            "case_type",
            "state",
            "statutory_warning",
            "promised_warning",
            "step_warning",
            "paused_at",
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
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
    # What the case is about within its type, for the boards: the service item's code for an
    # application (事项编码), a hotline category later.
    category: Mapped[str] = mapped_column(String(64), default="", index=True)
    opened_at: Mapped[datetime] = mapped_column(default=clock.now)
    # This case's limits in working days (法定时限, 承诺时限): the type's unless the opener set
    # them, e.g. from the service item applied for.
    statutory_days: Mapped[int] = mapped_column(Integer)
    promised_days: Mapped[int | None] = mapped_column(Integer)
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
    # 延期: working days added to the statutory and promised limits by approved extensions
    # (all of them), and to the step limit by those within the current state.
    extended_workdays: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    step_extended_workdays: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    closed_at: Mapped[datetime | None]
    # Set on closing: working days from opening to closing less the pauses (办理用时), and
    # whether it closed within the promise (or the statutory limit where none was promised).
    handled_workdays: Mapped[int | None]
    on_time: Mapped[bool | None]
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
    # transition, comment, attachment, assignment, transfer, clock, warning, flag, correction
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    from_state: Mapped[str] = mapped_column(String(64), default="")
    to_state: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# Irregularities electronic supervision (电子监察) exists to catch.
FLAG_KINDS = (
    "qualifying_not_accepted",  # a complete application refused acceptance (应受理未受理)
    "refusal_without_reason",  # a refusal with no real reason (不予许可未说明理由)
    "out_of_order",  # a step taken outside the declared order (环节顺序异常)
    "reopened",  # a closed case opened again (办结后重新办理)
)


class CaseFlag(UUIDPk, Base):
    """An irregularity (异常) on a case for supervisors, open until one reviews it (核查)."""

    __tablename__ = "case_flag"
    __table_args__ = (Index("ix_case_flag_open", "reviewed_at", "raised_at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    raised_at: Mapped[datetime] = mapped_column(default=clock.now)
    actor: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    review_note: Mapped[str] = mapped_column(Text, default="")
    # What the review found: "confirmed" (the irregularity is real) or "dismissed"; empty on
    # reviews from before the outcome was asked.
    review_outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")


# What a supervisor's review of a flag may find (核查结论).
REVIEW_OUTCOMES = ("confirmed", "dismissed")


class CaseUrge(UUIDPk, Base):
    """A supervisor urging a department on a case (督办), with a note and a reply deadline in
    working days; open until the department replies (回复)."""

    __tablename__ = "case_urge"
    __table_args__ = (Index("ix_case_urge_open", "department_id", "replied_at", "reply_due_at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), index=True
    )
    # The department urged: the case's when urged; it answers even if the case moves on.
    department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT")
    )
    urged_at: Mapped[datetime] = mapped_column(default=clock.now)
    urged_by: Mapped[str] = mapped_column(String(100))
    urged_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text)
    reply_days: Mapped[int] = mapped_column(Integer)
    reply_due_at: Mapped[datetime]
    replied_at: Mapped[datetime | None]
    replied_by: Mapped[str | None] = mapped_column(String(100))
    reply: Mapped[str] = mapped_column(Text, default="")


class CaseRating(Base):
    """The applicant's evaluation of a finished case (好差评): 1 (非常不满意) to 5 (非常满意)."""

    __tablename__ = "case_rating"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(default=clock.now)
