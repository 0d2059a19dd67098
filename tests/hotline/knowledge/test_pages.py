"""The knowledge base's pages without a browser: the public questions, the department's desk
with marked field errors, publish and retire, and "use this answer" on the intake desk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import Account
from smartcity.core.security import PRESESSION_COOKIE, csrf_token_for, issue_access_token
from smartcity.hotline.knowledge.models import KnowledgeAnswer
from smartcity.hotline.models import WorkOrder
from smartcity.settings import get_settings
from tests.cases.factories import person
from tests.hotline.factories import CENTRE
from tests.hotline.knowledge.factories import published

PRESESSION = "knowledge-test-browser"
FORM = {
    "title": "预付卡商家跑路了怎么退款？",
    "answer": "保存好预付卡和付款凭证，拨打12345或12315投诉。",
    "category": "04.02.02",
    "keywords": "预付卡、退费, 跑路",
    "source_name": "深圳市预付卡消费管理办法",
    "source_number": "",
    "source_link": "",
    "effective_on": "2026-01-01",
    "review_by": "2027-01-01",
}


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    client.headers["Accept-Language"] = "en"
    client.cookies.set(PRESESSION_COOKIE, PRESESSION)
    yield


def as_(account: Account | None) -> dict[str, str]:
    headers = {"accept": "text/html"}
    if account is not None:
        long_lived = get_settings().model_copy(update={"access_token_minutes": 10**7})
        token = issue_access_token(long_lived, account, amr=["pwd", "otp"])
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def post(
    client: httpx.AsyncClient, account: Account | None, path: str, data: dict[str, Any]
) -> httpx.Response:
    csrf = csrf_token_for(get_settings(), session_token=None, presession=PRESESSION)
    return await client.post(path, headers=as_(account), data={"csrf_token": csrf, **data})


def error_of(html: str, key: str) -> str:
    match = re.search(rf'id="{re.escape(key)}-error">([^<]*)<', html)
    assert match, f"no error shown for {key}"
    return match.group(1)


async def test_the_public_finds_answers_and_reads_one(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _a, owner = await person(session, "staff", "SCJGJ")
    shown = await published(
        session, owner, **{k: v for k, v in FORM.items() if k not in ("keywords", "source_link")}
    )
    await session.commit()
    home = await client.get("/hotline/knowledge")
    assert home.status_code == 200 and f"/hotline/knowledge/{shown.id}" in home.text
    found = await client.get("/hotline/knowledge", params={"q": "商家跑路了想退款"})
    assert f"/hotline/knowledge/{shown.id}" in found.text
    none = await client.get("/hotline/knowledge", params={"q": "月球上的停车位"})
    assert f"/hotline/knowledge/{shown.id}" not in none.text
    long = await client.get("/hotline/knowledge", params={"q": "问" * 101})
    assert long.status_code == 422 and "at most 100 characters" in error_of(long.text, "q")
    by_category = await client.get("/hotline/knowledge", params={"category": "04"})
    assert f"/hotline/knowledge/{shown.id}" in by_category.text
    other = await client.get("/hotline/knowledge", params={"category": "01"})
    assert f"/hotline/knowledge/{shown.id}" not in other.text
    page = await client.get(f"/hotline/knowledge/{shown.id}")
    assert page.status_code == 200
    assert FORM["source_name"] in page.text and "Review by" in page.text
    await session.refresh(shown)
    assert shown.views == 1
    # the report form points to the common questions first
    report = await client.get("/hotline/report")
    assert 'href="/hotline/knowledge"' in report.text


async def test_a_department_writes_publishes_and_retires(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, _p = await person(session, "staff", "SCJGJ")
    await session.commit()
    assert (
        await client.get("/hotline/knowledge/manage/new", headers=as_(account))
    ).status_code == 200
    bad = await post(
        client,
        account,
        "/hotline/knowledge/manage/new",
        FORM | {"title": "", "answer": "答" * 4001, "source_link": "javascript:x"},
    )
    assert bad.status_code == 422
    assert error_of(bad.text, "title") == "Write the question in 1 to 200 characters."
    assert "1 to 4,000 characters" in error_of(bad.text, "answer")
    assert "http" in error_of(bad.text, "source_link")
    assert FORM["source_name"] in bad.text  # what was typed stays
    early = await post(
        client, account, "/hotline/knowledge/manage/new", FORM | {"review_by": "2025-01-01"}
    )
    assert "on or after the effective date" in error_of(early.text, "review_by")
    unknown = await post(
        client, account, "/hotline/knowledge/manage/new", FORM | {"category": "99.99"}
    )
    assert unknown.status_code == 422 and "no category 99.99" in error_of(unknown.text, "category")
    made = await post(client, account, "/hotline/knowledge/manage/new", FORM)
    assert made.status_code == 303
    url = made.headers["location"].split("?")[0]
    answer = (
        await session.execute(select(KnowledgeAnswer).where(KnowledgeAnswer.title == FORM["title"]))
    ).scalar_one()
    assert answer.keywords == ["预付卡", "退费", "跑路"] and answer.state == "draft"
    saved = await post(client, account, url, FORM | {"answer": "新的答复：先与商家协商。"})
    assert saved.status_code == 303
    page = await client.get(url, headers=as_(account))
    assert "Earlier versions" in page.text and FORM["answer"] in page.text
    assert (await post(client, account, f"{url}/publish", {})).status_code == 303
    again = await post(client, account, f"{url}/publish", {})
    assert again.status_code == 409 and "Only a draft is published." in again.text
    assert (await post(client, account, f"{url}/retire", {})).status_code == 303
    await session.refresh(answer)
    assert (answer.state, answer.version) == ("retired", 2)


async def test_another_department_reads_but_cannot_save(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _a, owner = await person(session, "staff", "SCJGJ")
    other, _o = await person(session, "staff", "GAJ")
    answer = await published(session, owner)
    await session.commit()
    url = f"/hotline/knowledge/manage/{answer.id}"
    page = await client.get(url, headers=as_(other))
    assert page.status_code == 200 and 'id="not-ours"' in page.text
    refused = await post(client, other, url, FORM)
    assert refused.status_code == 403
    assert "Only the department that owns this answer edits it." in refused.text
    assert (await post(client, other, f"{url}/retire", {})).status_code == 403
    await session.refresh(answer)
    assert (answer.state, answer.version) == ("published", 1)


async def test_the_desk_lists_answers_due_for_review(
    client: httpx.AsyncClient, session: AsyncSession, frozen: Any
) -> None:
    account, owner = await person(session, "staff", "RSJ")
    due = await published(session, owner, title="社保断缴怎么办？", review_by="2026-11-10")
    fine = await published(session, owner, title="劳动合同怎么签？", review_by="2027-06-01")
    await session.commit()
    frozen(timedelta(days=14))
    page = await client.get("/hotline/knowledge/manage", headers=as_(account))
    section = page.text.split('id="due-title"')[1].split("</section>")[0]
    assert str(due.id) in section and str(fine.id) not in section
    only = await client.get("/hotline/knowledge/manage?due=1", headers=as_(account))
    assert str(due.id) in only.text and str(fine.id) not in only.text


async def test_use_this_answer_at_intake_closes_the_call_and_counts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    agent, _a = await person(session, "staff", CENTRE)
    _o, owner = await person(session, "staff", "ZWSJJ")
    answer = await published(session, owner)
    await session.commit()
    desk = await client.get("/hotline/intake", headers=as_(agent))
    assert 'id="kb-intake"' in desk.text and 'name="knowledge_id"' in desk.text
    assert "/static/js/hotline-knowledge.js" in desk.text
    call = {
        "kind": "consultation",
        "category": "09.01.01",
        "text": "来电咨询居住证在哪里办理。",
        "contact_phone": "13900000003",
        "answer": answer.answer,
        "knowledge_id": str(answer.id),
        "action": "save",
    }
    saved = await post(client, agent, "/hotline/intake", call)
    assert saved.status_code == 303, saved.text
    order = (
        await session.execute(select(WorkOrder).where(WorkOrder.text == call["text"]))
    ).scalar_one()
    assert (order.state, order.reply) == ("closed", answer.answer)
    await session.refresh(answer)
    assert answer.uses == 1
    # a complaint is not closed at intake: saved, and no use counted
    complaint = call | {"kind": "complaint", "answer": "", "text": "投诉：居住证窗口排队太久。"}
    assert (await post(client, agent, "/hotline/intake", complaint)).status_code == 303
    await session.refresh(answer)
    assert answer.uses == 1
