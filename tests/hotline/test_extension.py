"""延期 of a work order: the handling department asks, the 12345 centre approves (the due date
moves on the order's page, its API answer and the caller's /my/requests, and the caller is
told) or rejects with a note; the wrong department, a second pending request, more than 10
working days in all and a wrong state are refused with nothing written."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import i18n
from smartcity.core.models import Account, Notification
from smartcity.core.notifications import message_part
from smartcity.core.security import PRESESSION_COOKIE
from smartcity.hotline import service
from smartcity.hotline.models import OrderExtension, WorkOrder
from tests.hotline.factories import HANDLER, People, dispatched, people
from tests.hotline.test_api import auth, problem
from tests.hotline.test_pages import PRESESSION, as_, error_of, post

BASE = "/api/v1/hotline"
Advance = Callable[[timedelta], datetime]


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> None:
    """English pages, and the browser the page helpers' CSRF token is made for."""
    client.headers["Accept-Language"] = "en"
    client.cookies.set(PRESESSION_COOKIE, PRESESSION)


async def _signed(session: AsyncSession) -> tuple[People, WorkOrder]:
    """A complaint (13 working days from Monday 11-02: due Thursday 11-19) the department
    has signed for."""
    who = await people(session)
    order = await dispatched(session, who)
    await service.sign(session, who.officer, order.id)
    await session.commit()
    return who, order


async def _ask(
    client: httpx.AsyncClient, account: Account, order: WorkOrder, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{BASE}/orders/{order.id}/extensions",
        json={"days": 3, "reason": "需协调燃气公司现场勘查"} | body,
        headers=auth(account),
    )


async def _decide(
    client: httpx.AsyncClient, account: Account, order: WorkOrder, ext_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{BASE}/orders/{order.id}/extensions/{ext_id}/decision",
        json={"decision": "approve"} | body,
        headers=auth(account),
    )


async def _count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(OrderExtension.id)))).scalar_one())


async def _extension_notes(session: AsyncSession, account: Account) -> list[Notification]:
    rows = await session.execute(
        select(Notification).where(
            Notification.account_id == account.id, Notification.topic == "hotline.order.extended"
        )
    )
    return list(rows.scalars())


async def test_approved_extension_moves_the_due_date_everywhere(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who, order = await _signed(session)
    a = who.accounts
    before = (await client.get(f"{BASE}/orders/{order.id}", headers=auth(a["officer"]))).json()
    assert (before["deadline"]["due_date"], before["deadline"]["remaining"]) == ("2026-11-19", 13)
    r = await _ask(client, a["officer"], order)
    assert r.status_code == 201, r.text
    ext = r.json()
    assert (ext["state"], ext["days"], ext["department"]) == ("pending", 3, HANDLER)
    # the centre's queue lists it with a count, and its order page offers the decision
    queue = await client.get("/hotline/queue", headers=as_(a["agent"]))
    assert re.search(r'id="q-extensions">Extension requests <span class="tag">1<', queue.text)
    assert f"/hotline/orders/{order.id}#extensions" in queue.text
    page = await client.get(f"/hotline/orders/{order.id}", headers=as_(a["agent"]))
    assert f"/extensions/{ext['id']}/decision" in page.text
    r = await _decide(client, a["agent"], order, ext["id"])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved" and r.json()["decided_by"] == a["agent"].username
    # three working days after Thursday 11-19, over the weekend: Tuesday 11-24
    after = (await client.get(f"{BASE}/orders/{order.id}", headers=auth(a["officer"]))).json()
    assert (after["deadline"]["due_date"], after["deadline"]["remaining"]) == ("2026-11-24", 16)
    page = await client.get(f"/hotline/orders/{order.id}", headers=as_(a["officer"]))
    assert "due 24 Nov 2026" in page.text and "16 working days" in page.text
    mine = await client.get("/my/requests", headers=as_(a["citizen"]))
    assert "16 working days left" in mine.text and "due 24 Nov 2026" in mine.text
    await session.refresh(order)
    assert order.limit_days == 16
    # the engine's case page shows the extension on its timeline
    case_page = await client.get(f"/cases/{order.case_id}", headers=as_(a["officer"]))
    assert "Limit extended by 3 working days" in case_page.text
    [note] = await _extension_notes(session, a["citizen"])
    assert note.link == f"/hotline/orders/{order.id}"
    token = i18n.current_locale.set("en")
    try:
        assert order.number in message_part(note, "title", "en")
        assert "24 Nov 2026" in message_part(note, "body", "en")
    finally:
        i18n.current_locale.reset(token)
    assert "2026年11月24日" in message_part(note, "body", "zh_CN")


async def test_a_rejection_needs_a_note_and_moves_nothing(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who, order = await _signed(session)
    a = who.accounts
    ext = (await _ask(client, a["officer"], order)).json()
    body = problem(
        await _decide(client, a["agent"], order, ext["id"], decision="reject"),
        422,
        "/problems/invalid-input",
    )
    assert body["field"] == "note"
    r = await _decide(client, a["agent"], order, ext["id"], decision="reject", note="可按期办结")
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert r.json()["note"] == "可按期办结"
    problem(await _decide(client, a["agent"], order, ext["id"]), 409, "/problems/extension-decided")
    after = (await client.get(f"{BASE}/orders/{order.id}", headers=auth(a["officer"]))).json()
    assert after["deadline"]["due_date"] == "2026-11-19"
    assert await _extension_notes(session, a["citizen"]) == []
    # after a rejection the department may ask again
    assert (await _ask(client, a["officer"], order, days=1)).status_code == 201


async def test_the_wrong_department_and_the_wrong_roles_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who, order = await _signed(session)
    a = who.accounts
    # another department does not read the order at all
    problem(await _ask(client, a["other"], order), 404, "/problems/not-found")
    # the centre decides, it does not ask; the citizen does neither
    problem(await _ask(client, a["agent"], order), 403, "/problems/forbidden")
    problem(await _ask(client, a["citizen"], order), 403, "/problems/forbidden")
    r = await post(
        client,
        a["other"],
        f"/hotline/orders/{order.id}/extensions/request",
        {"days": "3", "reason": "理由"},
    )
    assert r.status_code == 404
    assert await _count(session) == 0
    ext = (await _ask(client, a["officer"], order)).json()
    # the department does not approve its own request; another department cannot see it
    problem(await _decide(client, a["officer"], order, ext["id"]), 403, "/problems/forbidden")
    problem(await _decide(client, a["other"], order, ext["id"]), 404, "/problems/not-found")
    # a request of one order is not decided through another
    other_order = await dispatched(session, who)
    await session.commit()
    problem(await _decide(client, a["agent"], other_order, ext["id"]), 404, "/problems/not-found")
    listed = await client.get(f"{BASE}/orders/{order.id}/extensions", headers=auth(a["agent"]))
    assert [e["state"] for e in listed.json()] == ["pending"]
    problem(
        await client.get(f"{BASE}/orders/{order.id}/extensions", headers=auth(a["other"])),
        404,
        "/problems/not-found",
    )


async def test_one_pending_and_ten_days_in_all(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who, order = await _signed(session)
    a = who.accounts
    first = (await _ask(client, a["officer"], order, days=6)).json()
    problem(await _ask(client, a["officer"], order, days=1), 409, "/problems/extension-pending")
    assert await _count(session) == 1
    assert (await _decide(client, a["agent"], order, first["id"])).status_code == 200
    body = problem(
        await _ask(client, a["officer"], order, days=5), 409, "/problems/extension-over-maximum"
    )
    assert body["left"] == 4
    problem(await _ask(client, a["officer"], order, days=11), 422, "/problems/invalid-input")
    problem(await _ask(client, a["officer"], order, days=0), 422, "/problems/invalid-input")
    problem(await _ask(client, a["officer"], order, days="4"), 422, "/problems/invalid-input")
    problem(await _ask(client, a["officer"], order, reason=""), 422, "/problems/invalid-input")
    problem(
        await _ask(client, a["officer"], order, reason="长" * 501), 422, "/problems/invalid-input"
    )
    assert await _count(session) == 1
    second = (await _ask(client, a["officer"], order, days=4)).json()
    assert (await _decide(client, a["agent"], order, second["id"])).status_code == 200
    after = (await client.get(f"{BASE}/orders/{order.id}", headers=auth(a["officer"]))).json()
    assert after["deadline"]["remaining"] == 23
    # the form is gone once the ten days are used
    page = await client.get(f"/hotline/orders/{order.id}", headers=as_(a["officer"]))
    assert "/extensions/request" not in page.text


async def test_only_while_the_department_handles_it(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who, order = await _signed(session)
    a = who.accounts
    ext = (await _ask(client, a["officer"], order)).json()
    r = await client.post(
        f"{BASE}/orders/{order.id}/reply", json={"reply": "已处理。"}, headers=auth(a["officer"])
    )
    assert r.status_code == 200, r.text
    # answered: the department no longer holds it, and asks no more
    problem(await _ask(client, a["officer"], order), 403, "/problems/forbidden")
    # the centre may still approve the pending request while the order is open
    assert (await _decide(client, a["agent"], order, ext["id"])).status_code == 200
    r = await client.post(
        f"{BASE}/orders/{order.id}/visit", json={"rating": "satisfied"}, headers=auth(a["agent"])
    )
    assert r.json()["state"] == "closed"
    listed = await client.get(f"{BASE}/orders/{order.id}/extensions", headers=auth(a["agent"]))
    assert [e["state"] for e in listed.json()] == ["approved"]


async def test_the_pages_mark_the_field_and_take_the_steps(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who, order = await _signed(session)
    a = who.accounts
    url = f"/hotline/orders/{order.id}"
    page = await client.get(url, headers=as_(a["officer"]))
    assert "Ask the 12345 centre for more time" in page.text
    r = await post(client, a["officer"], f"{url}/extensions/request", {"days": "x", "reason": "r"})
    assert r.status_code == 422 and "1 to 10" in error_of(r.text, "days")
    r = await post(client, a["officer"], f"{url}/extensions/request", {"days": "2", "reason": ""})
    assert r.status_code == 422 and error_of(r.text, "ext-reason")
    assert 'id="reason-error"' not in r.text  # the return form's field is not marked
    assert await _count(session) == 0
    r = await post(
        client, a["officer"], f"{url}/extensions/request", {"days": "2", "reason": "需现场复核"}
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}?done=extension"
    page = await client.get(url, headers=as_(a["officer"]))
    assert "Waiting for the 12345 centre" in page.text and "/extensions/request" not in page.text
    [ext] = (await session.execute(select(OrderExtension))).scalars().all()
    decision = f"{url}/extensions/{ext.id}/decision"
    r = await post(client, a["agent"], decision, {"decision": "reject"})
    assert r.status_code == 422 and error_of(r.text, "note")
    r = await post(client, a["agent"], decision, {"decision": "approve"})
    assert r.status_code == 303
    page = await client.get(url, headers=as_(a["agent"]))
    assert "Approved" in page.text and "due 23 Nov 2026" in page.text
    queue = await client.get("/hotline/queue", headers=as_(a["agent"]))
    assert re.search(r'id="q-extensions">Extension requests <span class="tag">0<', queue.text)
