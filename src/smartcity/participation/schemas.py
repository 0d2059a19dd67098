"""Input and output of public participation's API (never ORM objects)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from smartcity.core.text import FreeText, Name
from smartcity.participation.articles import ARTICLE_MAX, BODY_MAX, MAX_ARTICLES
from smartcity.participation.types import (
    ANSWER_REASON_MAX,
    COMMENT_MAX,
    REASON_MAX,
    REPORT_MAX,
    TITLE_MAX,
    AnswerKind,
    Decision,
    DocumentKind,
    DraftKind,
)

Title = Annotated[
    Name, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)
]
TitleEn = Annotated[Name, StringConstraints(strip_whitespace=True, max_length=300)]
# A window instant: with an offset, or a wall-clock time in Asia/Shanghai when without one.
Instant = Annotated[datetime, Field(ge=datetime(2000, 1, 1), le=datetime(2100, 1, 1))]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftCreate(_Input):
    """A draft: either ``text`` pasted whole (split at 第X条) or ``articles`` one by one."""

    title: Title
    title_en: TitleEn = ""
    kind: DraftKind
    text: Annotated[FreeText, Field(max_length=BODY_MAX)] | None = None
    articles: (
        Annotated[
            list[Annotated[FreeText, Field(max_length=ARTICLE_MAX)]], Field(max_length=MAX_ARTICLES)
        ]
        | None
    ) = None
    opens_at: Instant
    closes_at: Instant


class CommentCreate(_Input):
    """A comment on article ``article`` (its number, 1 = 第一条), or on the whole draft."""

    article: Annotated[int, Field(ge=1, le=MAX_ARTICLES)] | None = None
    text: Annotated[
        FreeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=COMMENT_MAX)
    ]


class ModerationInput(_Input):
    decision: Decision
    reason: Annotated[FreeText, StringConstraints(strip_whitespace=True, max_length=REASON_MAX)] = (
        ""
    )


class AnswerInput(_Input):
    answer: AnswerKind
    reason: Annotated[
        FreeText, StringConstraints(strip_whitespace=True, max_length=ANSWER_REASON_MAX)
    ] = ""


class ReportInput(_Input):
    text: Annotated[FreeText, StringConstraints(strip_whitespace=True, max_length=REPORT_MAX)] = ""


class DocumentCreate(_Input):
    """A regulation or major public investment the department adopted, with its draft if any."""

    title: Title
    title_en: TitleEn = ""
    kind: DocumentKind
    adopted_on: Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))]
    draft: Annotated[str, StringConstraints(max_length=32, pattern=r"^[A-Z0-9-]*$")] = ""


class ArticleRead(BaseModel):
    number: int
    label: str
    chapter: str
    text: str
    comments: int


class CommentRead(BaseModel):
    id: uuid.UUID
    draft: str
    article: int | None
    author: str  # masked: 张**
    author_kind: str
    text: str
    created_at: datetime
    state: str
    rejection_reason: str | None = None
    answer: str | None = None
    answer_reason: str | None = None


class DraftSummary(BaseModel):
    id: uuid.UUID
    number: str
    title: str
    title_en: str
    kind: str
    department: str
    state: str
    opens_at: datetime
    closes_at: datetime
    comments: int


class DraftRead(DraftSummary):
    preamble: str
    articles: list[ArticleRead]
    comment_list: list[CommentRead]
    report_text: str | None
    reported_at: datetime | None


class DocumentRead(BaseModel):
    id: uuid.UUID
    title: str
    kind: str
    department: str
    adopted_on: date
    draft: str | None
    open_for_comment: bool


class FigureRow(BaseModel):
    department: str
    department_name: str
    year: int
    documents: int
    open_for_comment: int
    share: float | None


class FigureRead(BaseModel):
    year: int
    rows: list[FigureRow]
    documents: int
    open_for_comment: int
    share: float | None
