"""What the API and the pages show of an answer: summaries, the full answer, search hits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.hotline.knowledge import service
from smartcity.hotline.knowledge.models import KnowledgeAnswer
from smartcity.hotline.knowledge.schemas import (
    AnswerFull,
    AnswerSummary,
    Hit,
    RevisionRead,
)
from smartcity.hotline.views import english


def summary(answer: KnowledgeAnswer) -> AnswerSummary:
    return AnswerSummary(
        id=answer.id,
        title=answer.title,
        title_en=answer.title_en,
        category=answer.category_code,
        category_name=service.category_name(answer.category_code, english()),
        department=answer.department_code,
        state=answer.state,
        review_by=answer.review_by,
        review_overdue=service.is_overdue(answer),
        uses=answer.uses,
    )


async def full(session: AsyncSession, answer: KnowledgeAnswer, *, history: bool) -> AnswerFull:
    revisions = await service.revisions_of(session, answer) if history else []
    return AnswerFull(
        **summary(answer).model_dump(),
        answer=answer.answer,
        answer_en=answer.answer_en,
        keywords=list(answer.keywords),
        source_name=answer.source_name,
        source_number=answer.source_number,
        source_link=answer.source_link,
        effective_on=answer.effective_on,
        version=answer.version,
        views=answer.views,
        updated_at=answer.updated_at,
        revisions=[
            RevisionRead(
                version=r.version,
                title=r.title,
                answer=r.answer,
                edited_at=r.edited_at,
                edited_by=r.edited_by,
            )
            for r in revisions
        ],
    )


def hit(answer: KnowledgeAnswer, score: float) -> Hit:
    return Hit(
        id=answer.id,
        title=answer.title,
        title_en=answer.title_en,
        category=answer.category_code,
        category_name=service.category_name(answer.category_code, english()),
        department=answer.department_code,
        excerpt=service.excerpt(answer.answer),
        answer=answer.answer,
        score=score,
        source_name=answer.source_name,
        review_by=answer.review_by,
    )
