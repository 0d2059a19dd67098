"""The knowledge base's API: the public search, the staff's writing with problem+json on bad
input and on the wrong department, suggestions at the intake desk, use at intake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.hotline import views as hotline_views
from tests.cases.factories import person
from tests.hotline.factories import CENTRE
from tests.hotline.knowledge.factories import auth, problem

BASE = "/api/v1/hotline/knowledge"
ANSWER: dict[str, Any] = {
    "title": "路灯坏了不亮，找谁修？",
    "answer": "市政道路路灯由城管部门负责维护，请拨打12345说明路名和灯杆编号。",
    "category": "01.03.01",
    "keywords": ["路灯", "不亮"],
    "source_name": "深圳市城市照明管理办法",
    "source_link": "https://www.sz.gov.cn/",
    "effective_on": "2026-01-01",
    "review_by": "2027-01-01",
}


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    client.headers["Accept-Language"] = "en"
    hotline_views.reset_report_rate()
    yield


async def test_write_publish_search_and_retire(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _p = await person(session, "staff", "CGJ")
    await session.commit()
    r = await client.post(f"{BASE}/answers", json=ANSWER, headers=auth(owner))
    assert r.status_code == 201, r.text
    answer = r.json()
    assert (answer["state"], answer["department"], answer["version"]) == ("draft", "CGJ", 1)
    # a draft is nobody's search result and no public page
    assert (await client.get(BASE, params={"q": "路灯不亮"})).json()["items"] == []
    problem(await client.get(f"{BASE}/answers/{answer['id']}"), 404, "/problems/not-found")
    r = await client.post(f"{BASE}/answers/{answer['id']}/publish", headers=auth(owner))
    assert r.status_code == 200 and r.json()["state"] == "published"
    found = (await client.get(BASE, params={"q": "街上的灯晚上不亮了"})).json()
    assert [h["id"] for h in found["items"]] == [answer["id"]]
    assert found["items"][0]["source_name"] == ANSWER["source_name"]
    public = (await client.get(f"{BASE}/answers/{answer['id']}")).json()
    assert public["revisions"] == [] and public["source_link"] == ANSWER["source_link"]
    r = await client.put(
        f"{BASE}/answers/{answer['id']}",
        json=ANSWER | {"answer": "路灯故障请拨打12345，一般48小时内修复。"},
        headers=auth(owner),
    )
    assert r.json()["version"] == 2 and r.json()["revisions"][0]["answer"] == ANSWER["answer"]
    r = await client.post(f"{BASE}/answers/{answer['id']}/retire", headers=auth(owner))
    assert r.json()["state"] == "retired"
    assert (await client.get(BASE, params={"q": "路灯"})).json()["items"] == []
    problem(await client.get(f"{BASE}/answers/{answer['id']}"), 404, "/problems/not-found")
    problem(
        await client.post(f"{BASE}/answers/{answer['id']}/retire", headers=auth(owner)),
        409,
        "/problems/wrong-state",
    )


async def test_another_department_cannot_edit(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _p = await person(session, "staff", "CGJ")
    other, _q = await person(session, "staff", "GAJ")
    await session.commit()
    made = (await client.post(f"{BASE}/answers", json=ANSWER, headers=auth(owner))).json()
    path = f"{BASE}/answers/{made['id']}"
    # a draft of another department is not found at all
    problem(await client.put(path, json=ANSWER, headers=auth(other)), 404, "/problems/not-found")
    problem(await client.post(f"{path}/publish", headers=auth(other)), 404, "/problems/not-found")
    listed = (await client.get(f"{BASE}/answers", headers=auth(other))).json()
    assert made["id"] not in [a["id"] for a in listed["items"]]
    await client.post(f"{path}/publish", headers=auth(owner))
    # published, they read it and still cannot change it
    problem(
        await client.put(path, json=ANSWER, headers=auth(other)), 403, "/problems/not-answer-owner"
    )
    problem(
        await client.post(f"{path}/retire", headers=auth(other)), 403, "/problems/not-answer-owner"
    )
    # citizens and anonymous callers write nothing
    citizen, _c = await person(session, "citizen")
    await session.commit()
    problem(
        await client.post(f"{BASE}/answers", json=ANSWER, headers=auth(citizen)),
        403,
        "/problems/forbidden",
    )
    problem(await client.post(f"{BASE}/answers", json=ANSWER), 401, "/problems/unauthenticated")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"answer": "答" * 4001}, "answer"),
        ({"keywords": ["词" * 31]}, "keywords.0"),
        ({"review_by": "2025-12-31"}, None),
        ({"source_link": "ftp://example.org/x"}, "source_link"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_answers_are_problems(
    client: httpx.AsyncClient, session: AsyncSession, change: dict[str, Any], field: str | None
) -> None:
    owner, _p = await person(session, "staff", "CGJ")
    await session.commit()
    body = problem(
        await client.post(f"{BASE}/answers", json=ANSWER | change, headers=auth(owner)),
        422,
        "/problems/invalid-input",
    )
    if field is not None:
        assert body["field"] == field


async def test_unknown_category_and_long_queries(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _p = await person(session, "staff", "CGJ")
    await session.commit()
    problem(
        await client.post(
            f"{BASE}/answers", json=ANSWER | {"category": "99.99"}, headers=auth(owner)
        ),
        422,
        "/problems/unknown-category",
    )
    body = problem(await client.get(BASE, params={"q": "问" * 101}), 422, "/problems/invalid-input")
    assert body["field"] == "q"
    problem(await client.get(BASE, params={"limit": 0}), 422, "/problems/invalid-input")
    problem(
        await client.get(f"{BASE}/answers", params={"limit": 201}, headers=auth(owner)),
        422,
        "/problems/invalid-input",
    )


async def test_overdue_list_and_the_intake_desk(
    client: httpx.AsyncClient, session: AsyncSession, frozen: Any
) -> None:
    from datetime import timedelta

    owner, _p = await person(session, "staff", "ZWSJJ")
    agent, _a = await person(session, "staff", CENTRE)
    officer, _o = await person(session, "staff", "CGJ")
    await session.commit()
    body = ANSWER | {
        "title": "居住证怎么办理？",
        "answer": "携带身份证和居住登记凭证到街道行政服务大厅办理。",
        "category": "09.01.01",
        "keywords": ["居住证", "暂住证"],
        "review_by": "2026-11-20",
    }
    made = (await client.post(f"{BASE}/answers", json=body, headers=auth(owner))).json()
    await client.post(f"{BASE}/answers/{made['id']}/publish", headers=auth(owner))
    due = await client.get(f"{BASE}/answers", params={"overdue": "true"}, headers=auth(owner))
    assert due.json()["items"] == []
    frozen(timedelta(days=30))
    due = await client.get(f"{BASE}/answers", params={"overdue": "true"}, headers=auth(owner))
    assert [a["id"] for a in due.json()["items"]] == [made["id"]]
    assert due.json()["items"][0]["review_overdue"] is True
    # the desk's suggestions as the agent types (staff only)
    hints = await client.get(f"{BASE}/suggest", params={"q": "暂住证在哪里办"}, headers=auth(agent))
    assert [h["id"] for h in hints.json()["items"]] == [made["id"]]
    assert hints.json()["items"][0]["answer"] == body["answer"]
    problem(
        await client.get(f"{BASE}/suggest", params={"q": "x"}), 401, "/problems/unauthenticated"
    )
    call = {
        "category": "09.01.01",
        "text": "来电咨询居住证怎么办。",
        "contact_phone": "13900000002",
    }
    r = await client.post(f"{BASE}/answers/{made['id']}/use", json=call, headers=auth(agent))
    assert r.status_code == 201, r.text
    assert (r.json()["state"], r.json()["uses"]) == ("closed", 1)
    order = await client.get(f"/api/v1/hotline/orders/{r.json()['order_id']}", headers=auth(agent))
    assert (order.json()["kind"], order.json()["reply"]) == ("consultation", body["answer"])
    problem(
        await client.post(f"{BASE}/answers/{made['id']}/use", json=call, headers=auth(officer)),
        403,
        "/problems/forbidden",
    )
    problem(
        await client.post(
            f"{BASE}/answers/{made['id']}/use",
            json=call | {"kind": "complaint"},
            headers=auth(agent),
        ),
        422,
        "/problems/invalid-input",
    )
