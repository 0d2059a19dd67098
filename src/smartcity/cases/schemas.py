"""Request and response schemas of the cases API (办件接口)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smartcity.core.text import FreeText


class DeadlineRead(BaseModel):
    """The case's deadline at the answer's instant, after the one rule (cases/deadline.py):
    the pages, messages, CSV and the board show the same."""

    model_config = ConfigDict(from_attributes=True)

    clock: Literal["statutory", "promised", "step"]
    due_date: date
    due_at: datetime
    remaining: int
    state: Literal["on_time", "warning", "overdue", "paused", "closed"]


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
    deadline: DeadlineRead | None = None


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
    """The fields a step needs, e.g. ``{"reason": "..."}`` for a refusal, and the approval
    opinion (审批意见) a decisive step requires (here or as ``fields.opinion``)."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Any] = Field(default_factory=dict, max_length=20)
    opinion: FreeText | None = Field(default=None, max_length=1000)

    def step_fields(self) -> dict[str, Any]:
        fields = dict(self.fields)
        if self.opinion is not None:
            fields["opinion"] = self.opinion
        return fields


class AssignInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer: str = Field(min_length=1, max_length=64)


class TransferInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str = Field(min_length=1, max_length=32)
    reason: FreeText = Field(max_length=500)


class CommentInput(BaseModel):
    """A note on the timeline (办理意见)."""

    model_config = ConfigDict(extra="forbid")

    text: FreeText = Field(max_length=2000)


class CorrectionInput(BaseModel):
    """A correction of the case's state outside the declared steps (纠错), with a reason."""

    model_config = ConfigDict(extra="forbid")

    to_state: str = Field(min_length=1, max_length=64)
    reason: FreeText = Field(max_length=500)


class FlagRead(BaseModel):
    """An irregularity flag of electronic supervision (电子监察异常) with its case."""

    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    case_title: str
    case_type: str
    department_id: uuid.UUID
    kind: str
    raised_at: datetime
    actor: str
    detail: dict[str, Any]
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_note: str
    review_outcome: str


class FlagReviewInput(BaseModel):
    """A supervisor's review (核查) of a flag: what was found."""

    model_config = ConfigDict(extra="forbid")

    note: FreeText = Field(max_length=500)
    # Existing clients sent only the note: their reviews confirm the flag.
    outcome: Literal["confirmed", "dismissed"] = "confirmed"


class UrgeInput(BaseModel):
    """A supervisor's urging (督办) of the case's department: a note and the working days
    within which the department must reply."""

    model_config = ConfigDict(extra="forbid")

    note: FreeText = Field(max_length=500)
    reply_days: int = Field(default=3, strict=True, ge=1, le=10)


class UrgeReplyInput(BaseModel):
    """The urged department's reply (督办回复)."""

    model_config = ConfigDict(extra="forbid")

    reply: FreeText = Field(max_length=1000)


class UrgeRead(BaseModel):
    """An urging (督办) and the department's reply, with whether it is overdue."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    department_id: uuid.UUID
    urged_at: datetime
    urged_by: str
    note: str
    reply_days: int
    reply_due_at: datetime
    replied_at: datetime | None
    replied_by: str | None
    reply: str
    overdue: bool = False


class StepRead(BaseModel):
    """A step (流转) the caller may take on the case now, and the fields it needs."""

    name: str
    title: str
    to_state: str
    to_state_title: str
    required_fields: list[str]
    refusal: bool
    # A decision (准予许可, 不予许可, 不予受理): it needs ``opinion``.
    decisive: bool = False


class RatingInput(BaseModel):
    """The applicant's evaluation (好差评): 1 (非常不满意) to 5 (非常满意)."""

    model_config = ConfigDict(extra="forbid")

    # Strict: a score of "5" or true is a client's mistake, not a rating.
    score: int = Field(strict=True)
    comment: FreeText = Field(default="", max_length=500)


class RatingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: uuid.UUID
    score: int
    comment: str
    rated_at: datetime
