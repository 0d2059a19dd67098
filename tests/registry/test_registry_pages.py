"""Registry pages over HTTP with a signed-in staff member or citizen: search with masked
results, the record view with sources, history and as-of, the per-source edit forms, 我的数据."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from smartcity.core import clock
from smartcity.core.security import seal_totp_secret
from smartcity.registry import service
from smartcity.registry.models import AccessLog
from smartcity.settings import get_settings
from tests.core import factories as core_factories
from tests.core.test_pages import HTML, csrf_of, get_form, sign_in
from tests.registry import factories

T0 = datetime(2026, 2, 2, 2, 0, tzinfo=UTC)


async def sign_in_staff(client, session, code: str, kind: str = "staff"):
    secret = pyotp.random_base32()
    account = await factories.department_account(session, code, kind=kind)
    account.totp_secret_enc = seal_totp_secret(get_settings(), secret)
    account.totp_enabled = True
    await session.commit()
    await sign_in(client, account.username)
    token = await get_form(client, "/login/totp")
    r = await client.post(
        "/login/totp",
        headers=HTML,
        data={"csrf_token": token, "code": pyotp.TOTP(secret).now(), "next": "/"},
    )
    assert r.status_code == 303, r.text
    return account


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


class TestPersonSearchPage:
    async def test_finds_by_name_with_masked_rows_and_logs_them(self, client, session, deps):
        person = await factories.create_person(session, name="慕容复")
        await sign_in_staff(client, session, "SCJGJ")
        r = await client.get(
            "/registry/persons", params={"q": "慕容", "purpose": "企业登记核验"}, headers=HTML
        )
        assert r.status_code == 200
        assert "慕容复" in r.text
        assert person.id_number not in r.text
        assert person.id_number[:4] + "**********" + person.id_number[-4:] in r.text
        [row] = (await session.execute(select(AccessLog))).scalars().all()
        assert (row.purpose, row.via, row.department_code) == ("企业登记核验", "page", "SCJGJ")

    async def test_finds_by_id_number(self, client, session, deps):
        person = await factories.create_person(session, name="段誉")
        await sign_in_staff(client, session, "GAJ")
        r = await client.get("/registry/persons", params={"q": person.id_number}, headers=HTML)
        assert "段誉" in r.text and person.id_number in r.text

    async def test_invalid_id_number_is_marked_next_to_the_field(self, client, session, deps):
        await sign_in_staff(client, session, "GAJ")
        r = await client.get("/registry/persons", params={"q": "440303199001011234"}, headers=HTML)
        assert r.status_code == 422
        assert 'id="q-error"' in r.text and 'value="440303199001011234"' in r.text

    async def test_empty_search_explains_and_logs_nothing(self, client, session, deps):
        await factories.create_person(session)
        await sign_in_staff(client, session, "GAJ")
        r = await client.get("/registry/persons", headers=HTML)
        assert r.status_code == 200 and 'name="q"' in r.text
        assert (await session.execute(select(AccessLog))).first() is None

    async def test_citizen_is_refused(self, client, session):
        account = await core_factories.create_account(session)
        await session.commit()
        await sign_in(client, account.username)
        r = await client.get("/registry/persons", headers=HTML)
        assert r.status_code == 403

    async def test_anonymous_is_sent_to_sign_in(self, client):
        r = await client.get("/registry/persons", headers=HTML)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


class TestPersonPage:
    async def test_non_source_sees_masked_fields_marked_and_the_sources(
        self, client, session, deps
    ):
        person = await factories.create_person(session, phone="13812341234")
        await sign_in_staff(client, session, "SCJGJ")
        r = await client.get(f"/registry/persons/{person.id}", headers=HTML)
        assert r.status_code == 200
        assert "138****1234" in r.text and "13812341234" not in r.text
        assert 'class="tag masked"' in r.text
        for name in ("公安局", "政务服务数据管理局", "人力资源和社会保障局"):
            assert name in r.text
        # No edit forms for a department that is the source of nothing here.
        assert 'name="group"' not in r.text
        [row] = (await session.execute(select(AccessLog))).scalars().all()
        assert (row.via, row.purpose) == ("page", "查看")

    async def test_source_edits_its_group_and_the_history_shows_it(self, client, session, deps):
        person = await factories.create_person(session, name="乔峰")
        await sign_in_staff(client, session, "GAJ")
        page = await client.get(f"/registry/persons/{person.id}", headers=HTML)
        assert 'value="identity"' in page.text and 'value="contact"' not in page.text
        r = await client.post(
            f"/registry/persons/{person.id}",
            headers=HTML,
            data={
                "csrf_token": csrf_of(page.text),
                "group": "identity",
                "id_number": person.id_number,
                "name": "萧峰",
                "ethnicity": "契丹族",
                "reason": "更正姓名",
            },
        )
        assert r.status_code == 303, r.text
        page = await client.get(r.headers["location"], headers=HTML)
        assert "萧峰" in page.text and "更正姓名" in page.text and "乔峰" in page.text

    async def test_bad_value_is_shown_next_to_the_field_and_kept(self, client, session, deps):
        person = await factories.create_person(session)
        await sign_in_staff(client, session, "GAJ")
        page = await client.get(f"/registry/persons/{person.id}", headers=HTML)
        r = await client.post(
            f"/registry/persons/{person.id}",
            headers=HTML,
            data={
                "csrf_token": csrf_of(page.text),
                "group": "household",
                "hukou_division_code": "449999",
                "status": "living",
            },
        )
        assert r.status_code == 422
        assert 'id="hukou_division_code-error"' in r.text and 'value="449999"' in r.text
        await session.refresh(person)
        assert person.version == 1

    async def test_non_source_post_is_403_naming_the_source(self, client, session, deps):
        person = await factories.create_person(session)
        await sign_in_staff(client, session, "SCJGJ")
        page = await client.get(f"/registry/persons/{person.id}", headers=HTML)
        r = await client.post(
            f"/registry/persons/{person.id}",
            headers=HTML,
            data={"csrf_token": csrf_of(page.text), "group": "contact", "phone": "13800138000"},
        )
        assert r.status_code == 403
        assert "政务服务数据管理局" in r.text and 'id="change-error"' in r.text

    async def test_missing_csrf_is_refused(self, client, session, deps):
        person = await factories.create_person(session)
        await sign_in_staff(client, session, "GAJ")
        r = await client.post(
            f"/registry/persons/{person.id}", headers=HTML, data={"group": "identity", "name": "x"}
        )
        assert r.status_code == 400

    async def test_as_of_shows_the_old_version(self, client, session, deps):
        gaj = await sign_in_staff(client, session, "GAJ")
        with clock.frozen(T0) as advance:
            person = await factories.create_person(session, name="旧名字")
            advance(timedelta(days=30))
            await service.update_person(
                session, core_factories.principal(gaj), person.id, fields={"name": "新名字"}
            )
        await session.commit()
        day = clock.to_city(T0 + timedelta(days=1)).date().isoformat()
        r = await client.get(f"/registry/persons/{person.id}", params={"as_of": day}, headers=HTML)
        assert r.status_code == 200
        h1 = re.search(r"<h1>(.*?)</h1>", r.text).group(1)
        assert h1 == "旧名字" and 'class="notice asof-on"' in r.text

    async def test_as_of_before_registration_and_bad_dates(self, client, session, deps):
        with clock.frozen(T0):
            person = await factories.create_person(session)
        await sign_in_staff(client, session, "GAJ")
        r = await client.get(
            f"/registry/persons/{person.id}", params={"as_of": "2020-01-01"}, headers=HTML
        )
        assert r.status_code == 404 and 'id="as_of-error"' in r.text
        r = await client.get(
            f"/registry/persons/{person.id}", params={"as_of": "yesterday"}, headers=HTML
        )
        assert r.status_code == 422 and 'id="as_of-error"' in r.text

    async def test_register_form(self, client, session, deps):
        await sign_in_staff(client, session, "GAJ")
        token = await get_form(client, "/registry/persons/new")
        number = factories.resident_id()
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        r = await client.post(
            "/registry/persons/new",
            headers=HTML,
            data={"csrf_token": token, "id_number": wrong, "name": "新人", "status": "living"},
        )
        assert r.status_code == 422 and 'id="id_number-error"' in r.text
        r = await client.post(
            "/registry/persons/new",
            headers=HTML,
            data={"csrf_token": token, "id_number": number, "name": "新人", "status": "living"},
        )
        assert r.status_code == 303 and "created=1" in r.headers["location"]

    async def test_register_form_for_a_non_source_is_403(self, client, session, deps):
        await sign_in_staff(client, session, "RSJ")
        token = await get_form(client, "/registry/persons/new")
        r = await client.post(
            "/registry/persons/new",
            headers=HTML,
            data={
                "csrf_token": token,
                "id_number": factories.resident_id(),
                "name": "新人",
                "status": "living",
            },
        )
        assert r.status_code == 403 and "公安局" in r.text


class TestOrganizationPages:
    async def test_search_view_and_edit(self, client, session, deps):
        org = await factories.create_organization(session, name="南山示例科技有限公司")
        new_rep = await factories.create_person(session, name="新代表")
        await sign_in_staff(client, session, "SCJGJ")
        r = await client.get("/registry/organizations", params={"q": "南山示例"}, headers=HTML)
        assert r.status_code == 200 and "南山示例科技有限公司" in r.text
        page = await client.get(f"/registry/organizations/{org.id}", headers=HTML)
        assert page.status_code == 200 and org.uscc in page.text
        r = await client.post(
            f"/registry/organizations/{org.id}",
            headers=HTML,
            data={
                "csrf_token": csrf_of(page.text),
                "uscc": org.uscc,
                "name": org.name,
                "org_type": "enterprise",
                "legal_representative_id_number": new_rep.id_number,
                "status": "active",
                "reason": "变更法定代表人",
            },
        )
        assert r.status_code == 303, r.text
        page = await client.get(r.headers["location"], headers=HTML)
        assert "新代表" in page.text and "变更法定代表人" in page.text

    async def test_bad_code_in_search_and_register(self, client, session, deps):
        await sign_in_staff(client, session, "SCJGJ")
        r = await client.get(
            "/registry/organizations", params={"q": "91440300MA5T0001XX"}, headers=HTML
        )
        assert r.status_code == 422 and 'id="q-error"' in r.text
        token = await get_form(client, "/registry/organizations/new")
        r = await client.post(
            "/registry/organizations/new",
            headers=HTML,
            data={
                "csrf_token": token,
                "uscc": "91440300MA5T0001XX",
                "name": "某公司",
                "org_type": "enterprise",
                "status": "active",
            },
        )
        assert r.status_code == 422 and 'id="uscc-error"' in r.text
        r = await client.post(
            "/registry/organizations/new",
            headers=HTML,
            data={
                "csrf_token": token,
                "uscc": factories.uscc(),
                "name": "某公司",
                "org_type": "enterprise",
                "status": "active",
            },
        )
        assert r.status_code == 303


class TestMyDataPage:
    async def test_linked_citizen_sees_record_and_who_read_it(self, client, session, deps):
        account = await core_factories.create_account(session)
        person = await factories.create_person(session, phone="13800001111")
        person.account_id = account.id
        reader = await factories.department_principal(session, "RSJ")
        await service.get_person(session, reader, person.id, purpose="社保待遇核查")
        await session.commit()
        await sign_in(client, account.username)
        r = await client.get("/my/data", headers=HTML)
        assert r.status_code == 200
        assert person.id_number in r.text and "13800001111" in r.text
        assert "人力资源和社会保障局" in r.text and "社保待遇核查" in r.text

    async def test_unlinked_citizen_gets_an_explanation(self, client, session):
        account = await core_factories.create_account(session)
        await session.commit()
        await sign_in(client, account.username)
        r = await client.get("/my/data", headers=HTML)
        assert r.status_code == 200 and account.username in r.text
        assert "<table" not in r.text

    async def test_staff_may_not_open_it(self, client, session, deps):
        await sign_in_staff(client, session, "GAJ")
        assert (await client.get("/my/data", headers=HTML)).status_code == 403


async def test_the_register_form_speaks_english(client, session, deps):
    """The hints give English words, the example value to type marked as Chinese data."""
    await sign_in_staff(client, session, "GAJ")
    # Chinese, then English, as the page crawl reads it: each in its own words.
    zh = await client.get("/registry/persons/new", headers={**HTML, "Accept-Language": "zh-CN"})
    assert "例如：汉族" in zh.text and "Han" not in zh.text
    r = await client.get("/registry/persons/new", headers={**HTML, "Accept-Language": "en"})
    assert r.status_code == 200
    assert '<span lang="zh-CN" class="zh-name"' in r.text and "(Han)" in r.text
    assert "Futian District" in r.text and "福田区" not in r.text
