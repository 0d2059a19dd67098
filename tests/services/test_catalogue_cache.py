"""The public catalogue and item pages come from memory for visitors who are not signed in
(web/cache.py), and an administrator's change of an item shows on the next request: the
change drops them once it is committed, not before."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.services import subscriptions
from smartcity.services.subscriptions import ServiceItemUpdate
from smartcity.web.cache import PageCache
from tests.services.factories import ADMIN
from tests.services.test_licences import food_item

HTML = {"accept": "text/html"}


def pages_of(app: Any) -> PageCache:
    found: PageCache = app.state.public_pages
    return found


async def test_an_item_change_shows_on_the_next_request(
    app: Any, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    item = await food_item(session)
    await session.commit()
    path = f"/services/{item.code}"
    first = await client.get(path, headers=HTML)
    assert first.status_code == 200 and item.name in first.text
    await client.get(path, headers=HTML)
    assert (pages_of(app).misses, pages_of(app).hits) == (1, 1)
    await subscriptions.update_service_item(
        session, ADMIN, item.code, ServiceItemUpdate(name="食品经营许可（新）")
    )
    # Not committed yet: visitors still get the page as it was.
    stale = await client.get(path, headers=HTML)
    assert "食品经营许可（新）" not in stale.text and pages_of(app).hits == 2
    await session.commit()
    after = await client.get(path, headers=HTML)
    assert "食品经营许可（新）" in after.text
    assert pages_of(app).misses == 2


async def test_a_new_item_joins_the_catalogue_at_once(
    app: Any, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await client.get("/services", headers=HTML)
    assert before.status_code == 200
    item = await food_item(session)
    await session.commit()
    after = await client.get("/services", headers=HTML)
    assert item.name in after.text and item.name not in before.text


async def test_unknown_items_and_hand_made_searches(
    app: Any, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    for _ in range(2):
        assert (await client.get("/services/NO-SUCH", headers=HTML)).status_code == 404
    assert len(getattr(app.state, "public_pages", PageCache())) == 0
    long = "居" * 5000
    r = await client.get("/services", params={"q": long}, headers=HTML)
    assert r.status_code in (200, 422)
    # A search is cut to 100 characters before it is a key: one page, however long the ask.
    await client.get("/services", params={"q": long + "x"}, headers=HTML)
    assert len(pages_of(app)) <= 1


async def test_the_licence_check_form_is_rendered_once_and_a_number_is_still_checked(
    app: Any, client: httpx.AsyncClient
) -> None:
    import re

    first = await client.get("/licences/verify", headers=HTML)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        second = await other.get("/licences/verify", headers=HTML)
    assert first.status_code == second.status_code == 200 and 'name="pdf"' in second.text
    assert (pages_of(app).misses, pages_of(app).hits) == (1, 1)
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    assert token.findall(first.text) and token.findall(first.text) != token.findall(second.text)
    # A number asked for is checked every time, never answered with the kept form.
    bad = await client.get("/licences/verify", params={"number": "x"}, headers=HTML)
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    assert (pages_of(app).misses, pages_of(app).hits) == (1, 1)
