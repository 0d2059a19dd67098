"""The hotline's pages without a browser: forms, marked errors, who sees what."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import Account
from smartcity.core.security import PRESESSION_COOKIE, csrf_token_for, issue_access_token
from smartcity.hotline import views
from smartcity.hotline.models import WorkOrder
from smartcity.settings import get_settings
from tests.cases.factories import department
from tests.hotline.factories import CENTRE, HANDLER, PHONE, people

PRESESSION = "hotline-test-browser"
Advance = Callable[[timedelta], datetime]
GOOD = {
    "kind": "complaint",
    "category": "01.01.01",
    "text": "东门中路每晚有流动摊贩占道经营。",
    "address": "罗湖区东门中路1号",
    "lon": "114.12",
    "lat": "22.55",
}


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    client.headers["Accept-Language"] = "en"
    client.cookies.set(PRESESSION_COOKIE, PRESESSION)
    views.reset_report_rate()
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


async def post(
    client: httpx.AsyncClient, account: Account | None, path: str, data: dict[str, str]
) -> httpx.Response:
    return await client.post(path, headers=as_(account), data={"csrf_token": csrf(), **data})


async def test_anonymous_report_on_the_web(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    await department(session, CENTRE)
    form = await client.get("/hotline/report", headers=as_(None))
    assert form.status_code == 200 and 'id="anonymous-note"' in form.text
    assert 'name="contact_phone"' not in form.text  # never asks who you are
    r = await post(client, None, "/hotline/report", GOOD)
    assert r.status_code == 200 and "Report received" in r.text
    number = re.search(r'class="hl-number">([^<]+)<', r.text)
    assert number is not None
    order = (
        await session.execute(select(WorkOrder).where(WorkOrder.number == number.group(1)))
    ).scalar_one()
    assert order.anonymous and order.channel == "web"


async def test_bad_report_marks_the_fields_and_keeps_the_text(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    await department(session, CENTRE)
    r = await post(client, None, "/hotline/report", GOOD | {"category": "", "lon": "116.4"})
    assert r.status_code == 422
    assert error_of(r.text, "category") == "Choose the category that fits best."
    assert "Shenzhen" in error_of(r.text, "lon")
    assert GOOD["text"] in r.text
    r = await post(client, None, "/hotline/report", GOOD | {"category": "01.01.99"})
    assert r.status_code == 422 and error_of(r.text, "category").startswith("There is no category")
    r = await post(client, None, "/hotline/report", GOOD | {"text": "长" * 2001})
    assert r.status_code == 422 and error_of(r.text, "text")


async def test_citizen_reports_follows_and_rates(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    await department(session, HANDLER)
    a = who.accounts
    r = await post(client, a["citizen"], "/hotline/report", GOOD)
    assert r.status_code == 303
    order_url = r.headers["location"].split("?")[0]
    mine = await client.get("/my/requests", headers=as_(a["citizen"]))
    assert order_url in mine.text and "13 working days left" in mine.text
    queue = await client.get("/hotline/queue", headers=as_(a["agent"]))
    assert order_url in queue.text
    r = await post(client, a["agent"], f"{order_url}/dispatch", {"department": HANDLER})
    assert r.status_code == 303
    desk = await client.get("/hotline/desk", headers=as_(a["officer"]))
    assert order_url in desk.text
    page = await client.get(order_url, headers=as_(a["officer"]))
    assert "Sign for it" in page.text
    assert (await post(client, a["officer"], f"{order_url}/sign", {})).status_code == 303
    r = await post(client, a["officer"], f"{order_url}/reply", {"reply": ""})
    assert r.status_code == 422 and error_of(r.text, "reply")
    r = await post(client, a["officer"], f"{order_url}/reply", {"reply": "已清理。"})
    assert r.status_code == 303
    page = await client.get(order_url, headers=as_(a["citizen"]))
    assert "How satisfied are you with the answer?" in page.text
    r = await post(client, a["citizen"], f"{order_url}/visit", {"rating": "satisfied"})
    assert r.status_code == 303
    page = await client.get(order_url, headers=as_(a["citizen"]))
    assert "Rated online and closed" in page.text


async def test_intake_looks_up_the_caller_and_saves_the_call(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    a = who.accounts
    page = await client.get("/hotline/intake", headers=as_(a["agent"]))
    assert page.status_code == 200 and "autofocus" in page.text
    r = await post(
        client, a["agent"], "/hotline/intake", {"contact_phone": PHONE, "action": "lookup"}
    )
    assert 'id="caller-found"' in r.text and who.citizen_person.name in r.text
    r = await post(
        client,
        a["agent"],
        "/hotline/intake",
        {"contact_phone": PHONE, "action": "save", **GOOD, "department": HANDLER},
    )
    assert r.status_code == 303, r.text
    order = (
        await session.execute(select(WorkOrder).where(WorkOrder.channel == "phone"))
    ).scalar_one()
    assert (order.state, order.caller_person_id) == ("dispatched", who.citizen_person.id)
    officer_view = await client.get(f"/hotline/orders/{order.id}", headers=as_(a["officer"]))
    assert PHONE not in officer_view.text and "138****8000" in officer_view.text
    assert (await client.get("/hotline/intake", headers=as_(a["officer"]))).status_code == 404


async def test_the_engine_case_page_shows_the_way_to_the_order(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    r = await post(client, who.accounts["citizen"], "/hotline/report", GOOD)
    order_url = r.headers["location"].split("?")[0]
    order = (await session.execute(select(WorkOrder))).scalar_one()
    page = await client.get(f"/cases/{order.case_id}", headers=as_(who.accounts["agent"]))
    assert page.status_code == 200 and order_url in page.text


async def test_the_centre_desk_is_its_queue(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    r = await client.get("/hotline/desk", headers=as_(who.accounts["agent"]))
    assert r.status_code == 303 and r.headers["location"] == "/hotline/queue"
    assert (
        await client.get("/hotline/queue", headers=as_(who.accounts["officer"]))
    ).status_code == 404


def marked(text: str) -> str:
    """A pattern for a data text shown as it is on an English page, marked lang="zh-CN"."""
    return rf'<span lang="zh-CN"[^>]*>{re.escape(text)}</span>'


async def test_the_order_and_its_case_speak_the_readers_language(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    await department(session, HANDLER)
    a = who.accounts
    r = await post(client, a["citizen"], "/hotline/report", GOOD)
    order_url = r.headers["location"].split("?")[0]
    assert (
        await post(client, a["agent"], f"{order_url}/dispatch", {"department": HANDLER})
    ).status_code == 303
    assert (await post(client, a["officer"], f"{order_url}/sign", {})).status_code == 303
    r = await post(client, a["officer"], f"{order_url}/reply", {"reply": "已清理占道摊贩。"})
    assert r.status_code == 303

    page = await client.get(order_url, headers=as_(a["citizen"]))
    # The caller's own texts and the answer are data: shown as typed, marked on English pages.
    for text in (GOOD["text"], GOOD["address"], "已清理占道摊贩。"):
        assert re.search(marked(text), page.text), text
    # The caller's own steps name them as the caller, never by their login.
    assert "the caller" in page.text
    assert f"· {a['citizen'].username}</p>" not in page.text
    assert "（" not in page.text.split("<main", 1)[1]

    report = await client.get("/hotline/report", headers=as_(a["citizen"]))
    assert "(optional)" in report.text and "（" not in report.text.split("<main", 1)[1]
    zh = {"accept-language": "zh-CN"}
    report = await client.get("/hotline/report", headers=as_(a["citizen"]) | zh)
    assert "（选填）" in report.text

    order = (await session.execute(select(WorkOrder))).scalar_one()
    # A signed-in citizen's report carries the account's name, not the login.
    assert order.caller_name == a["citizen"].display_name != a["citizen"].username
    case_page = await client.get(f"/cases/{order.case_id}", headers=as_(a["agent"]))
    main = case_page.text.split("<main", 1)[1]
    # The engine's titles of the order's states and steps are the hotline's msgids.
    assert "Answered, awaiting follow-up" in main and "12345 hotline work order" in main
    assert re.search(marked(GOOD["address"]), main)
    # Outside the marked data (the answer, the handover reasons the hotline stored) and the
    # officers' names in the assign list, no Chinese.
    unmarked = re.sub(
        r'<span lang="zh-CN"[^>]*>[^<]*</span>|<select.*?</select>', "", main, flags=re.S
    )
    found = re.search(r".{60}[\u4e00-\u9fff].{20}", unmarked.split("<footer", 1)[0], re.S)
    assert not found, found.group(0) if found else ""
    case_page = await client.get(f"/cases/{order.case_id}", headers=as_(a["agent"]) | zh)
    main = case_page.text.split("<main", 1)[1]
    assert "已答复，待回访" in main and "派单" in main
    # The dispatch's department field is labelled and named, not given as key and code.
    assert "<dt>department</dt>" not in main and "<dt>部门</dt>" in main
