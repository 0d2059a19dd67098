"""我的数据 tells the whole truth (issue #12, item 7): every read of a person's data — a
registry search or record view, the service hall's prefill, an officer opening the
application, an exchange read — is one row naming the department, who read (officer or
system), the purpose (case number or grant) and when; repeats the same city day fold into
it; the person sees it on /my/data and in the API, and nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from smartcity.cases.models import Case
from smartcity.core import clock
from smartcity.core.errors import InvalidInput
from smartcity.core.security import PRESESSION_COOKIE, issue_access_token
from smartcity.registry import service
from smartcity.registry.models import AccessLog
from smartcity.services.application import following, submission
from smartcity.services.application import prefill as prefill_module
from smartcity.services.application.panel import _registry_person_fields
from smartcity.settings import get_settings
from tests.core import factories as core_factories
from tests.exchange import factories as exchange_factories
from tests.exchange.test_evidence import body_of, call
from tests.problems import assert_problem
from tests.registry import factories
from tests.services import factories as services_factories

# Monday 2 March 2026, 10:00 in Shenzhen.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
LOG = "/api/v1/registry/me/access-log"


def bearer(account, accept: str = "application/json") -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}", "accept": accept}


async def rows_of(session, person_id) -> list[AccessLog]:
    found = await session.execute(
        select(AccessLog).where(AccessLog.person_id == person_id).order_by(AccessLog.id)
    )
    return list(found.scalars())


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


async def linked_citizen(session, **person):
    account = await core_factories.create_account(session)
    record = await factories.create_person(session, **person)
    record.account_id = account.id
    await session.flush()
    return account, record


class TestRegistryReads:
    async def test_search_page_is_one_row_naming_department_officer_and_purpose(
        self, client, session, deps
    ):
        me, person = await linked_citizen(session, name="慕容复")
        officer = await factories.department_account(session, "SCJGJ", display_name="张科员")
        await session.commit()
        for _ in range(2):  # the same search twice (a reload): still one row
            r = await client.get(
                "/registry/persons",
                params={"q": "慕容", "purpose": "企业登记核验"},
                headers=bearer(officer, "text/html"),
            )
            assert r.status_code == 200
        [row] = await rows_of(session, person.id)
        assert (row.department_code, row.actor_name, row.purpose, row.via) == (
            "SCJGJ",
            "张科员",
            "企业登记核验",
            "page",
        )
        assert row.reads == 2 and row.last_at is not None
        [entry] = (await client.get(LOG, headers=bearer(me))).json()["items"]
        assert entry["department_code"] == "SCJGJ" and entry["department_name"]
        got = (entry["actor_name"], entry["purpose"], entry["reads"])
        assert got == ("张科员", "企业登记核验", 2)

    async def test_repeats_fold_per_city_day_and_purpose(self, session, deps):
        _me, person = await linked_citizen(session, name="段誉")
        officer = await factories.department_principal(session, "GAJ")
        with clock.frozen(T0) as move:
            await service.search_persons(session, officer, name_prefix="段誉", via="page")
            move(timedelta(hours=3))
            await service.search_persons(session, officer, name_prefix="段誉", via="page")
            # Opening the record is another purpose (查看): its own row.
            await service.get_person_record(session, officer, person.id, via="page")
            # 16:30 UTC is 00:30 the next day in Shenzhen: a new day, a new row.
            move(timedelta(hours=11, minutes=30))
            await service.search_persons(session, officer, name_prefix="段誉", via="page")
        search, view, next_day = await rows_of(session, person.id)
        assert (search.purpose, search.reads, search.at, search.last_at) == (
            service.PURPOSE_SEARCH,
            2,
            T0,
            T0 + timedelta(hours=3),
        )
        assert (view.purpose, view.reads) == (service.PURPOSE_VIEW, 1)
        assert "id_number" in view.fields  # 公安局 is the identity source: shown in full
        assert (next_day.purpose, next_day.reads) == (service.PURPOSE_SEARCH, 1)

    async def test_another_officer_is_another_row(self, session, deps):
        _me, person = await linked_citizen(session, name="王语嫣")
        first = await factories.department_principal(session, "GAJ")
        second = await factories.department_principal(session, "GAJ")
        await service.get_person(session, first, person.id, purpose="核查")
        await service.get_person(session, second, person.id, purpose="核查")
        assert len({r.actor for r in await rows_of(session, person.id)}) == 2


class TestServiceHall:
    async def test_prefill_is_one_row_by_the_service_hall_that_the_person_sees(self, session):
        item = await services_factories.citizen_item(session)
        me = await services_factories.citizen(session)
        assert me.person is not None
        application_id = await services_factories.ready_draft(session, me, item)
        for _ in range(3):  # the applicant opens the draft three times that day
            await following.describe_application(session, me.principal, application_id)
        rows = await rows_of(session, me.person.id)
        [shown] = rows
        assert (shown.actor_kind, shown.actor_name, shown.department_code) == (
            "system",
            prefill_module.PREFILL_ACTOR_NAME,
            "SCJGJ",
        )
        assert shown.reads == 3 and shown.case_number == ""
        assert {"id_number", "residence_address"} <= set(shown.fields)
        application = await submission.submit_application(session, me.principal, application_id)
        case = await session.get(Case, application.case_id)
        assert case is not None
        submitted = (await rows_of(session, me.person.id))[-1]
        assert submitted.case_number == case.number
        assert submitted.id != shown.id and submitted.actor_kind == "system"
        # The person sees both: the platform read for them, it is not "their own view".
        entries, _more = await service.my_access_log(session, me.principal)
        assert {e.case_number for e in entries} == {"", submitted.case_number}
        assert all(e.actor_name == prefill_module.PREFILL_ACTOR_NAME for e in entries)

    async def test_officer_opening_the_application_is_one_row_with_the_case_number(
        self, client, session
    ):
        item = await services_factories.citizen_item(session)
        me = await services_factories.citizen(session)
        assert me.person is not None
        _application, case = await services_factories.submitted(session, me, item)
        officer = await factories.department_account(session, "SCJGJ", display_name="李科员")
        await session.commit()
        client.cookies.set(PRESESSION_COOKIE, "access-log-test")
        for _ in range(2):
            page = await client.get(f"/cases/{case.id}", headers=bearer(officer, "text/html"))
            assert page.status_code == 200
            assert me.person.id_number in page.text  # staff pages keep showing what they did
        [row] = [r for r in await rows_of(session, me.person.id) if r.actor == officer.username]
        assert (row.department_code, row.actor_name, row.case_number, row.reads) == (
            "SCJGJ",
            "李科员",
            case.number,
            2,
        )
        assert row.purpose.endswith(item.name)
        assert {"id_number", "residence_address"} <= set(row.fields)
        items = (await client.get(LOG, headers=bearer(me.account))).json()["items"]
        assert [i["case_number"] for i in items if i["actor_name"] == "李科员"] == [case.number]

    async def test_officer_reading_the_application_through_the_api_is_logged_too(
        self, client, session
    ):
        """GET /api/v1/cases/{id} (and the queue, and a step's answer) carries the case's
        data, prefilled ID number and address included: the same row as the page, via api."""
        item = await services_factories.citizen_item(session)
        me = await services_factories.citizen(session)
        assert me.person is not None
        _application, case = await services_factories.submitted(session, me, item)
        officer = await factories.department_account(session, "SCJGJ", display_name="王科员")
        other = await factories.department_account(session, "GAJ", display_name="赵科员")
        await session.commit()
        one = await client.get(f"/api/v1/cases/{case.id}", headers=bearer(officer))
        assert one.status_code == 200
        assert one.json()["case"]["data"]["prefilled"]["id_number"]["value"] == (
            me.person.id_number
        )
        queue = await client.get("/api/v1/cases/", headers=bearer(officer))
        assert case.number in {c["number"] for c in queue.json()}
        [row] = [r for r in await rows_of(session, me.person.id) if r.actor == officer.username]
        assert (row.actor_name, row.case_number, row.via, row.reads) == (
            "王科员",
            case.number,
            "api",
            2,
        )
        assert {"id_number", "residence_address"} <= set(row.fields)
        # Another department's officer gets a 404 and reads nothing: no row for them.
        assert_problem(
            await client.get(f"/api/v1/cases/{case.id}", headers=bearer(other)), 404, "not-found"
        )
        assert not [r for r in await rows_of(session, me.person.id) if r.actor == other.username]
        # The applicant reading their own application is nobody else's read.
        before = len(await rows_of(session, me.person.id))
        mine = await client.get(f"/api/v1/cases/{case.id}", headers=bearer(me.account))
        assert mine.status_code == 200
        assert len(await rows_of(session, me.person.id)) == before
        items = (await client.get(LOG, headers=bearer(me.account))).json()["items"]
        assert [(i["case_number"], i["via"]) for i in items if i["actor_name"] == "王科员"] == [
            (case.number, "api")
        ]

    async def test_only_registry_data_of_a_person_counts_as_a_read(self) -> None:
        data = {
            "fields": [{"name": "shop", "value": "老街面馆", "source": None}],
            "registry_materials": [],
        }
        assert _registry_person_fields(data) is None
        data["registry_materials"] = [
            {"name": "居民身份证", "value": "x", "registry": "person", "field": "id_number"}
        ]
        assert _registry_person_fields(data) == ["id_number"]


class TestExchange:
    async def test_exchange_read_names_the_system_and_the_grant_once_per_case(
        self, client, session
    ):
        resource = await exchange_factories.create_resource(session)
        await exchange_factories.grant(session, resource, "ZWSJJ", fields=["name", "id_number"])
        account, key = await exchange_factories.system(session, "ZWSJJ")
        person = await exchange_factories.person(session)
        await session.commit()
        body = body_of(filters={"id_number": person.id_number}, purpose="核验身份")
        for issue in ("BJ-1", "BJ-1", "BJ-2"):
            r = await call(client, key, resource.code, body, X_Road_Issue=issue)
            assert r.status_code == 200, r.text
        first, second = await rows_of(session, person.id)
        assert (first.case_number, first.reads, second.case_number, second.reads) == (
            "BJ-1",
            2,
            "BJ-2",
            1,
        )
        assert first.actor_name == account.display_name and first.department_code == "ZWSJJ"
        assert resource.code in first.grant_name and first.purpose == "核验身份"
        assert sorted(first.fields) == ["id_number", "name"]  # the record id is no data field


class TestWhoSees:
    async def test_another_citizen_cannot_see_my_log(self, client, session, deps):
        me, person = await linked_citizen(session)
        other, _their = await linked_citizen(session)
        officer = await factories.department_principal(session, "GAJ")
        await service.get_person(session, officer, person.id, purpose="核查")
        await session.commit()
        assert len((await client.get(LOG, headers=bearer(me))).json()["items"]) == 1
        assert (await client.get(LOG, headers=bearer(other))).json()["items"] == []
        page = await client.get("/my/data", headers=bearer(other, "text/html"))
        assert page.status_code == 200 and "核查" not in page.text

    async def test_staff_may_not_read_the_citizen_log(self, client, session, deps):
        officer = await factories.department_account(session, "GAJ")
        await session.commit()
        assert_problem(await client.get(LOG, headers=bearer(officer)), 403, "forbidden")


class TestPaging:
    async def test_newest_first_and_paged_the_same_in_api_and_page(self, client, session, deps):
        me, person = await linked_citizen(session)
        officer = await factories.department_principal(session, "GAJ")
        with clock.frozen(T0) as move:
            for purpose in ("第一次", "第二次", "第三次"):
                await service.get_person(session, officer, person.id, purpose=purpose)
                move(timedelta(minutes=5))
        await session.commit()
        first = (await client.get(LOG, params={"limit": 2}, headers=bearer(me))).json()
        assert [i["purpose"] for i in first["items"]] == ["第三次", "第二次"]
        assert first["has_more"] is True
        rest = (await client.get(LOG, params={"limit": 2, "offset": 2}, headers=bearer(me))).json()
        assert [i["purpose"] for i in rest["items"]] == ["第一次"] and rest["has_more"] is False
        page = await client.get("/my/data", headers=bearer(me, "text/html"))
        assert page.text.index("第三次") < page.text.index("第二次") < page.text.index("第一次")

    @pytest.mark.parametrize(
        "params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"offset": 100_001}]
    )
    async def test_paging_out_of_bounds_is_422(self, client, session, deps, params):
        me, _person = await linked_citizen(session)
        await session.commit()
        answer = await client.get(LOG, params=params, headers=bearer(me))
        assert_problem(answer, 422, "invalid-input")

    async def test_service_refuses_an_offset_past_the_bound(self, session, deps):
        me, _person = await linked_citizen(session)
        with pytest.raises(InvalidInput):
            await service.my_access_log(
                session,
                core_factories.principal(me),
                offset=service.MAX_ACCESS_LOG_OFFSET + 1,
            )

    @pytest.mark.parametrize("offset", ["999999999999999999999999", "abc", "-5", "50"])
    async def test_page_with_a_bad_or_past_the_end_offset_still_answers(
        self, client, session, deps, offset
    ):
        me, person = await linked_citizen(session)
        officer = await factories.department_principal(session, "GAJ")
        await service.get_person(session, officer, person.id, purpose="核查")
        await session.commit()
        page = await client.get(
            "/my/data", params={"offset": offset}, headers=bearer(me, "text/html")
        )
        assert page.status_code == 200
        if offset.isdigit():
            assert "没有更多记录了" in page.text and "No department has read" not in page.text
        else:
            assert "核查" in page.text


class TestPageLanguages:
    async def test_my_data_names_who_read_in_chinese_and_english(self, client, session, deps):
        me, person = await linked_citizen(session)
        officer = await factories.department_principal(session, "RSJ")
        await service.get_person(session, officer, person.id, purpose="社保待遇核查")
        await session.commit()
        zh = await client.get("/my/data", headers=bearer(me, "text/html"))
        assert "读取者" in zh.text and "办件号或共享授权" in zh.text and officer.name not in zh.text
        account_name = (await rows_of(session, person.id))[0].actor_name
        assert account_name and account_name in zh.text
        en = await client.get(
            "/my/data", headers={**bearer(me, "text/html"), "Accept-Language": "en"}
        )
        assert "Who read it" in en.text and "Case number or grant" in en.text
        assert "读取者" not in en.text
