"""The front door in a browser: a visitor searches the service items from the home page, in
Chinese (居住证 finds 居住证办理, segmented by jieba) and in English (a department's English
name), lands on the results page, and opens the item; the pages fit a phone and a desktop.
A citizen and an officer each get their own home page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as
from tests.e2e.test_apply import PNG, _link, _seed_items_and_person

WIDTHS = (390, 1366)


@pytest.fixture
def seeded(live_server: LiveServer) -> LiveServer:
    _seed_items_and_person(live_server, "home-searcher")
    return live_server


def _two_applications(server: LiveServer, username: str) -> None:
    """The citizen, linked to a person of the registry, applies for 居住证办理 (a photo
    uploaded) and 居民身份证换领 (everything from the registries)."""
    number = _seed_items_and_person(server, username)
    _link(server, username, number)

    async def work(session: Any) -> None:
        from sqlalchemy import select

        from smartcity.core.authz import Principal
        from smartcity.core.models import Account
        from smartcity.services.application import drafts, materials, submission

        account = (
            await session.execute(select(Account).where(Account.username == username))
        ).scalar_one()
        me = Principal(id=account.id, kind="citizen", name=account.username, via="test")
        draft, _ = await drafts.start_application(session, me, "GAJ-001")
        await materials.upload_material(
            session, me, draft.id, name="近期免冠照片", filename="照片.png", content=PNG
        )
        await submission.submit_application(session, me, draft.id)
        draft, _ = await drafts.start_application(session, me, "GAJ-003")
        await submission.submit_application(session, me, draft.id)

    server.run(work)


def _no_horizontal_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def _new_page(browser: Any, server: LiveServer, locale: str, width: int) -> Any:
    context = browser.new_context(
        base_url=server.url, locale=locale, viewport={"width": width, "height": 900}
    )
    return context.new_page()


@pytest.mark.parametrize("width", WIDTHS)
def test_search_from_home_in_chinese(browser: Any, seeded: LiveServer, width: int) -> None:
    page = _new_page(browser, seeded, "zh-CN", width)
    try:
        page.goto("/")
        assert page.locator("h2", has_text="热门服务").count() == 1
        assert page.locator("h2", has_text="实时空气质量").count() == 1
        _no_horizontal_scroll(page)
        shot(page, f"home-anon-zh-{width}")
        page.fill("#home-q", "居住证")
        page.press("#home-q", "Enter")
        page.wait_for_url("**/services?q=*")
        first = page.locator("ul.cards li.card h2 a").first
        assert first.inner_text() == "居住证办理"
        assert page.locator("#q").input_value() == "居住证"
        _no_horizontal_scroll(page)
        shot(page, f"home-results-zh-{width}")
        first.click()
        page.wait_for_url("**/services/GAJ-001")
        page.goto("/services?q=天气预报")
        assert page.locator(".no-results").count() == 1
        assert page.locator(".no-results a", has_text="公安局").count() == 1
        shot(page, f"home-noresults-zh-{width}")
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_search_from_home_in_english(browser: Any, seeded: LiveServer, width: int) -> None:
    page = _new_page(browser, seeded, "en-US", width)
    try:
        page.goto("/lang/en?next=/")
        assert page.locator("h2", has_text="Popular services").count() == 1
        _no_horizontal_scroll(page)
        shot(page, f"home-anon-en-{width}")
        page.fill("#home-q", "public security")
        page.click("form.service-search button[type=submit]")
        page.wait_for_url("**/services?q=*")
        names = page.locator("ul.cards li.card h2 a").all_inner_texts()
        # The items are named in English on the English page, the department too.
        assert "Residence permit" in names
        assert not any("居住证" in name for name in names)
        # The department is named in English on the English page.
        assert page.locator("ul.cards .meta span", has_text="Public Security Bureau").count() > 0
        _no_horizontal_scroll(page)
        shot(page, f"home-results-en-{width}")
    finally:
        page.context.close()


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh_CN"), ("en-US", "en")])
def test_citizen_and_officer_homes(
    browser: Any, seeded: LiveServer, locale: str, lang: str
) -> None:
    for width in WIDTHS:
        page = _new_page(browser, seeded, locale, width)
        try:
            page.goto(f"/lang/{lang}?next=/")
            username = f"home-cit-{lang.lower()}-{width}"
            sign_in_as(page, seeded, username, "citizen", display_name="林小雨")
            _two_applications(seeded, username)
            page.goto("/")
            assert page.locator("#matters-title").count() == 1
            assert page.locator(".matters li").count() == 2
            assert page.locator("#messages-title").count() == 1
            _no_horizontal_scroll(page)
            shot(page, f"home-citizen-{lang}-{width}")
        finally:
            page.context.close()
        page = _new_page(browser, seeded, locale, width)
        try:
            page.goto(f"/lang/{lang}?next=/")
            sign_in_as(
                page, seeded, f"home-off-{lang.lower()}-{width}", "staff", department_code="GAJ"
            )
            page.goto("/")
            assert page.locator("#desk-title").count() == 1
            assert page.locator("#matters-title").count() == 0
            _no_horizontal_scroll(page)
            shot(page, f"home-staff-{lang}-{width}")
        finally:
            page.context.close()
