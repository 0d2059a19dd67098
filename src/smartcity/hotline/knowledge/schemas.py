"""Input and output of the knowledge base's API: AnswerInput in; AnswerRead, hits out."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from smartcity.core.i18n import gettext as _
from smartcity.core.text import FreeText, Name
from smartcity.hotline.schemas import CATEGORY_PATTERN, OrderCreate

TITLE_MAX = 200
ANSWER_MAX = 4000
KEYWORD_MAX = 30
KEYWORDS_MAX = 20
SOURCE_MAX = 200
NUMBER_MAX = 100
LINK_MAX = 500
QUERY_MAX = 100
LINK_PATTERN = r"^https?://[^\s\x00-\x1f\x7f-\x9f]{3,490}$"

State = Literal["draft", "published", "retired"]
Keyword = Annotated[Name, Field(min_length=1, max_length=KEYWORD_MAX)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerInput(_Input):
    """An answer as its department writes it: the question, the answer (中文, English
    optional), the category, keywords people say, the source and the two dates."""

    title: Annotated[Name, Field(min_length=1, max_length=TITLE_MAX)]
    title_en: Annotated[Name, Field(max_length=TITLE_MAX)] = ""
    answer: Annotated[FreeText, Field(min_length=1, max_length=ANSWER_MAX)]
    answer_en: Annotated[FreeText, Field(max_length=ANSWER_MAX)] = ""
    category: Annotated[str, Field(pattern=CATEGORY_PATTERN)]
    keywords: Annotated[list[Keyword], Field(max_length=KEYWORDS_MAX)] = []
    source_name: Annotated[Name, Field(min_length=1, max_length=SOURCE_MAX)]
    source_number: Annotated[Name, Field(max_length=NUMBER_MAX)] = ""
    source_link: Annotated[str, Field(pattern=LINK_PATTERN)] | None = None
    effective_on: date
    review_by: date

    @model_validator(mode="after")
    def _review_after_effect(self) -> AnswerInput:
        if self.review_by < self.effective_on:
            raise ValueError(_("The review date cannot be before the effective date."))
        return self


class UseInput(OrderCreate):
    """A consultation answered with this answer on the call (直接办结): the call as the
    agent takes it; the kind is a consultation and the answer is the knowledge base's."""

    kind: Literal["consultation"] = "consultation"
    answer: Annotated[FreeText, Field(max_length=0)] = ""


class AnswerSummary(BaseModel):
    id: uuid.UUID
    title: str
    title_en: str
    category: str
    category_name: str
    department: str
    state: State
    review_by: date
    review_overdue: bool
    uses: int


class AnswerRead(AnswerSummary):
    answer: str
    answer_en: str
    keywords: list[str]
    source_name: str
    source_number: str
    source_link: str
    effective_on: date
    version: int
    views: int
    updated_at: datetime


class RevisionRead(BaseModel):
    version: int
    title: str
    answer: str
    edited_at: datetime
    edited_by: str


class AnswerFull(AnswerRead):
    revisions: list[RevisionRead]


class Hit(BaseModel):
    """A search result: the answer, its score and an excerpt of the answer."""

    id: uuid.UUID
    title: str
    title_en: str
    category: str
    category_name: str
    department: str
    excerpt: str
    answer: str
    score: float
    source_name: str
    review_by: date


class HitPage(BaseModel):
    query: str
    items: list[Hit]


class AnswerPage(BaseModel):
    items: list[AnswerSummary]
    total: int
    limit: int
    offset: int


class UsedRead(BaseModel):
    order_id: uuid.UUID
    number: str
    state: str
    uses: int
