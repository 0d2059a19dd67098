"""The public air pages are rendered once per change, not per request (web/cache.py): a
crowd gets the same page with its own form tokens, a signed-in person a fresh one, and new
reports or a station's change show on the next request."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.core.bus import Event
from smartcity.environment import compute
from smartcity.environment.compute import AIR_PAGES
from smartcity.environment.handlers import drop_air_pages
from smartcity.web import cache
from smartcity.web.cache import TOKEN_PLACEHOLDER, PageCache
from tests.core import factories
from tests.core.test_pages import sign_in
from tests.environment.city import NOW, POLLUTED, City, make_city
from tests.environment.factories import report, steady

HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
async def city(session: AsyncSession) -> City:
    return await make_city(session)


def pages_of(app: Any) -> PageCache:
    found: PageCache = app.state.public_pages
    return found


def meta_token(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF meta"
    return match.group(1)


async def test_a_crowd_gets_one_rendering_each_with_its_own_token(
    app: Any, client: httpx.AsyncClient, city: City
) -> None:
    first = await client.get("/air", headers=HTML)
    assert first.status_code == 200
    pages = pages_of(app)
    assert (pages.misses, pages.hits) == (1, 0)
    # Another browser (no cookies): the same page from memory, with a token of its own.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        second = await other.get("/air", headers=HTML)
    assert second.status_code == 200 and (pages.misses, pages.hits) == (1, 1)
    assert TOKEN_PLACEHOLDER not in first.text and TOKEN_PLACEHOLDER not in second.text
    assert meta_token(first.text) != meta_token(second.text)
    assert "sc_csrf" in second.cookies
    assert re.sub(r'content="[^"]+">', "", first.text) == re.sub(
        r'content="[^"]+">', "", second.text
    )


async def test_the_cached_pages_token_posts_a_form(
    app: Any, client: httpx.AsyncClient, city: City
) -> None:
    await client.get("/air", headers=HTML)
    page = await client.get("/air", headers=HTML)
    assert pages_of(app).hits == 1
    # The token a cached page carries is this browser's: a form posted with it is judged on
    # its fields (a wrong password), not refused as expired.
    r = await client.post(
        "/login",
        headers=HTML,
        data={"csrf_token": meta_token(page.text), "username": "nobody", "password": "x" * 12},
    )
    assert r.status_code == 401, r.text
    forged = await client.post(
        "/login", headers=HTML, data={"csrf_token": TOKEN_PLACEHOLDER, "username": "nobody"}
    )
    assert forged.status_code == 400


async def test_each_language_is_its_own_page(
    app: Any, client: httpx.AsyncClient, city: City
) -> None:
    zh = await client.get("/air", headers=HTML)
    en = await client.get("/air", headers={**HTML, "Accept-Language": "en"})
    assert "空气质量" in zh.text and "Air quality" in en.text
    assert pages_of(app).misses == 2


async def test_signed_in_people_get_a_fresh_page(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, city: City
) -> None:
    account = await factories.create_account(session)
    await session.commit()
    await sign_in(client, account.username)
    for _ in range(2):
        page = await client.get("/air", headers=HTML)
        assert page.status_code == 200 and account.display_name in page.text
    assert getattr(app.state, "public_pages", None) is None or pages_of(app).hits == 0


async def test_new_reports_show_on_the_next_request(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, city: City
) -> None:
    before = await client.get(f"/air/stations/{city.clean.thing}", headers=HTML)
    assert before.status_code == 200
    # The clean station turns polluted for the next hours; the report job stores them.
    later = NOW + timedelta(hours=6)
    await report(session, city.clean, steady(NOW.replace(minute=0), 6, POLLUTED))
    with clock.frozen(later):
        outcome = await compute.compute_reports(session, SYSTEM)
        assert outcome.hours > 0
        # Not yet committed: the page others see is still the cached one.
        await client.get(f"/air/stations/{city.clean.thing}", headers=HTML)
        assert pages_of(app).hits == 1
        await session.commit()
        after = await client.get(f"/air/stations/{city.clean.thing}", headers=HTML)
    assert pages_of(app).misses == 2
    assert after.text != before.text


async def test_a_rolled_back_change_drops_nothing(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, city: City
) -> None:
    await session.commit()
    await client.get("/air", headers=HTML)
    cache.invalidate_after_commit(session, AIR_PAGES)
    await session.rollback()
    await client.get("/air", headers=HTML)
    assert (pages_of(app).misses, pages_of(app).hits) == (1, 1)


async def test_a_station_change_drops_the_pages(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, city: City
) -> None:
    await client.get("/air", headers=HTML)
    # An Observation's event is not a station change; a Thing's is.
    observation = Event("sensing.entity.created", {"entity_set": "Observations", "id": 1})
    await drop_air_pages(session, observation)
    await client.get("/air", headers=HTML)
    assert pages_of(app).misses == 1
    thing = Event("sensing.entity.updated", {"entity_set": "Things", "id": city.clean.thing})
    await drop_air_pages(session, thing)
    await client.get("/air", headers=HTML)
    assert pages_of(app).misses == 2


async def test_errors_are_never_kept_and_junk_parameters_add_no_pages(
    app: Any, client: httpx.AsyncClient, city: City
) -> None:
    for _ in range(2):
        assert (await client.get("/air/stations/999999", headers=HTML)).status_code == 404
    hidden = f"/air/stations/{city.private.thing}"
    assert (await client.get(hidden, headers=HTML)).status_code == 404
    assert (await client.get("/air/stations/abc", headers=HTML)).status_code in (404, 422)
    for n in range(5):
        r = await client.get(f"/air?junk={n}&view=nonsense", headers=HTML)
        assert r.status_code == 200
    r = await client.get(f"/air/stations/{city.clean.thing}?view=nonsense", headers=HTML)
    assert r.status_code == 200
    # One /air page and one station page (an unknown view is the day view): nothing more.
    assert len(pages_of(app)) == 2


# --- the cache itself ---------------------------------------------------------------------


def a_request(app: Any) -> Request:
    return Request({"type": "http", "app": app, "headers": [], "method": "GET", "path": "/x"})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def page_with_token(body: str = "page") -> Any:
    from smartcity.web.render import csrf_token

    built: list[int] = []

    def build_for(request: Request) -> Any:
        async def build() -> Response:
            built.append(1)
            await asyncio.sleep(0)  # let concurrent callers arrive while this renders
            return HTMLResponse(f"<p>{body} {csrf_token(request)}</p>")

        return build

    return built, build_for


async def test_the_cache_is_bounded_and_ages(app: Any) -> None:
    ticks = Clock()
    pages = PageCache(max_age=60, max_entries=3, monotonic=ticks)
    built, build_for = page_with_token()
    for key in range(5):
        request = a_request(app)
        await pages.page(request, "t", key, build_for(request), signed_in=False)
    assert len(pages) == 3 and len(built) == 5
    request = a_request(app)
    await pages.page(request, "t", 4, build_for(request), signed_in=False)  # kept
    await pages.page(request, "t", 0, build_for(request), signed_in=False)  # evicted first
    assert len(built) == 6
    ticks.now = 61
    await pages.page(request, "t", 4, build_for(request), signed_in=False)
    assert len(built) == 7


async def test_concurrent_misses_render_once_and_tokens_differ(app: Any) -> None:
    pages = PageCache()
    built, build_for = page_with_token()
    requests = [a_request(app) for _ in range(20)]
    answers = await asyncio.gather(
        *(pages.page(r, "t", "k", build_for(r), signed_in=False) for r in requests)
    )
    assert len(built) == 1
    bodies = {bytes(a.body) for a in answers}
    assert len(bodies) == 20 and not any(TOKEN_PLACEHOLDER.encode() in b for b in bodies)


async def test_invalidation_during_a_rendering_keeps_nothing_stale(app: Any) -> None:
    pages = PageCache()
    request = a_request(app)

    async def build() -> Response:
        cache.invalidate("t2")  # the data changed while this page was being rendered
        return HTMLResponse("old")

    await pages.page(request, "t2", "k", build, signed_in=False)
    assert len(pages) == 0


async def test_a_failed_rendering_lets_the_next_try(app: Any) -> None:
    pages = PageCache()
    request = a_request(app)

    async def broken() -> Response:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        await pages.page(request, "t3", "k", broken, signed_in=False)
    built, build_for = page_with_token()
    page = await pages.page(request, "t3", "k", build_for(request), signed_in=False)
    assert page.status_code == 200 and len(built) == 1


async def test_an_aged_page_is_served_while_one_request_renders_it_anew(app: Any) -> None:
    ticks = Clock()
    pages = PageCache(max_age=60, monotonic=ticks)
    built, build_for = page_with_token()
    first = a_request(app)
    await pages.page(first, "t4", "k", build_for(first), signed_in=False)
    ticks.now = 61
    rendering = asyncio.Event()
    release = asyncio.Event()

    async def slow_build() -> Response:
        rendering.set()
        await release.wait()
        return HTMLResponse("<p>new</p>")

    renewing = asyncio.ensure_future(
        pages.page(a_request(app), "t4", "k", slow_build, signed_in=False)
    )
    await rendering.wait()
    # A visitor meanwhile: the aged page at once, nothing rendered for it.
    other = a_request(app)
    # (Bounded: before, it waited for the rendering, which waits for this test.)
    aged = await asyncio.wait_for(
        pages.page(other, "t4", "k", build_for(other), signed_in=False), timeout=10
    )
    assert aged.body.startswith(b"<p>page ") and len(built) == 1
    release.set()
    assert (await renewing).body == b"<p>new</p>"
    later = a_request(app)
    again = await pages.page(later, "t4", "k", build_for(later), signed_in=False)
    assert again.body == b"<p>new</p>" and len(built) == 1


async def test_a_changed_page_is_never_served_while_it_renders_anew(app: Any) -> None:
    pages = PageCache()
    built, build_for = page_with_token()
    first = a_request(app)
    await pages.page(first, "t5", "k", build_for(first), signed_in=False)
    cache.invalidate("t5")
    rendering = asyncio.Event()
    release = asyncio.Event()

    async def slow_build() -> Response:
        rendering.set()
        await release.wait()
        return HTMLResponse("<p>new</p>")

    renewing = asyncio.ensure_future(
        pages.page(a_request(app), "t5", "k", slow_build, signed_in=False)
    )
    await rendering.wait()
    other = a_request(app)
    waiting = asyncio.ensure_future(pages.page(other, "t5", "k", build_for(other), signed_in=False))
    await asyncio.sleep(0)
    assert not waiting.done()  # it waits for the new page, not the changed one
    release.set()
    assert (await renewing).body == (await waiting).body == b"<p>new</p>"
    assert len(built) == 1
