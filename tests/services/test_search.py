"""Searching the service items (事项搜索): Chinese word segmentation, keywords, life events,
departments, English, the order a person expects, the index rebuilt on a change, bounded
input as 422 problems, and the results page."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import InvalidInput
from smartcity.core.models import Department
from smartcity.services import search, subscriptions
from smartcity.services.subscriptions import ServiceItemUpdate
from tests.problems import assert_problem
from tests.services.factories import ADMIN, create_item

HTML = {"accept": "text/html", "accept-language": "en"}


async def _catalogue(session: AsyncSession) -> None:
    await create_item(
        session,
        code="GAJ-001",
        name="居住证办理",
        department_code="GAJ",
        applicant_kinds=["citizen"],
        life_events=["住房", "就业"],
        legal_basis="《居住证暂行条例》第九条",
        description="在本市居住半年以上的，申领居住证。",
    )
    await create_item(
        session,
        code="GAJ-002",
        name="居住证签注",
        department_code="GAJ",
        applicant_kinds=["citizen"],
        life_events=["住房"],
        description="居住证每年签注一次。",
    )
    await create_item(
        session,
        code="SCJGJ-001",
        name="个体工商户设立登记",
        department_code="SCJGJ",
        applicant_kinds=["citizen"],
        life_events=["开办企业", "就业"],
        description="个人从事工商业经营，申领个体工商户营业执照。",
    )
    await create_item(
        session,
        code="SCJGJ-002",
        name="营业执照",
        department_code="SCJGJ",
        applicant_kinds=["enterprise"],
        life_events=["开办企业"],
        description="补领、换领营业执照。",
    )
    await create_item(
        session,
        code="WJW-001",
        name="出生医学证明",
        department_code="WJW",
        applicant_kinds=["citizen"],
        life_events=["生育"],
        description="新生儿出生后申领出生医学证明。",
    )
    await create_item(
        session,
        code="RSJ-002",
        name="失业登记",
        department_code="RSJ",
        applicant_kinds=["citizen"],
        life_events=["就业"],
        description="处于无业状态的人员办理失业登记。",
    )


async def codes(session: AsyncSession, q: str, limit: int = 10) -> list[str]:
    result = await search.search_service_items(session, q=q, limit=limit)
    return [f.item.code for f in result.found]


class TestSearchServiceItems:
    async def test_a_word_finds_the_longer_name_it_is_in(self, session: AsyncSession) -> None:
        await _catalogue(session)
        # 居住证办理 is cut into 居住证 + 办理; both items named with 居住证 come, the one whose
        # description also says 申领居住证 is no better than the other on the name.
        assert await codes(session, "居住证") == ["GAJ-001", "GAJ-002"]
        assert (await search.search_service_items(session, q="居住证")).words == ["居住证"]

    async def test_exact_name_first_then_names_then_keywords(self, session: AsyncSession) -> None:
        await _catalogue(session)
        # The item named 营业执照 first; the one whose description issues one after it.
        assert await codes(session, "营业执照") == ["SCJGJ-002", "SCJGJ-001"]
        result = await search.search_service_items(session, q="营业执照")
        assert result.found[0].matched[0] == "name"
        assert result.found[1].matched == ("keyword",)

    async def test_keyword_from_the_description(self, session: AsyncSession) -> None:
        await _catalogue(session)
        assert await codes(session, "新生儿") == ["WJW-001"]
        # and from the legal basis: the item of 《居住证暂行条例》, not every 居住证 item.
        assert await codes(session, "居住证暂行条例") == ["GAJ-001"]

    async def test_life_event(self, session: AsyncSession) -> None:
        await _catalogue(session)
        assert await codes(session, "生育") == ["WJW-001"]
        found = await search.search_service_items(session, q="开办企业")
        assert [f.item.code for f in found.found] == ["SCJGJ-001", "SCJGJ-002"]
        assert {f.matched for f in found.found} == {("life_event",)}

    async def test_department_ranks_after_the_rest(self, session: AsyncSession) -> None:
        await _catalogue(session)
        gaj = await session.get(Department, (await _department_id(session, "GAJ")))
        assert gaj is not None
        gaj.name = "公安局"
        await session.commit()
        result = await search.search_service_items(session, q="公安局")
        assert [f.item.code for f in result.found] == ["GAJ-001", "GAJ-002"]
        assert {f.matched for f in result.found} == {("department",)}

    async def test_english_names_of_departments(self, session: AsyncSession) -> None:
        await _catalogue(session)
        gaj = await session.get(Department, (await _department_id(session, "GAJ")))
        assert gaj is not None
        gaj.name_en = "Public Security Bureau"
        await session.commit()
        assert await codes(session, "public security") == ["GAJ-001", "GAJ-002"]
        assert await codes(session, "PUBLIC  Security  bureau") == ["GAJ-001", "GAJ-002"]

    async def test_question_words_do_not_match_everything(self, session: AsyncSession) -> None:
        await _catalogue(session)
        assert await codes(session, "我要办居住证") == ["GAJ-001", "GAJ-002"]
        assert await codes(session, "天气预报") == []

    async def test_limit_and_total(self, session: AsyncSession) -> None:
        await _catalogue(session)
        result = await search.search_service_items(session, q="就业", limit=1)
        assert result.total == 3 and len(result.found) == 1

    async def test_the_index_follows_a_change_once_committed(self, session: AsyncSession) -> None:
        await _catalogue(session)
        await session.commit()
        assert await codes(session, "港澳通行证") == []
        builds = search.holder().builds
        assert await codes(session, "居住证") == ["GAJ-001", "GAJ-002"]
        assert search.holder().builds == builds  # from memory
        await subscriptions.update_service_item(
            session, ADMIN, "WJW-001", ServiceItemUpdate(name="港澳通行证签注")
        )
        await session.commit()
        assert await codes(session, "港澳通行证") == ["WJW-001"]
        assert search.holder().builds == builds + 1
        await subscriptions.update_service_item(
            session, ADMIN, "WJW-001", ServiceItemUpdate(active=False)
        )
        await session.commit()
        assert await codes(session, "港澳通行证") == []

    @pytest.mark.parametrize(
        ("q", "limit", "field"),
        [
            ("", 10, "q"),
            ("   ", 10, "q"),
            ("居" * 101, 10, "q"),
            ("居住\x00证", 10, "q"),
            ("居住\u202e证", 10, "q"),
            ("居住证", 0, "limit"),
            ("居住证", 51, "limit"),
        ],
    )
    async def test_bad_input(self, session: AsyncSession, q: str, limit: int, field: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            await search.search_service_items(session, q=q, limit=limit)
        assert refused.value.extensions["field"] == field


async def _department_id(session: AsyncSession, code: str) -> object:
    from sqlalchemy import select

    return (
        await session.execute(select(Department.id).where(Department.code == code))
    ).scalar_one()


class TestSearchApi:
    async def test_public_search(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await _catalogue(session)
        await session.commit()
        r = await client.get("/api/v1/services/search", params={"q": "营业执照", "limit": 5})
        assert r.status_code == 200
        body = r.json()
        assert body["query"] == "营业执照" and body["words"] == ["营业执照"]
        assert body["total"] == 2
        assert [i["code"] for i in body["items"]] == ["SCJGJ-002", "SCJGJ-001"]
        assert body["items"][0]["matched"][0] == "name"
        assert body["items"][0]["department_code"] == "SCJGJ"

    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"q": ""},
            {"q": "   "},
            {"q": "居" * 101},
            {"q": "居住\x1b[31m证"},
            {"q": "居住证", "limit": "0"},
            {"q": "居住证", "limit": "51"},
            {"q": "居住证", "limit": "many"},
        ],
    )
    async def test_bad_input_is_a_422_problem(
        self, client: httpx.AsyncClient, params: dict[str, str]
    ) -> None:
        r = await client.get("/api/v1/services/search", params=params)
        assert_problem(r, 422, "invalid-input")

    async def test_documented(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        op = spec["paths"]["/api/v1/services/search"]["get"]
        params = {p["name"]: p for p in op["parameters"]}
        assert params["q"]["schema"]["maxLength"] == 100
        assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (
            1,
            50,
        )


class TestResultsPage:
    async def test_results_best_first(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalogue(session)
        await session.commit()
        r = await client.get("/services", params={"q": "营业执照"}, headers=HTML)
        assert r.status_code == 200
        text = r.text
        assert text.index('href="/services/SCJGJ-002"') < text.index('href="/services/SCJGJ-001"')
        assert 'href="/services/GAJ-001"' not in text
        assert "2 services match." in text

    async def test_no_results_suggests_life_events_and_departments(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalogue(session)
        await session.commit()
        r = await client.get("/services", params={"q": "天气预报"}, headers=HTML)
        assert r.status_code == 200
        assert "No service matches your search." in r.text
        no_results = r.text[r.text.index('class="notice no-results"') :]
        assert "/services?life_event=%E7%94%9F%E8%82%B2" in no_results  # 生育
        assert "/services?department=GAJ" in no_results

    async def test_bad_search_marks_the_box(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        r = await client.get("/services", params={"q": "居住\x00证"}, headers=HTML)
        assert r.status_code == 422
        assert 'aria-invalid="true"' in r.text and 'id="q-error"' in r.text

    async def test_more_matches_than_shown(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        for n in range(search.MAX_LIMIT + 2):
            await create_item(session, code=f"SCJGJ-{n:03d}", name=f"食品经营许可{n}")
        await session.commit()
        r = await client.get("/services", params={"q": "食品"}, headers=HTML)
        assert r.status_code == 200
        assert r.text.count('<li class="card">') == search.MAX_LIMIT
        assert "52 services match. The best 50 are shown" in r.text
