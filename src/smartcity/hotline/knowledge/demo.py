"""Seeding the demo city's knowledge base (示例知识库) once: each answer written and published
by its department through the service, a few of them past their review date (their review
date moved back as if a year had gone by), one left a draft."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.models import Department
from smartcity.hotline.knowledge import service
from smartcity.hotline.knowledge.demo_answers import ANSWERS
from smartcity.hotline.knowledge.models import KnowledgeAnswer
from smartcity.hotline.knowledge.schemas import AnswerInput


async def seed_demo_answers(session: AsyncSession, principal: Principal) -> int:
    """The demo answers, once (none when the knowledge base has any answer)."""
    if (await session.execute(select(func.count()).select_from(KnowledgeAnswer))).scalar_one():
        return 0
    departments = {
        d.code: d.id for d in (await session.execute(select(Department))).scalars().all()
    }
    today = service.today()
    made = 0
    for demo in ANSWERS:
        department_id = departments.get(demo.department)
        if department_id is None:
            continue
        # The department's editor as the seeding runs it (no account of its own needed).
        editor = Principal(
            id=None,
            kind="staff",
            name=f"知识库维护（{demo.department}）",
            department_id=department_id,
            via="system",
        )
        data = AnswerInput(
            title=demo.title,
            title_en=demo.title_en,
            answer=demo.answer,
            answer_en=demo.answer_en,
            category=demo.category,
            keywords=list(demo.keywords),
            source_name=demo.source,
            source_number=demo.number,
            effective_on=today - timedelta(days=400 if demo.overdue else 120),
            review_by=today + timedelta(days=245 - 7 * (made % 9)),
        )
        answer = await service.create_answer(session, editor, data)
        if not demo.draft:
            await service.publish(session, editor, answer.id)
        if demo.overdue:
            answer.review_by = today - timedelta(days=5 + made % 20)
        made += 1
    await session.flush()
    return made
