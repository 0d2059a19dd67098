"""Error pages speak the visitor's language, and name the roles a page is for in words;
the API keeps problem+json with English titles for machines."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import APIRouter

from tests.core import factories
from tests.core.test_pages import HTML, sign_in
from tests.e2e.language import check_en, check_zh
from tests.problems import assert_problem

EN = {"accept": "text/html", "accept-language": "en"}


def main_text(html: str) -> str:
    """The <main> of a page, tags dropped: what the visitor reads of the error."""
    body = html.split('<main id="main" class="wrap">', 1)[1].split("</main>", 1)[0]
    return re.sub(r"<[^>]+>", "\n", body)


class TestErrorPages:
    async def test_404_in_chinese_and_english(self, client):
        r = await client.get("/no-such-page", headers=HTML)
        assert r.status_code == 404 and "页面不存在" in r.text
        assert "Not Found" not in r.text and check_zh(main_text(r.text)) == []
        r = await client.get("/no-such-page", headers=EN)
        assert r.status_code == 404 and "Page not found" in r.text
        assert check_en(main_text(r.text)) == []

    async def test_403_names_the_roles_in_words(self, client, session):
        account = await factories.create_account(session)
        await sign_in(client, account.username)
        r = await client.get("/admin/departments", headers=HTML)
        assert r.status_code == 403
        assert "此页面仅供管理员使用；您当前以市民身份登录。" in r.text
        assert check_zh(main_text(r.text)) == []
        r = await client.get("/admin/departments", headers=EN)
        assert "This page is for admin; you are signed in as citizen." in r.text
        assert check_en(main_text(r.text)) == []

    async def test_several_roles_are_joined_as_a_sentence(self, client, session):
        account = await factories.create_account(session)
        await sign_in(client, account.username)
        r = await client.get("/sensing", headers=HTML)
        assert r.status_code == 403, r.text[:300]
        assert "此页面仅供部门工作人员、监察人员和管理员使用；您当前以市民身份登录。" in r.text
        r = await client.get("/sensing", headers=EN)
        assert (
            "This page is for staff, supervisor and admin; you are signed in as citizen." in r.text
        )

    async def test_405_page(self, client):
        r = await client.delete("/login", headers=HTML)
        assert r.status_code == 405 and "此处不能执行该操作" in r.text
        assert check_zh(main_text(r.text)) == []

    async def test_500_page_apologises_without_internals(self, app, client):
        router = APIRouter()

        @router.get("/boom-for-test")
        async def boom() -> None:
            raise RuntimeError("secret internals")

        app.include_router(router)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get("/boom-for-test", headers=HTML)
            assert r.status_code == 500 and "抱歉" in r.text
            assert "secret internals" not in r.text
            r = await c.get("/boom-for-test", headers=EN)
            assert "Sorry, something went wrong" in r.text

    @pytest.mark.parametrize("headers", [HTML, EN])
    async def test_api_keeps_problem_json_with_english_title(self, client, headers):
        r = await client.get(
            "/api/v1/no-such-thing",
            headers={"accept-language": headers.get("accept-language", "zh")},
        )
        body = assert_problem(r, 404, "not-found")
        assert body["title"] == "Not Found"
