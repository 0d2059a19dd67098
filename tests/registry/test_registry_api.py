"""The registry REST API over HTTP: persons and organizations, 一数一源 403s that name the
source, masking, as-of reads, history, 我的数据, problem+json for every error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from smartcity.core import accounts, clock
from smartcity.core.security import issue_access_token
from smartcity.registry.models import AccessLog
from smartcity.settings import get_settings
from tests.core import factories as core_factories
from tests.registry import factories

PREFIX = "/api/v1/registry"
T0 = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def bearer(account) -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


@pytest.fixture
async def gaj(session, deps):
    return bearer(await factories.department_account(session, "GAJ"))


@pytest.fixture
async def scjgj(session, deps):
    return bearer(await factories.department_account(session, "SCJGJ"))


def assert_problem(response, status: int, type_suffix: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{type_suffix}", response.text
    return response.json()


class TestPersonsApi:
    async def test_police_register_and_read_back_unmasked_identity(self, client, gaj):
        number = factories.resident_id(sex="female")
        r = await client.post(
            f"{PREFIX}/persons",
            headers=gaj,
            json={"id_number": number, "name": "林小红", "hukou_division_code": "440304"},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["id_number"], body["sex"], body["version"]) == (number, "female", 1)
        r = await client.get(f"{PREFIX}/persons/{body['id']}", headers=gaj)
        assert r.status_code == 200 and r.json()["id_number"] == number

    async def test_invalid_check_digit_is_problem_json_naming_the_field(self, client, gaj):
        number = factories.resident_id()
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        r = await client.post(
            f"{PREFIX}/persons", headers=gaj, json={"id_number": wrong, "name": "甲"}
        )
        body = assert_problem(r, 422, "invalid-input")
        assert body["field"] == "id_number" and body["rule"] == "checksum"

    async def test_sex_mismatch_and_bad_enum_are_422(self, client, gaj):
        number = factories.resident_id(sex="male")
        r = await client.post(
            f"{PREFIX}/persons",
            headers=gaj,
            json={"id_number": number, "name": "甲", "sex": "female"},
        )
        assert assert_problem(r, 422, "invalid-input")["field"] == "sex"
        r = await client.post(
            f"{PREFIX}/persons",
            headers=gaj,
            json={"id_number": number, "name": "甲", "status": "asleep"},
        )
        assert_problem(r, 422, "invalid-input")

    async def test_duplicate_is_409(self, client, gaj, session):
        person = await factories.create_person(session)
        await session.commit()
        r = await client.post(
            f"{PREFIX}/persons", headers=gaj, json={"id_number": person.id_number, "name": "乙"}
        )
        assert_problem(r, 409, "conflict")

    async def test_wrong_department_gets_403_naming_the_source(self, client, scjgj, session):
        person = await factories.create_person(session)
        await session.commit()
        r = await client.patch(
            f"{PREFIX}/persons/{person.id}",
            headers=scjgj,
            json={"fields": {"name": "新名字"}, "reason": "x"},
        )
        body = assert_problem(r, 403, "forbidden")
        assert "公安局" in body["detail"] and "身份信息" in body["detail"]
        assert body["source_department"] == "GAJ" and body["attribute_group"] == "identity"

    async def test_patch_by_source_masks_what_is_not_theirs_and_keeps_history(
        self, client, session, deps
    ):
        zwsjj = bearer(await factories.department_account(session, "ZWSJJ"))
        with clock.frozen(T0):
            person = await factories.create_person(session)
        await session.commit()
        with clock.frozen(T0 + timedelta(days=1)):
            r = await client.patch(
                f"{PREFIX}/persons/{person.id}",
                headers=zwsjj,
                json={"fields": {"phone": "13688889999"}, "reason": "本人申报"},
            )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["phone"] == "13688889999" and body["version"] == 2
        assert "*" in body["id_number"] and "id_number" in body["masked_fields"]
        history = (await client.get(f"{PREFIX}/persons/{person.id}/history", headers=zwsjj)).json()
        assert [v["version"] for v in history] == [2, 1]
        assert history[0]["changes"] == {"phone": ["", "13688889999"]}
        assert history[0]["source_department_name"] == "政务服务数据管理局"
        old = await client.get(
            f"{PREFIX}/persons/{person.id}",
            headers=zwsjj,
            params={"as_of": (T0 + timedelta(hours=1)).isoformat()},
        )
        assert old.json()["phone"] == "" and old.json()["version"] == 1
        before = await client.get(
            f"{PREFIX}/persons/{person.id}",
            headers=zwsjj,
            params={"as_of": (T0 - timedelta(hours=1)).isoformat()},
        )
        assert_problem(before, 404, "not-found")

    async def test_naive_as_of_is_422(self, client, gaj, session):
        person = await factories.create_person(session)
        await session.commit()
        r = await client.get(
            f"{PREFIX}/persons/{person.id}", headers=gaj, params={"as_of": "2026-01-01T00:00:00"}
        )
        assert_problem(r, 422, "invalid-input")

    async def test_search_logs_every_row_with_the_purpose(self, client, scjgj, session):
        for n in range(2):
            await factories.create_person(session, name=f"令狐{n}")
        await session.commit()
        r = await client.get(
            f"{PREFIX}/persons",
            headers=scjgj,
            params={"name_prefix": "令狐", "purpose": "企业登记核验"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert [p["name"] for p in body["items"]] == ["令狐0", "令狐1"]
        assert all("*" in p["id_number"] for p in body["items"]) and not body["has_more"]
        rows = (
            await session.execute(
                select(AccessLog.purpose, AccessLog.via, AccessLog.department_code)
            )
        ).all()
        assert sorted(rows) == [("企业登记核验", "api", "SCJGJ")] * 2

    async def test_search_limits(self, client, gaj):
        r = await client.get(
            f"{PREFIX}/persons", headers=gaj, params={"name_prefix": "王", "limit": 201}
        )
        assert_problem(r, 422, "invalid-input")
        r = await client.get(f"{PREFIX}/persons", headers=gaj)
        assert assert_problem(r, 422, "invalid-input")["field"] == "id_number"
        r = await client.get(f"{PREFIX}/persons", headers=gaj, params={"id_number": "12345"})
        assert_problem(r, 422, "invalid-input")

    async def test_citizen_gets_404_for_another_person(self, client, session, deps):
        citizen = await core_factories.create_account(session)
        other = await factories.create_person(session)
        await session.commit()
        r = await client.get(f"{PREFIX}/persons/{other.id}", headers=bearer(citizen))
        assert_problem(r, 404, "not-found")

    async def test_unknown_person_is_404(self, client, gaj):
        assert_problem(
            await client.get(f"{PREFIX}/persons/{uuid.uuid4()}", headers=gaj), 404, "not-found"
        )

    async def test_anonymous_is_401(self, client):
        assert_problem(await client.get(f"{PREFIX}/persons"), 401, "unauthenticated")

    async def test_citizen_may_not_create(self, client, session):
        citizen = await core_factories.create_account(session)
        await session.commit()
        r = await client.post(
            f"{PREFIX}/persons",
            headers=bearer(citizen),
            json={"id_number": factories.resident_id(), "name": "丙"},
        )
        assert_problem(r, 403, "forbidden")

    async def test_api_key_of_a_system_account_may_write_its_source(self, client, session, deps):
        from tests.core.factories import ROOT

        system = await factories.department_account(session, "RSJ", kind="system")
        _, key = await accounts.issue_api_key(session, ROOT, username=system.username, name="k")
        person = await factories.create_person(session)
        await session.commit()
        r = await client.patch(
            f"{PREFIX}/persons/{person.id}",
            headers={"X-API-Key": key},
            json={"fields": {"social_insurance_status": "insured"}},
        )
        assert r.status_code == 200, r.text
        assert r.json()["social_insurance_status"] == "insured"


class TestMyDataApi:
    async def test_citizen_sees_own_record_and_who_read_it(self, client, session, gaj):
        citizen = await core_factories.create_account(session)
        person = await factories.create_person(session)
        await session.commit()
        r = await client.put(
            f"{PREFIX}/persons/{person.id}/account",
            headers=gaj,
            json={"username": citizen.username},
        )
        assert r.status_code == 200, r.text
        me = bearer(citizen)
        r = await client.get(f"{PREFIX}/me", headers=me)
        assert r.status_code == 200 and r.json()["id_number"] == person.id_number
        assert r.json()["masked_fields"] == []
        log = (await client.get(f"{PREFIX}/me/access-log", headers=me)).json()
        assert [(e["department_name"], e["purpose"], e["via"]) for e in log["items"]] == [
            ("公安局", "账号关联", "api")
        ]
        assert await session.scalar(select(func.count()).select_from(AccessLog)) == 2

    async def test_unlinked_citizen_gets_404(self, client, session):
        citizen = await core_factories.create_account(session)
        await session.commit()
        assert_problem(await client.get(f"{PREFIX}/me", headers=bearer(citizen)), 404, "not-found")
        assert_problem(
            await client.get(f"{PREFIX}/me/access-log", headers=bearer(citizen)), 404, "not-found"
        )

    async def test_staff_may_not_use_me(self, client, gaj):
        assert_problem(await client.get(f"{PREFIX}/me", headers=gaj), 403, "forbidden")

    async def test_linking_a_staff_account_is_422(self, client, session, gaj):
        staff = await core_factories.create_account(session, kind="staff")
        person = await factories.create_person(session)
        await session.commit()
        r = await client.put(
            f"{PREFIX}/persons/{person.id}/account", headers=gaj, json={"username": staff.username}
        )
        assert assert_problem(r, 422, "invalid-input")["field"] == "username"


class TestOrganizationsApi:
    async def test_register_search_update_and_history(self, client, session, scjgj):
        rep = await factories.create_person(session, name="郑董事")
        new_rep = await factories.create_person(session, name="吴经理")
        await session.commit()
        code = factories.uscc()
        r = await client.post(
            f"{PREFIX}/organizations",
            headers=scjgj,
            json={
                "uscc": code,
                "name": "深圳市龙华示例有限公司",
                "org_type": "enterprise",
                "legal_representative_id_number": rep.id_number,
                "industry": "C",
            },
        )
        assert r.status_code == 201, r.text
        org = r.json()
        assert org["legal_representative_name"] == "郑董事"
        found = (
            await client.get(f"{PREFIX}/organizations", headers=scjgj, params={"uscc": code})
        ).json()
        assert [o["id"] for o in found["items"]] == [org["id"]]
        r = await client.patch(
            f"{PREFIX}/organizations/{org['id']}",
            headers=scjgj,
            json={"fields": {"legal_representative_id_number": new_rep.id_number}},
        )
        assert r.status_code == 200 and r.json()["legal_representative_name"] == "吴经理"
        history = (
            await client.get(f"{PREFIX}/organizations/{org['id']}/history", headers=scjgj)
        ).json()
        assert [v["version"] for v in history] == [2, 1]

    async def test_bad_uscc_and_unknown_representative(self, client, scjgj):
        r = await client.post(
            f"{PREFIX}/organizations",
            headers=scjgj,
            json={"uscc": "91440300MA5T0001XX", "name": "x", "org_type": "enterprise"},
        )
        assert assert_problem(r, 422, "invalid-input")["field"] == "uscc"
        r = await client.post(
            f"{PREFIX}/organizations",
            headers=scjgj,
            json={
                "uscc": factories.uscc(),
                "name": "x",
                "org_type": "enterprise",
                "legal_representative_id_number": factories.resident_id(),
            },
        )
        assert assert_problem(r, 422, "invalid-input")["field"] == "legal_representative_id_number"

    async def test_police_may_not_register_organizations(self, client, gaj):
        r = await client.post(
            f"{PREFIX}/organizations",
            headers=gaj,
            json={"uscc": factories.uscc(), "name": "x", "org_type": "enterprise"},
        )
        body = assert_problem(r, 403, "forbidden")
        assert "市场监督管理局" in body["detail"]

    async def test_citizen_may_not_search_organizations(self, client, session):
        citizen = await core_factories.create_account(session)
        await session.commit()
        assert_problem(
            await client.get(f"{PREFIX}/organizations", headers=bearer(citizen)), 403, "forbidden"
        )


async def test_openapi_documents_the_registry(client):
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/api/v1/registry/persons",
        "/api/v1/registry/persons/{person_id}",
        "/api/v1/registry/persons/{person_id}/history",
        "/api/v1/registry/me/access-log",
        "/api/v1/registry/organizations/{organization_id}",
    ):
        assert path in paths, path
    assert "403" in paths["/api/v1/registry/persons/{person_id}"]["patch"]["responses"]
