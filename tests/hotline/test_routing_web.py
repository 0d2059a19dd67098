"""Routing over HTTP: the suggestions API and the intake page's JSON, the routing record, the
model versions, merging and 不是重复 through the API, the queue's one-click dispatch and the
order page's duplicate proposal."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.security import PRESESSION_COOKIE
from smartcity.hotline import service
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.routing import classify, corpus, duplicates
from smartcity.hotline.routing import service as routing
from smartcity.hotline.routing.models import OrderRouting
from smartcity.settings import get_settings
from tests.cases.factories import department
from tests.hotline.factories import HANDLER, call, people, report
from tests.hotline.test_api import auth, problem
from tests.hotline.test_pages import PRESESSION, as_, post

BASE = "/api/v1/hotline"
Advance = Callable[[timedelta], datetime]
LIGHT = "罗湖区东门街道东门中路12号路灯不亮，晚上很黑，请尽快处理。"


@pytest.fixture(scope="module")
def trained() -> classify.Trained:
    texts, labels = corpus.corpus(600, seed=4)
    return classify.train(texts, labels, seed=4)


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> None:
    client.headers["Accept-Language"] = "en"
    client.cookies.set(PRESESSION_COOKIE, PRESESSION)


async def test_suggestions_routing_and_models_over_the_api(
    client: httpx.AsyncClient,
    session: AsyncSession,
    advance: Advance,
    trained: classify.Trained,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    who = await people(session)
    a = who.accounts
    r = await client.post(f"{BASE}/suggestions", json={"text": LIGHT}, headers=auth(a["agent"]))
    assert r.status_code == 200 and r.json()["model_version"] is None  # no model yet
    await routing.store_model(session, trained, "test")
    r = await client.post(f"{BASE}/suggestions", json={"text": LIGHT}, headers=auth(a["agent"]))
    body = r.json()
    assert body["model_version"] == 1 and len(body["suggestions"]) == 3
    assert body["suggestions"][0]["category"] == "01.03.01"
    assert body["suggestions"][0]["category_name"] == "Street light out"
    assert body["department_confidence"][HANDLER] >= body["suggestions"][0]["confidence"]
    problem(
        await client.post(f"{BASE}/suggestions", json={"text": ""}, headers=auth(a["agent"])),
        422,
        "/problems/invalid-input",
    )
    problem(
        await client.post(
            f"{BASE}/suggestions", json={"text": "长" * 2001}, headers=auth(a["agent"])
        ),
        422,
        "/problems/invalid-input",
    )
    problem(
        await client.post(f"{BASE}/suggestions", json={"text": LIGHT}, headers=auth(a["citizen"])),
        403,
        "/problems/forbidden",
    )
    monkeypatch.setattr(get_settings(), "hotline_auto_dispatch", 1.0)
    order = await service.create_order(session, who.citizen, report(text=LIGHT), channel="web")
    r = await client.get(f"{BASE}/orders/{order.id}/routing", headers=auth(a["agent"]))
    assert r.status_code == 200, r.text
    assert (r.json()["mode"], r.json()["model_version"]) == ("queue", 1)
    listed = (await client.get(f"{BASE}/models", headers=auth(a["agent"]))).json()
    assert [m["version"] for m in listed] == [1] and listed[0]["shipped"] is True
    assert listed[0]["metrics"]["accuracy"] > listed[0]["metrics"]["baseline_accuracy"]


async def test_merge_and_reject_over_the_api(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    a = who.accounts
    await department(session, HANDLER)
    parent = await service.create_order(session, who.agent, call(text=LIGHT), channel="phone")
    child = await service.create_order(session, who.agent, call(text=LIGHT), channel="phone")
    third = await service.create_order(session, who.agent, call(text=LIGHT), channel="phone")
    url = f"{BASE}/orders/{child.id}/merge"
    problem(
        await client.post(
            f"{BASE}/orders/{child.id}/merge",
            json={"parent": str(child.id)},
            headers=auth(a["agent"]),
        ),
        422,
        "/problems/merge-into-itself",
    )
    problem(
        await client.post(url, json={"parent": "not-a-uuid"}, headers=auth(a["agent"])),
        422,
        "/problems/invalid-input",
    )
    r = await client.post(url, json={"parent": str(parent.id)}, headers=auth(a["agent"]))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "closed" and parent.number in r.json()["reply"]
    [proposal, *_rest] = await duplicates.proposals_of(session, third.id)
    r = await client.post(f"{BASE}/duplicates/{proposal.id}/reject", headers=auth(a["agent"]))
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    problem(
        await client.post(f"{BASE}/duplicates/{proposal.id}/reject", headers=auth(a["agent"])),
        409,
        "/problems/already-decided",
    )


async def test_queue_one_click_dispatch_and_order_page_merge(
    client: httpx.AsyncClient,
    session: AsyncSession,
    advance: Advance,
    trained: classify.Trained,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    who = await people(session)
    a = who.accounts
    await department(session, HANDLER)
    await routing.store_model(session, trained, "test")
    monkeypatch.setattr(get_settings(), "hotline_auto_dispatch", 1.0)
    first = await service.create_order(session, who.agent, call(text=LIGHT), channel="phone")
    again = await service.create_order(session, who.agent, call(text=LIGHT), channel="phone")
    queue = await client.get("/hotline/queue", headers=as_(a["agent"]))
    assert queue.status_code == 200
    assert f'action="/hotline/queue/{first.id}/dispatch"' in queue.text
    assert "Street light out" in queue.text and "Possible duplicate" in queue.text
    page = await client.get(f"/hotline/orders/{again.id}", headers=as_(a["agent"]))
    merge = re.search(r'action="(/hotline/duplicates/[0-9a-f-]+/merge)"', page.text)
    assert merge is not None and "Suggested by the classifier" in page.text
    r = await post(client, a["agent"], merge.group(1), {})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=merged")
    page = await client.get(f"/hotline/orders/{again.id}", headers=as_(a["agent"]))
    assert "Merged into work order" in page.text and first.number in page.text
    r = await post(client, a["agent"], f"/hotline/queue/{first.id}/dispatch", {"department": "x"})
    assert r.status_code == 422
    r = await post(
        client, a["agent"], f"/hotline/queue/{first.id}/dispatch", {"department": HANDLER}
    )
    assert r.status_code == 303
    state = await session.scalar(select(WorkOrder.state).where(WorkOrder.id == first.id))
    mode = await session.scalar(select(OrderRouting.mode).where(OrderRouting.order_id == first.id))
    assert (state, mode) == ("dispatched", "manual")
    r = await post(
        client, a["agent"], f"/hotline/queue/{first.id}/dispatch", {"department": HANDLER}
    )
    assert r.status_code == 303 and "refused=forbidden" in r.headers["location"]


async def test_intake_suggests_as_the_agent_types(
    client: httpx.AsyncClient, session: AsyncSession, advance: Advance, trained: classify.Trained
) -> None:
    who = await people(session)
    a = who.accounts
    await routing.store_model(session, trained, "test")
    r = await client.get(
        "/hotline/intake/suggestions.json", params={"text": LIGHT}, headers=as_(a["agent"])
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rows = r.json()["suggestions"]
    assert rows[0]["category"] == "01.03.01" and 0 < rows[0]["percent"] <= 100
    assert (
        await client.get(
            "/hotline/intake/suggestions.json", params={"text": ""}, headers=as_(a["agent"])
        )
    ).json()["suggestions"] == []
    too_long = await client.get(
        "/hotline/intake/suggestions.json", params={"text": "长" * 2001}, headers=as_(a["agent"])
    )
    assert too_long.status_code == 422
    officer = await client.get(
        "/hotline/intake/suggestions.json", params={"text": LIGHT}, headers=as_(a["officer"])
    )
    assert officer.status_code == 404
    page = await client.get("/hotline/intake", headers=as_(a["agent"]))
    assert 'id="hl-suggest"' in page.text and "hotline-intake.js" in page.text
