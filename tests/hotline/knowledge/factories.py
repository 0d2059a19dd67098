"""Answers of a knowledge base test: the input a department writes, and published answers."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.errors import PROBLEM_JSON
from smartcity.core.models import Account
from smartcity.core.security import issue_access_token
from smartcity.hotline.knowledge import service
from smartcity.hotline.knowledge.models import KnowledgeAnswer
from smartcity.hotline.knowledge.schemas import AnswerInput
from smartcity.settings import get_settings
from tests.cases.factories import person

# T0 of the hotline's tests (2 November 2026) lies between these.
EFFECTIVE = date(2026, 1, 1)
REVIEW = date(2027, 1, 1)


def answer_input(**overrides: Any) -> AnswerInput:
    values: dict[str, Any] = {
        "title": "居住证怎么办理？",
        "answer": "携带身份证和居住登记凭证到街道行政服务大厅办理。",
        "category": "09.01.01",
        "keywords": ["居住证", "暂住证"],
        "source_name": "深圳市居住登记和居住证办理规定",
        "effective_on": EFFECTIVE.isoformat(),
        "review_by": REVIEW.isoformat(),
    }
    values.update(overrides)
    return AnswerInput.model_validate(values)


async def published(session: AsyncSession, editor: Principal, **overrides: Any) -> KnowledgeAnswer:
    answer = await service.create_answer(session, editor, answer_input(**overrides))
    return await service.publish(session, editor, answer.id)


async def answer_of(session: AsyncSession, code: str) -> str:
    """A draft answer of the department ``code``: its id (for the route walk)."""
    _account, editor = await person(session, "staff", code)
    answer = await service.create_answer(session, editor, answer_input(category="04.02.02"))
    return str(answer.id)


def auth(account: Account) -> dict[str, str]:
    # PyJWT checks expiry on the wall clock, and these tests freeze the city clock in 2026-11.
    long_lived = get_settings().model_copy(update={"access_token_minutes": 10**7})
    token = issue_access_token(long_lived, account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"] == type_, body
    return body
