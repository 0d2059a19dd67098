"""The participation API: the lifecycle over HTTP, problem types on bad input, who may act."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import PROBLEM_JSON
from smartcity.core.models import Account
from smartcity.core.security import issue_access_token
from smartcity.participation.models import Comment
from smartcity.settings import get_settings
from tests.cases.factories import person
from tests.participation.factories import OTHER, OWNER, TEXT

BASE = "/api/v1/participation"
Advance = Callable[[timedelta], datetime]


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    client.headers["Accept-Language"] = "en"
    yield


def auth(account: Account) -> dict[str, str]:
    # PyJWT checks expiry on the wall clock; these tests freeze the city clock in 2026-11.
    long_lived = get_settings().model_copy(update={"access_token_minutes": 10**7})
    return {
        "Authorization": f"Bearer {issue_access_token(long_lived, account, amr=['pwd', 'otp'])}"
    }


def problem(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"] == type_, body
    return body


def draft_body(days: int = 30, **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "深圳市电动自行车管理办法（征求意见稿）",
        "kind": "regulation",
        "text": TEXT,
        "opens_at": "2026-11-02T09:00:00",  # Beijing time, as the window is written
        "closes_at": (datetime(2026, 11, 2, 9, 0) + timedelta(days=days)).isoformat(),
    }
    body.update(overrides)
    return body


async def _heads(session: AsyncSession) -> dict[str, dict[str, str]]:
    officer, _p = await person(session, "staff", OWNER)
    other, _q = await person(session, "staff", OTHER)
    citizen, _c = await person(session, "citizen")
    enterprise, _e = await person(session, "enterprise")
    await session.commit()
    return {
        "officer": auth(officer),
        "other": auth(other),
        "citizen": auth(citizen),
        "enterprise": auth(enterprise),
    }


async def test_the_lifecycle_over_http(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    h = await _heads(session)
    created = await client.post(f"{BASE}/drafts", json=draft_body(), headers=h["officer"])
    assert created.status_code == 201, created.text
    draft = created.json()
    assert [a["label"] for a in draft["articles"]] == ["第一条", "第二条", "第三条", "第四条"]
    assert draft["opens_at"].startswith("2026-11-02T01:00:00")
    # unpublished: not there for the public
    problem(await client.get(f"{BASE}/drafts/{draft['id']}"), 404, "/problems/not-found")
    r = await client.post(f"{BASE}/drafts/{draft['id']}/publish", headers=h["other"])
    problem(r, 404, "/problems/not-found")
    r = await client.post(f"{BASE}/drafts/{draft['id']}/publish", headers=h["officer"])
    assert r.status_code == 200 and r.json()["state"] == "open"
    r = await client.post(f"{BASE}/drafts/{draft['id']}/publish", headers=h["other"])
    problem(r, 403, "/problems/forbidden")
    listed = (await client.get(f"{BASE}/drafts", params={"state": "open"})).json()
    assert [d["number"] for d in listed] == [draft["number"]]

    url = f"{BASE}/drafts/{draft['id']}/comments"
    by_citizen = await client.post(
        url, json={"article": 3, "text": "建议登记可以网上办理。"}, headers=h["citizen"]
    )
    assert by_citizen.status_code == 201, by_citizen.text
    assert by_citizen.json()["state"] == "pending" and by_citizen.json()["article"] == 3
    by_firm = await client.post(url, json={"text": "总体赞成。"}, headers=h["enterprise"])
    assert by_firm.status_code == 201 and by_firm.json()["article"] is None
    for comment, decision in ((by_citizen, "publish"), (by_firm, "publish")):
        moderated = await client.post(
            f"{BASE}/comments/{comment.json()['id']}/moderation",
            json={"decision": decision},
            headers=h["officer"],
        )
        assert moderated.status_code == 200, moderated.text
    public = (await client.get(f"{BASE}/drafts/{draft['id']}")).json()
    assert [c["state"] for c in public["comment_list"]] == ["published", "published"]
    assert all(c["author"].endswith("**") for c in public["comment_list"])
    assert public["articles"][2]["comments"] == 1

    advance(timedelta(days=30))
    r = await client.post(url, json={"text": "晚到的意见。"}, headers=h["citizen"])
    problem(r, 409, "/problems/participation-window-closed")
    r = await client.post(f"{BASE}/drafts/{draft['id']}/report", json={}, headers=h["officer"])
    problem(r, 409, "/problems/participation-not-closed")  # the job has not run yet
    from smartcity.participation import service

    await service.close_due(session)
    await session.commit()
    r = await client.post(f"{BASE}/drafts/{draft['id']}/report", json={}, headers=h["officer"])
    assert problem(r, 409, "/problems/participation-unanswered")["unanswered"] == 2
    r = await client.post(
        f"{BASE}/comments/{by_citizen.json()['id']}/answer",
        json={"answer": "partly"},
        headers=h["officer"],
    )
    problem(r, 422, "/problems/participation-reason-required")
    for comment, answer in ((by_citizen, "partly"), (by_firm, "adopted")):
        r = await client.post(
            f"{BASE}/comments/{comment.json()['id']}/answer",
            json={"answer": answer, "reason": "已在第三条增加网上登记。"},
            headers=h["officer"],
        )
        assert r.status_code == 200, r.text
    r = await client.post(
        f"{BASE}/drafts/{draft['id']}/report", json={"text": "共2条意见。"}, headers=h["officer"]
    )
    assert r.status_code == 200 and r.json()["state"] == "answered"
    mine = (await client.get(f"{BASE}/my/comments", headers=h["citizen"])).json()
    assert [(c["answer"], c["answer_reason"]) for c in mine] == [
        ("partly", "已在第三条增加网上登记。")
    ]
    messages = (await client.get("/api/v1/messages", headers=h["citizen"])).json()["items"]
    assert [m["link"] for m in messages] == [f"/participation/{draft['id']}#report"]

    r = await client.post(
        f"{BASE}/documents",
        json={
            "title": "深圳市电动自行车管理办法",
            "kind": "regulation",
            "adopted_on": "2026-12-30",
            "draft": draft["number"],
        },
        headers=h["officer"],
    )
    assert r.status_code == 201 and r.json()["open_for_comment"] is True, r.text
    figure = (await client.get(f"{BASE}/figure", params={"year": 2026})).json()
    assert (figure["documents"], figure["open_for_comment"], figure["share"]) == (1, 1, 1.0)
    assert figure["rows"][0]["department"] == OWNER


async def test_bad_input_is_a_clear_problem_and_writes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    h = await _heads(session)
    r = await client.post(f"{BASE}/drafts", json=draft_body(days=29), headers=h["officer"])
    problem(r, 422, "/problems/participation-window-too-short")
    r = await client.post(
        f"{BASE}/drafts", json=draft_body(text="第一条 甲\n第三条 丙"), headers=h["officer"]
    )
    assert "第三条" in problem(r, 422, "/problems/participation-articles-invalid")["detail"]
    r = await client.post(
        f"{BASE}/drafts",
        json=draft_body(text=None, articles=["甲。", "乙。"]),
        headers=h["officer"],
    )
    assert r.status_code == 201 and len(r.json()["articles"]) == 2
    draft_id = r.json()["id"]
    r = await client.post(f"{BASE}/drafts", json=draft_body(title="x" * 201), headers=h["officer"])
    problem(r, 422, "/problems/invalid-input")
    r = await client.post(f"{BASE}/drafts", json=draft_body(kind="law"), headers=h["officer"])
    problem(r, 422, "/problems/invalid-input")
    r = await client.post(f"{BASE}/drafts", json=draft_body(), headers=h["citizen"])
    problem(r, 403, "/problems/forbidden")
    r = await client.post(f"{BASE}/drafts", json=draft_body())
    problem(r, 401, "/problems/unauthenticated")
    await client.post(f"{BASE}/drafts/{draft_id}/publish", headers=h["officer"])

    url = f"{BASE}/drafts/{draft_id}/comments"
    r = await client.post(url, json={"text": "匿名意见。"})
    problem(r, 401, "/problems/unauthenticated")
    r = await client.post(url, json={"text": "内部意见。"}, headers=h["officer"])
    problem(r, 403, "/problems/forbidden")
    r = await client.post(url, json={"text": "长" * 2001}, headers=h["citizen"])
    problem(r, 422, "/problems/invalid-input")
    r = await client.post(url, json={"text": "   "}, headers=h["citizen"])
    problem(r, 422, "/problems/invalid-input")
    r = await client.post(url, json={"article": 3, "text": "第三条？"}, headers=h["citizen"])
    problem(r, 422, "/problems/participation-unknown-article")
    r = await client.post(url, json={"article": 10**9, "text": "大"}, headers=h["citizen"])
    problem(r, 422, "/problems/invalid-input")
    r = await client.post(url, json={"article": 1, "text": "好。"}, headers=h["citizen"])
    assert r.status_code == 201
    r = await client.post(url, json={"article": 1, "text": "再说一次。"}, headers=h["citizen"])
    problem(r, 429, "/problems/participation-comment-too-soon")
    problem(
        await client.get(f"{BASE}/figure", params={"year": 1999}), 422, "/problems/invalid-input"
    )
    count = (await session.execute(select(func.count()).select_from(Comment))).scalar_one()
    assert count == 1
    advance(timedelta(days=31))
    r = await client.post(url, json={"article": 2, "text": "截止后。"}, headers=h["enterprise"])
    problem(r, 409, "/problems/participation-window-closed")
    assert (await session.execute(select(func.count()).select_from(Comment))).scalar_one() == 1


async def test_control_characters_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    h = await _heads(session)
    r = await client.post(f"{BASE}/drafts", json=draft_body(title="标题\x00"), headers=h["officer"])
    problem(r, 422, "/problems/invalid-input")
    r = await client.post(
        f"{BASE}/drafts", json=draft_body(text=TEXT + "\x1b[31m"), headers=h["officer"]
    )
    problem(r, 422, "/problems/invalid-input")
    r = await client.post(f"{BASE}/drafts", json=draft_body(days=31), headers=h["officer"])
    draft_id = r.json()["id"]
    await client.post(f"{BASE}/drafts/{draft_id}/publish", headers=h["officer"])
    r = await client.post(
        f"{BASE}/drafts/{draft_id}/comments", json={"text": "意见\u202e"}, headers=h["citizen"]
    )
    problem(r, 422, "/problems/invalid-input")
    count = (await session.execute(select(func.count()).select_from(Comment))).scalar_one()
    assert count == 0
