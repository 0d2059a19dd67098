"""The front door (门户首页, web.home): what each visitor finds on /, built from the panels the
modules declare, and the anonymous page served from the public page cache until a service
item changes or an air report comes in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import case_deadline
from smartcity.core import clock, i18n, notifications
from smartcity.core.module import ModuleError
from smartcity.core.workdays import load_calendar
from smartcity.environment.compute import AIR_PAGES
from smartcity.services import subscriptions
from smartcity.services.application import following
from smartcity.services.subscriptions import ServiceItemUpdate
from smartcity.web import cache, home
from smartcity.web.cache import PageCache
from tests.environment.city import NOW, make_city
from tests.registry import factories as registry_factories
from tests.services import factories as f
from tests.services.test_application_pages import as_

EN = {"accept": "text/html", "accept-language": "en"}
ZH = {"accept": "text/html", "accept-language": "zh-CN"}


@pytest.fixture
def _now() -> Iterator[None]:
    """The hour of the test city's air reports (signed-in tests keep the real clock: their
    tokens are judged by it)."""
    with clock.frozen(NOW):
        yield


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


def as_en(client: httpx.AsyncClient, account: Any) -> dict[str, str]:
    return {**as_(client, account), "accept-language": "en"}


def main_of(html: str) -> str:
    return html[html.index('<main id="main"') : html.index("</main>")]


def pages_of(app: Any) -> PageCache:
    found: PageCache = app.state.public_pages
    return found


async def _catalogue(session: AsyncSession) -> None:
    await f.citizen_item(session)
    await f.citizen_item(session, code="SCJGJ-103", name="食品摊贩登记", promised_days=3)
    await f.enterprise_item(session)


@pytest.mark.usefixtures("_now")
class TestAnonymous:
    async def test_search_popular_air_and_sign_in(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalogue(session)
        await make_city(session)
        await session.commit()
        r = await client.get("/", headers=EN)
        assert r.status_code == 200
        main = main_of(r.text)
        assert 'action="/services" role="search"' in main and 'name="q"' in main
        assert "Popular services" in main and 'href="/services/SCJGJ-101"' in main
        # The air now: the city's AQI with its category and a link to /air.
        assert "Air quality now" in main and 'href="/air"' in main
        assert re.search(r"<strong>\d+</strong> <span>(Good|Moderate|Lightly polluted)", main)
        assert 'href="/login"' in main and 'href="/register"' in main
        # Nothing for integrators among the citizen's panels; the footer keeps the link.
        assert "/docs" not in main and 'href="/docs"' in r.text
        assert "My matters" not in main and "My work" not in main

    async def test_an_empty_city_still_offers_services(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalogue(session)
        await session.commit()
        main = main_of((await client.get("/", headers=EN)).text)
        # No application yet: the catalogue in its order, and no air report yet.
        assert main.index("SCJGJ-101") < main.index("SCJGJ-102") < main.index("SCJGJ-103")
        assert "No air quality report yet." in main

    async def test_chinese_page(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await _catalogue(session)
        await session.commit()
        main = main_of((await client.get("/", headers=ZH)).text)
        assert "热门服务" in main and "搜索" in main and "Popular services" not in main


class TestCitizen:
    async def test_matters_with_state_and_days_left_and_unread_messages(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalogue(session)
        me = await f.citizen(session)
        _first, first_case = await f.submitted(session, me, await _item(session, "SCJGJ-101"))
        _second, second_case = await f.submitted(session, me, await _item(session, "SCJGJ-103"))
        await notifications.notify(
            session, me.account.id, topic="test", title="您的申请已受理", link="/my/applications"
        )
        unread = await notifications.unread_count(session, me.principal)
        await session.commit()
        r = await client.get("/", headers=as_en(client, me.account))
        assert r.status_code == 200
        main = main_of(r.text)
        assert "My matters" in main
        calendar = await load_calendar(session)
        for case_ in (first_case, second_case):
            line = case_deadline(case_, calendar, clock.now())
            assert f'data-remaining="{line.remaining}"' in main
            assert f"{line.remaining} working days left" in main
        assert main.count('href="/my/applications/') == 2
        for line_of in await following.list_my_applications(session, me.principal):
            assert f'<span class="tag blue">{line_of.state_title}</span>' in main
        assert f"{unread} unread" in main and "您的申请已受理" in main
        # Citizens get their own panels, not the desk's.
        assert "My work" not in main and 'href="/login"' not in main

    async def test_no_messages_no_matters(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalogue(session)
        me = await f.citizen(session)
        await session.commit()
        main = main_of((await client.get("/", headers=as_en(client, me.account))).text)
        assert "You have no applications yet." in main and "No unread messages." in main


async def _item(session: AsyncSession, code: str) -> Any:
    from smartcity.services import service

    return await service.get_service_item(session, None, code)


class TestStaff:
    async def test_desk_counts_instead_of_citizen_panels(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalogue(session)
        me = await f.citizen(session)
        await f.submitted(session, me, await _item(session, "SCJGJ-101"))
        officer = await registry_factories.department_account(session, "SCJGJ")
        await session.commit()
        r = await client.get("/", headers=as_en(client, officer))
        assert r.status_code == 200
        main = main_of(r.text)
        assert "My work" in main and 'href="/cases?tab=unassigned"' in main
        # The application waits unassigned at the department's desk.
        unassigned = re.search(
            r'href="/cases\?tab=unassigned"><span class="count">(\d+)</span>', main
        )
        assert unassigned and unassigned.group(1) == "1"
        assert "My matters" not in main and "Popular services" not in main


class TestCache:
    async def test_anonymous_home_is_cached_until_an_item_or_air_changes(
        self, app: Any, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalogue(session)
        await session.commit()
        first = await client.get("/", headers=EN)
        await client.get("/", headers=EN)
        assert (pages_of(app).misses, pages_of(app).hits) == (1, 1)
        await subscriptions.update_service_item(
            session, f.ADMIN, "SCJGJ-101", ServiceItemUpdate(name="小餐饮经营许可（新）")
        )
        await session.commit()
        after = await client.get("/", headers=EN)
        assert pages_of(app).misses == 2
        assert "小餐饮经营许可（新）" in after.text and "小餐饮经营许可（新）" not in first.text
        cache.invalidate(AIR_PAGES)
        await client.get("/", headers=EN)
        assert pages_of(app).misses == 3

    async def test_the_signed_out_notice_is_not_kept_for_others(
        self, app: Any, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        after_sign_out = await client.get("/?signed_out=1", headers=EN)
        assert "You have signed out." in after_sign_out.text
        assert "You have signed out." not in (await client.get("/", headers=EN)).text
        assert "You have signed out." in (await client.get("/?signed_out=1", headers=EN)).text
        assert pages_of(app).hits == 1

    async def test_signed_in_pages_are_not_cached(
        self, app: Any, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        me = await f.citizen(session)
        await session.commit()
        for _ in range(2):
            assert (await client.get("/", headers=as_en(client, me.account))).status_code == 200
        assert getattr(app.state, "public_pages", None) is None or len(pages_of(app)) == 0


class TestExtensionPoint:
    def test_panels_by_kind_in_order(self) -> None:
        anonymous = [p.name for p in home.panels_for(None)]
        assert anonymous == ["services.search", "services.popular", "environment.air"]

    def test_two_panels_of_one_name_are_refused(self) -> None:
        panel = home.panels_for(None)[0]
        with pytest.raises(ModuleError):
            home.install_home_panels([panel, panel])


class TestPopularServices:
    async def test_most_applied_for_first_then_a_spread_of_departments(
        self, session: AsyncSession
    ) -> None:
        from smartcity.services.home import popular_items

        await _catalogue(session)
        await f.create_item(session, code="GAJ-001", name="居住证办理", department_code="GAJ")
        await f.create_item(session, code="GAJ-002", name="出生登记", department_code="GAJ")
        # An empty city: the catalogue one department at a time, in code order.
        empty = await popular_items(session, limit=4)
        assert [(i.code, n) for i, n in empty] == [
            ("GAJ-001", 0),
            ("SCJGJ-101", 0),
            ("GAJ-002", 0),
            ("SCJGJ-102", 0),
        ]
        for _ in range(2):
            await f.submitted(session, await f.citizen(session), await _item(session, "SCJGJ-103"))
        await f.submitted(session, await f.citizen(session), await _item(session, "SCJGJ-101"))
        # A draft is no application yet.
        await f.ready_draft(session, await f.citizen(session), await _item(session, "SCJGJ-101"))
        counted = await popular_items(session, limit=3)
        assert [(i.code, n) for i, n in counted] == [
            ("SCJGJ-103", 2),
            ("SCJGJ-101", 1),
            ("GAJ-001", 0),
        ]


class TestAFailingPanel:
    async def test_the_others_still_show(
        self, client: httpx.AsyncClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
    ) -> None:
        from sqlalchemy import text

        async def broken(request: Any, db: AsyncSession, principal: Any) -> Any:
            await db.execute(text("SELECT * FROM no_such_table"))

        await _catalogue(session)
        await session.commit()
        installed = home.panels_for(None)
        home.install_home_panels(
            [*installed, home.HomePanel("test.broken", 1, broken, frozenset({home.ANONYMOUS}))]
        )
        try:
            r = await client.get("/", headers=EN)
        finally:
            home.install_home_panels(installed)
        assert r.status_code == 200
        assert "Popular services" in r.text and "Air quality now" in r.text
        assert "home panel test.broken failed" in caplog.text
