"""The participation pages without a browser: the forms, marked errors, who sees what."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import Account
from smartcity.core.security import PRESESSION_COOKIE, csrf_token_for, issue_access_token
from smartcity.participation import service
from smartcity.participation.models import Comment, Draft
from smartcity.settings import get_settings
from tests.cases.factories import person
from tests.participation.factories import OTHER, OWNER, TEXT

PRESESSION = "participation-test-browser"
Advance = Callable[[timedelta], datetime]


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    client.headers["Accept-Language"] = "en"
    client.cookies.set(PRESESSION_COOKIE, PRESESSION)
    yield


def csrf() -> str:
    return csrf_token_for(get_settings(), session_token=None, presession=PRESESSION)


def as_(account: Account | None) -> dict[str, str]:
    headers = {"accept": "text/html"}
    if account is not None:
        long_lived = get_settings().model_copy(update={"access_token_minutes": 10**7})
        token = issue_access_token(long_lived, account, amr=["pwd", "otp"])
        headers["Authorization"] = f"Bearer {token}"
    return headers


def error_of(html: str, key: str) -> str:
    match = re.search(rf'id="{re.escape(key)}-error">([^<]*)<', html)
    assert match, f"no error shown for {key}"
    return match.group(1)


async def test_a_draft_from_the_desk_to_the_report(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    officer, _p = await person(session, "staff", OWNER)
    other, _q = await person(session, "staff", OTHER)
    citizen, _c = await person(session, "citizen")
    await session.commit()
    form = {"csrf_token": csrf(), "title": "电动自行车管理办法", "kind": "regulation", "text": TEXT}
    # 29 days: the field is marked and nothing is saved
    short = await client.post(
        "/participation/manage/new",
        data={**form, "opens_on": "2026-11-02", "closes_on": "2026-11-29"},
        headers=as_(officer),
    )
    assert short.status_code == 422
    assert "at least 30 days" in error_of(short.text, "closes_on")
    bad_text = await client.post(
        "/participation/manage/new",
        data={**form, "text": "没有条文", "opens_on": "2026-11-02", "closes_on": "2026-12-01"},
        headers=as_(officer),
    )
    assert bad_text.status_code == 422 and "No article found" in error_of(bad_text.text, "text")
    assert (await session.execute(select(func.count()).select_from(Draft))).scalar_one() == 0
    # 2 November 00:00 to the end of 1 December is 30 days, but publication at 09:00 on the
    # 2nd opens it then, 9 hours short: the end of 2 December it is
    made = await client.post(
        "/participation/manage/new",
        data={**form, "opens_on": "2026-11-02", "closes_on": "2026-12-01"},
        headers=as_(officer),
    )
    assert made.status_code == 303
    too_short = await client.post(
        made.headers["location"].split("?")[0] + "/publish",
        data={"csrf_token": csrf()},
        headers=as_(officer),
    )
    assert too_short.status_code == 422 and "at least 30 days" in too_short.text
    made = await client.post(
        "/participation/manage/new",
        data={**form, "opens_on": "2026-11-02", "closes_on": "2026-12-02"},
        headers=as_(officer),
    )
    assert made.status_code == 303, re.findall(r"error-message[^>]*>([^<]*)<", made.text)
    desk_url = made.headers["location"].split("?")[0]
    draft_id = desk_url.rsplit("/", 1)[1]
    assert (await client.get(desk_url, headers=as_(other))).status_code == 404
    # edited before publication: the form comes back filled, the text split again
    edit = await client.get(f"{desk_url}/edit", headers=as_(officer))
    assert edit.status_code == 200 and "第四条　驾驶电动自行车应当佩戴安全头盔。" in edit.text
    assert (await client.get(f"{desk_url}/edit", headers=as_(other))).status_code == 404
    edited = await client.post(
        f"{desk_url}/edit",
        data={
            **form,
            "title": "电动自行车管理办法（修改）",
            "opens_on": "2026-11-02",
            "closes_on": "2026-12-02",
        },
        headers=as_(officer),
    )
    assert edited.status_code == 303
    assert "电动自行车管理办法（修改）" in (await client.get(desk_url, headers=as_(officer))).text
    published = await client.post(
        f"{desk_url}/publish", data={"csrf_token": csrf()}, headers=as_(officer)
    )
    assert published.status_code == 303
    page = await client.get(f"/participation/{draft_id}", headers=as_(None))
    assert (await client.get(f"{desk_url}/edit", headers=as_(officer))).status_code == 404
    assert page.status_code == 200 and "Article 3" in page.text and "Sign in" in page.text
    assert "佩戴安全头盔" in page.text
    listed = await client.get("/participation", headers=as_(None))
    assert f"/participation/{draft_id}" in listed.text

    url = f"/participation/{draft_id}/comments"
    empty = await client.post(url, data={"csrf_token": csrf(), "text": ""}, headers=as_(citizen))
    assert empty.status_code == 422 and error_of(empty.text, "text")
    sent = await client.post(
        url,
        data={"csrf_token": csrf(), "article": "2", "text": "建议明确停放区域。"},
        headers=as_(citizen),
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("?sent=1#comment-form")
    # the other department cannot moderate it through the desk's form
    [comment] = (await session.execute(select(Comment))).scalars().all()
    refused = await client.post(
        f"{desk_url}/moderate",
        data={"csrf_token": csrf(), "comment": str(comment.id), "decision": "publish"},
        headers=as_(other),
    )
    assert refused.status_code == 404
    no_reason = await client.post(
        f"{desk_url}/moderate",
        data={"csrf_token": csrf(), "comment": str(comment.id), "decision": "reject"},
        headers=as_(officer),
    )
    assert no_reason.status_code == 422 and "Say why" in error_of(no_reason.text, "reason")
    ok = await client.post(
        f"{desk_url}/moderate",
        data={"csrf_token": csrf(), "comment": str(comment.id), "decision": "publish"},
        headers=as_(officer),
    )
    assert ok.status_code == 303
    page = await client.get(f"/participation/{draft_id}", headers=as_(None))
    assert "建议明确停放区域。" in page.text and "测**" in page.text
    # after the window: the form is gone and a post is refused, nothing written
    advance(timedelta(days=31))
    late = await client.post(
        url, data={"csrf_token": csrf(), "text": "晚了。"}, headers=as_(citizen)
    )
    assert late.status_code == 409 and "has ended" in late.text
    await service.close_due(session)
    await session.commit()
    page = await client.get(f"/participation/{draft_id}", headers=as_(citizen))
    assert 'id="window-closed"' in page.text and 'name="text"' not in page.text
    blocked = await client.post(
        f"{desk_url}/report", data={"csrf_token": csrf()}, headers=as_(officer)
    )
    assert blocked.status_code == 409 and "without an answer" in blocked.text
    answered = await client.post(
        f"{desk_url}/answer",
        data={"csrf_token": csrf(), "comment": str(comment.id), "answer": "adopted"},
        headers=as_(officer),
    )
    assert answered.status_code == 303
    reported = await client.post(
        f"{desk_url}/report", data={"csrf_token": csrf(), "text": "采纳1条。"}, headers=as_(officer)
    )
    assert reported.status_code == 303
    page = await client.get(f"/participation/{draft_id}", headers=as_(None))
    assert 'id="report"' in page.text and "Adopted" in page.text
    mine = await client.get("/my/comments", headers=as_(citizen))
    assert mine.status_code == 200 and "建议明确停放区域。" in mine.text and "Adopted" in mine.text


async def test_pages_for_each_role(client: httpx.AsyncClient, session: AsyncSession) -> None:
    officer, _p = await person(session, "staff", OWNER)
    citizen, _c = await person(session, "citizen")
    await session.commit()
    assert (await client.get("/participation/figures", headers=as_(None))).status_code == 200
    # in Chinese too (a bare % in a translation breaks the formatting of its values)
    for path in ("/participation", "/participation/figures", "/participation/manage/new"):
        zh = await client.get(path, headers={**as_(officer), "Accept-Language": "zh-CN"})
        assert zh.status_code == 200 and 'lang="zh-CN"' in zh.text, path
    assert (
        await client.get("/participation/figures?year=1900", headers=as_(None))
    ).status_code == 422
    anonymous = await client.get("/my/comments", headers=as_(None))
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
    assert (await client.get("/participation/manage", headers=as_(citizen))).status_code == 403
    desk = await client.get("/participation/manage", headers=as_(officer))
    assert desk.status_code == 200 and "Register of adopted documents" in desk.text
    bad = await client.post(
        "/participation/manage/documents",
        data={"csrf_token": csrf(), "title": "", "kind": "regulation", "adopted_on": "x"},
        headers=as_(officer),
    )
    assert (
        bad.status_code == 422 and error_of(bad.text, "title") and error_of(bad.text, "adopted_on")
    )
    good = await client.post(
        "/participation/manage/documents",
        data={
            "csrf_token": csrf(),
            "title": "某某办法",
            "kind": "regulation",
            "adopted_on": "2026-03-01",
        },
        headers=as_(officer),
    )
    assert good.status_code == 303
    figures = await client.get("/participation/figures?year=2026", headers=as_(None))
    assert "某某办法" in figures.text and 'id="share">0%' in figures.text
