"""Request and response schemas of the cases API (办件接口)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CaseRead(BaseModel):
    """A case (办件) with its clocks."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    case_type: str
    state: str
    title: str
    applicant_account_id: uuid.UUID | None
    department_id: uuid.UUID
    assignee_account_id: uuid.UUID | None
    data: dict[str, Any]
    category: str
    opened_at: datetime
    statutory_days: int
    promised_days: int | None
    statutory_due_at: datetime
    statutory_warning: str
    promised_due_at: datetime | None
    promised_warning: str
    step_due_at: datetime | None
    step_warning: str
    next_due_at: datetime
    provisional: bool
    paused_at: datetime | None
    paused_workdays: int
    closed_at: datetime | None
    handled_workdays: int | None
    on_time: bool | None
    version: int


class CaseEventRead(BaseModel):
    """One line of the timeline (办理过程)."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    kind: str
    name: str
    from_state: str
    to_state: str
    data: dict[str, Any]


class CaseDetail(BaseModel):
    """A case and its timeline."""

    case: CaseRead
    timeline: list[CaseEventRead]


class TransitionInput(BaseModel):
    """The fields a step needs, e.g. ``{"reason": "..."}`` for a refusal."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Any] = Field(default_factory=dict)


class AssignInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer: str = Field(min_length=1, max_length=64)


class TransferInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str = Field(min_length=1, max_length=32)
    reason: str = Field(max_length=500)
