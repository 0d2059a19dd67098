"""The hotline's API: problem+json on bad input, who may act, the lifecycle over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import PROBLEM_JSON
from smartcity.core.models import Account
from smartcity.core.security import issue_access_token
from smartcity.hotline import views
from smartcity.settings import get_settings
from tests.cases.factories import department
from tests.hotline.factories import CENTRE, HANDLER, People, people

BASE = "/api/v1/hotline"
Advance = Callable[[timedelta], datetime]
REPORT: dict[str, Any] = {
    "kind": "complaint",
    "category": "03.01.01",
    "text": "小区旁工地每天夜里十一点后还在打桩，噪声很大。",
    "place": {"address": "南山区粤海街道科技园", "lon": 113.95, "lat": 22.54},
}


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    client.headers["Accept-Language"] = "en"
    views.reset_report_rate()
    yield
    views.reset_report_rate()


def auth(account: Account) -> dict[str, str]:
    # PyJWT checks expiry on the wall clock, and these tests freeze the city clock in 2026-11.
    long_lived = get_settings().model_copy(update={"access_token_minutes": 10**7})
    token = issue_access_token(long_lived, account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"] == type_
    return body


async def _who(session: AsyncSession) -> People:
    who = await people(session)
    await department(session, HANDLER)
    return who


async def test_walks_the_lifecycle_over_http(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await _who(session)
    a = who.accounts
    r = await client.post(f"{BASE}/reports", json=REPORT, headers=auth(a["citizen"]))
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["state"], order["department"], order["deadline"]["remaining"]) == (
        "accepted",
        CENTRE,
        13,
    )
    url = f"{BASE}/orders/{order['id']}"
    r = await client.post(f"{url}/dispatch", json={"department": HANDLER}, headers=auth(a["agent"]))
    assert r.json()["state"] == "dispatched"
    seen = (await client.get(url, headers=auth(a["officer"]))).json()
    assert seen["caller_name"].endswith("*")  # masked for the handling department
    assert (await client.post(f"{url}/sign", headers=auth(a["officer"]))).json()["state"] == (
        "handling"
    )
    r = await client.post(
        f"{url}/reply", json={"reply": "已责令停工整改。"}, headers=auth(a["officer"])
    )
    assert r.json()["state"] == "replied"
    r = await client.post(
        f"{url}/visit", json={"rating": "dissatisfied"}, headers=auth(a["citizen"])
    )
    assert (r.json()["state"], r.json()["reworks"]) == ("reworking", 1)
    r = await client.post(
        f"{url}/reply", json={"reply": "已罚款并限定施工时间。"}, headers=auth(a["officer"])
    )
    r = await client.post(
        f"{url}/visit", json={"rating": "basically_satisfied"}, headers=auth(a["agent"])
    )
    body = r.json()
    assert body["state"] == "closed" and body["rating"] == "basically_satisfied"
    steps = [line["step"] for line in body["timeline"] if line["step"] != "transferred"]
    assert steps == ["open", "dispatch", "sign", "reply", "rework_online", "reply", "visit"]
    listed = (await client.get(f"{BASE}/orders", headers=auth(a["citizen"]))).json()
    assert [o["number"] for o in listed["items"]] == [order["number"]]


async def test_anonymous_report_and_rate_limit(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance, monkeypatch: Any
) -> None:
    await department(session, CENTRE)
    monkeypatch.setattr(get_settings(), "hotline_reports_per_hour", 2)
    for _ in range(2):
        r = await client.post(f"{BASE}/reports", json=REPORT)
        assert r.status_code == 201 and r.json()["anonymous"] is True
    problem(await client.post(f"{BASE}/reports", json=REPORT), 429, "/problems/too-many-requests")


@pytest.mark.parametrize(
    ("change", "type_"),
    [
        ({"category": "01.01.99"}, "/problems/unknown-category"),
        ({"text": ""}, "/problems/invalid-input"),
        ({"text": "长" * 2001}, "/problems/invalid-input"),
        ({"place": {"lon": 114.17, "lat": 22.30}}, "/problems/invalid-input"),
        ({"kind": "gossip"}, "/problems/invalid-input"),
        ({"extra": 1}, "/problems/invalid-input"),
    ],
)
async def test_bad_reports_are_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    advance: Advance,
    change: dict[str, Any],
    type_: str,
) -> None:
    await department(session, CENTRE)
    problem(await client.post(f"{BASE}/reports", json=REPORT | change), 422, type_)


async def test_limit_out_of_range(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await _who(session)
    r = await client.get(f"{BASE}/orders?limit=201", headers=auth(who.accounts["agent"]))
    problem(r, 422, "/problems/invalid-input")


async def test_wrong_department_and_someone_elses_order(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await _who(session)
    a = who.accounts
    order = (await client.post(f"{BASE}/reports", json=REPORT)).json()
    url = f"{BASE}/orders/{order['id']}"
    await client.post(f"{url}/dispatch", json={"department": HANDLER}, headers=auth(a["agent"]))
    problem(await client.post(f"{url}/sign", headers=auth(a["other"])), 404, "/problems/not-found")
    problem(
        await client.post(f"{url}/reply", json={"reply": "x"}, headers=auth(a["citizen"])),
        403,
        "/problems/forbidden",
    )
    problem(
        await client.post(f"{url}/visit", json={"rating": "satisfied"}, headers=auth(a["citizen"])),
        404,
        "/problems/not-found",
    )
    # The agent may not sign for the department; the state is left as it was.
    problem(await client.post(f"{url}/sign", headers=auth(a["agent"])), 403, "/problems/forbidden")
    assert (await client.get(url, headers=auth(a["agent"]))).json()["state"] == "dispatched"


async def test_late_return_is_a_conflict(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await _who(session)
    a = who.accounts
    order = (await client.post(f"{BASE}/reports", json=REPORT)).json()
    url = f"{BASE}/orders/{order['id']}"
    await client.post(f"{url}/dispatch", json={"department": HANDLER}, headers=auth(a["agent"]))
    advance(timedelta(days=3))
    r = await client.post(f"{url}/return", json={"reason": "不属本局"}, headers=auth(a["officer"]))
    problem(r, 409, "/problems/return-too-late")
    problem(
        await client.post(f"{url}/return", json={"reason": ""}, headers=auth(a["officer"])),
        422,
        "/problems/invalid-input",
    )


async def test_agent_looks_up_a_caller(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await _who(session)
    r = await client.post(
        f"{BASE}/callers",
        json={"phone": who.citizen_person.phone},
        headers=auth(who.accounts["agent"]),
    )
    body = r.json()
    assert body["found"] is True and body["name"] == who.citizen_person.name
    r = await client.post(
        f"{BASE}/callers", json={"phone": "abc"}, headers=auth(who.accounts["agent"])
    )
    problem(r, 422, "/problems/invalid-input")
    r = await client.post(
        f"{BASE}/callers", json={"phone": "13900000000"}, headers=auth(who.accounts["officer"])
    )
    problem(r, 403, "/problems/forbidden")


async def test_agent_takes_a_call_and_dispatches_it(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await _who(session)
    call = REPORT | {"contact_phone": who.citizen_person.phone, "department": HANDLER}
    r = await client.post(f"{BASE}/orders", json=call, headers=auth(who.accounts["agent"]))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["state"], body["department"], body["channel"]) == ("dispatched", HANDLER, "phone")
    assert body["caller_name"] == who.citizen_person.name  # the centre sees the caller
    r = await client.post(f"{BASE}/orders", json=call, headers=auth(who.accounts["officer"]))
    problem(r, 403, "/problems/forbidden")
    r = await client.post(
        f"{BASE}/orders",
        json=REPORT | {"department": "NOSUCH"},
        headers=auth(who.accounts["agent"]),
    )
    problem(r, 422, "/problems/unknown-department")
