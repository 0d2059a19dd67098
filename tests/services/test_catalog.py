"""The service item catalog (事项目录): services, public API, public pages, demo seed."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import supervision
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.services import service
from smartcity.services.models import ServiceItem
from smartcity.services.schemas import ServiceItemCreate
from smartcity.services.seed import DEMO_ITEMS, seed_service_items
from tests.cases.factories import department, person
from tests.problems import assert_problem
from tests.services.factories import ADMIN, create_item

HTML = {"accept": "text/html"}


async def _catalog(session: AsyncSession) -> None:
    await create_item(session)
    await create_item(
        session,
        code="GAJ-001",
        name="居住证办理",
        department_code="GAJ",
        statutory_days=15,
        promised_days=7,
        applicant_kinds=["citizen"],
        life_events=["住房", "就业"],
        legal_basis="《居住证暂行条例》第九条",
        description="在本市居住半年以上的，申领居住证。",
    )
    await create_item(
        session,
        code="RSJ-002",
        name="失业登记",
        department_code="RSJ",
        statutory_days=5,
        promised_days=1,
        fee_fen=2000,
        applicant_kinds=["citizen"],
        life_events=["就业"],
        legal_basis="《就业服务与就业管理规定》第六十一条",
        description="处于无业状态的人员办理失业登记。",
    )


class TestListServiceItems:
    async def test_filters(self, session: AsyncSession) -> None:
        await _catalog(session)
        every = await service.list_service_items(session, None)
        assert [i.code for i in every] == ["GAJ-001", "RSJ-002", "SCJGJ-003"]
        by_word = await service.list_service_items(session, None, q="居住")
        assert [i.code for i in by_word] == ["GAJ-001"]
        by_basis = await service.list_service_items(session, None, q="食品安全法")
        assert [i.code for i in by_basis] == ["SCJGJ-003"]
        by_event = await service.list_service_items(session, None, life_event="就业")
        assert [i.code for i in by_event] == ["GAJ-001", "RSJ-002"]
        by_dep = await service.list_service_items(session, None, department="RSJ")
        assert [i.code for i in by_dep] == ["RSJ-002"]
        firms = await service.list_service_items(session, None, applicant_kind="enterprise")
        assert [i.code for i in firms] == ["SCJGJ-003"]
        both = await service.list_service_items(
            session, None, q="登记", life_event="就业", department="RSJ"
        )
        assert [i.code for i in both] == ["RSJ-002"]
        assert await service.life_events(session, None) == ["住房", "就业", "开办企业"]

    async def test_withdrawn_items_only_for_admins(self, session: AsyncSession) -> None:
        item = await create_item(session)
        item.active = False
        await session.flush()
        assert await service.list_service_items(session, None) == []
        with pytest.raises(NotFound):
            await service.get_service_item(session, None, item.code)
        assert (await service.get_service_item(session, ADMIN, item.code)).id == item.id

    async def test_bad_input(self, session: AsyncSession) -> None:
        await _catalog(session)
        with pytest.raises(InvalidInput) as info:
            await service.list_service_items(session, None, department="NOPE")
        assert info.value.extensions["field"] == "department"
        with pytest.raises(InvalidInput):
            await service.list_service_items(session, None, applicant_kind="martian")
        assert await service.list_service_items(session, None, q="%_不存在") == []
        with pytest.raises(NotFound):
            await service.get_service_item(session, None, "NOPE-1")


class TestCreateServiceItem:
    async def test_the_board_names_items_by_code(self, session: AsyncSession) -> None:
        item = await create_item(session)
        names = await supervision.category_names(session, [item.code, "NO-SUCH-ITEM", ""])
        assert names == {item.code: item.name}

    async def test_creates_with_its_limits(self, session: AsyncSession) -> None:
        item = await create_item(session, statutory_days=12, promised_days=4)
        assert item.fee_fen == 0 and item.active
        assert (item.statutory_days, item.promised_days) == (12, 4)

    async def test_refusals(self, session: AsyncSession) -> None:
        await create_item(session)
        with pytest.raises(Conflict):
            await create_item(session)
        _staff, staff_p = await person(session, "staff", "SCJGJ")
        data = ServiceItemCreate.model_validate(
            {
                "code": "SCJGJ-009",
                "name": "x",
                "department_code": "SCJGJ",
                "statutory_days": 5,
                "promised_days": 5,
                "applicant_kinds": ["citizen"],
            }
        )
        with pytest.raises(Forbidden):
            await service.create_service_item(session, staff_p, data)
        with pytest.raises(InvalidInput):
            await service.create_service_item(
                session, ADMIN, data.model_copy(update={"department_code": "NOPE"})
            )
        with pytest.raises(ValidationError):
            ServiceItemCreate.model_validate(
                {**data.model_dump(), "statutory_days": 3, "promised_days": 5}
            )
        with pytest.raises(ValidationError):
            ServiceItemCreate.model_validate({**data.model_dump(), "fee_fen": -1})
        with pytest.raises(ValidationError):
            ServiceItemCreate.model_validate({**data.model_dump(), "applicant_kinds": ["alien"]})


class TestSeed:
    async def test_seed_is_idempotent(self, session: AsyncSession) -> None:
        assert len(DEMO_ITEMS) >= 30
        assert all(i.promised_days <= i.statutory_days for i in DEMO_ITEMS)
        for code in {i.department_code for i in DEMO_ITEMS}:
            await department(session, code)
        assert await seed_service_items(session, ADMIN) == len(DEMO_ITEMS)
        assert await seed_service_items(session, ADMIN) == 0
        count = len((await session.execute(select(ServiceItem.id))).all())
        assert count == len(DEMO_ITEMS)

    async def test_items_of_missing_departments_are_skipped(self, session: AsyncSession) -> None:
        await department(session, "GAJ")
        added = await seed_service_items(session, ADMIN)
        assert added == sum(1 for i in DEMO_ITEMS if i.department_code == "GAJ")


class TestApi:
    async def test_anonymous_list_and_get(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalog(session)
        await session.commit()
        r = await client.get("/api/v1/services/items")
        assert r.status_code == 200
        assert [i["code"] for i in r.json()] == ["GAJ-001", "RSJ-002", "SCJGJ-003"]
        r = await client.get("/api/v1/services/items", params={"life_event": "就业"})
        assert [i["code"] for i in r.json()] == ["GAJ-001", "RSJ-002"]
        r = await client.get("/api/v1/services/items", params={"department": "SCJGJ", "q": "食品"})
        assert [i["code"] for i in r.json()] == ["SCJGJ-003"]
        r = await client.get("/api/v1/services/items/RSJ-002")
        body = r.json()
        assert r.status_code == 200 and body["fee_fen"] == 2000
        assert body["department_code"] == "RSJ" and body["promised_days"] == 1

    async def test_bad_input(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await _catalog(session)
        await session.commit()
        r = await client.get("/api/v1/services/items/NOPE-1")
        assert_problem(r, 404, "not-found")
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await client.get("/api/v1/services/items/bad%20code")
        assert_problem(r, 422, "invalid-input")
        r = await client.get("/api/v1/services/items", params={"q": "x" * 101})
        assert_problem(r, 422, "invalid-input")
        r = await client.get("/api/v1/services/items", params={"department": "NOPE"})
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "department"
        r = await client.get("/api/v1/services/items", params={"applicant_kind": "alien"})
        assert_problem(r, 422, "invalid-input")


class TestPages:
    async def test_anonymous_catalog_and_item(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalog(session)
        await session.commit()
        page = await client.get("/services", headers=HTML)
        assert page.status_code == 200
        assert "居住证办理" in page.text and "食品经营许可" in page.text
        searched = await client.get("/services?q=居住", headers=HTML)
        assert "居住证办理" in searched.text and "食品经营许可" not in searched.text
        by_event = await client.get("/services?life_event=开办企业", headers=HTML)
        assert "食品经营许可" in by_event.text and "居住证办理" not in by_event.text
        by_dep = await client.get("/services?department=RSJ", headers=HTML)
        assert "失业登记" in by_dep.text and "居住证办理" not in by_dep.text
        item = await client.get("/services/RSJ-002", headers=HTML)
        assert item.status_code == 200
        assert "失业登记" in item.text and "20.00" in item.text
        assert "/login?next=/services/RSJ-002/apply" in item.text  # sign in to apply

    async def test_english_catalog_names_life_events_and_marks_descriptions(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _catalog(session)
        await session.commit()
        page = await client.get("/services", headers={**HTML, "Accept-Language": "en"})
        assert page.status_code == 200
        assert ">Starting a business<" in page.text and ">开办企业<" not in page.text
        # A description is free text in Chinese: shown marked, not as English.
        assert re.search(r'<p><span lang="zh-CN" class="zh-name"[^>]*>[\u4e00-\u9fff]', page.text)
        zh = await client.get("/services", headers={**HTML, "Accept-Language": "zh-CN"})
        assert ">开办企业<" in zh.text and "Starting a business" not in zh.text

    async def test_bad_input(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await _catalog(session)
        await session.commit()
        r = await client.get("/services/NOPE-1", headers=HTML)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        r = await client.get("/services?department=NOPE&q=" + "x" * 500, headers=HTML)
        # A search longer than the box takes is refused on the page, the box marked.
        assert r.status_code == 422 and "居住证办理" not in r.text
        assert 'aria-invalid="true"' in r.text
