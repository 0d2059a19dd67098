"""The exchange's pages over HTTP: open data for everyone, and the staff pages where one
department requests a resource and the publisher decides, with form errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest
from sqlalchemy import select

from smartcity.core import clock
from smartcity.exchange.models import Grant
from smartcity.exchange.schemas import FieldSpec
from tests.core import factories as core_factories
from tests.core.factories import PASSWORD
from tests.exchange import factories

HTML = {"accept": "text/html"}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def sign_in(client, account, secret: str) -> None:
    page = await client.get("/login", headers=HTML)
    r = await client.post(
        "/login",
        headers=HTML,
        data={"csrf_token": csrf_of(page.text), "username": account.username, "password": PASSWORD},
    )
    assert r.headers["location"].startswith("/login/totp"), r.text
    page = await client.get("/login/totp", headers=HTML)
    r = await client.post(
        "/login/totp",
        headers=HTML,
        data={"csrf_token": csrf_of(page.text), "code": pyotp.TOTP(secret).at(clock.now())},
    )
    assert r.status_code == 303, r.text


@pytest.fixture
async def second_client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def staff_client(client, session, code: str):
    secret = pyotp.random_base32()
    account = await core_factories.create_account(
        session,
        kind="staff",
        department=await factories.department(session, code),
        totp_secret=secret,
    )
    await session.commit()
    await sign_in(client, account, secret)
    return account


class TestOpenDataPages:
    async def test_anonymous_visitor_sees_open_datasets_only(self, client, session):
        await factories.create_resource(session, title="人口基础信息")
        await factories.create_resource(
            session,
            code="grids",
            title="城市管理网格",
            publisher="GHZRJ",
            source_registry="place",
            fields=[FieldSpec(name="code", title="编码"), FieldSpec(name="name", title="名称")],
            sharing_class="unconditional",
            open_data=True,
            keywords=["网格"],
        )
        place = await factories.place(session, name="东门网格一")
        await session.commit()
        page = await client.get("/data", headers=HTML)
        assert page.status_code == 200
        assert "城市管理网格" in page.text and "人口基础信息" not in page.text
        dataset = await client.get("/data/grids", headers=HTML)
        assert dataset.status_code == 200
        assert place.name in dataset.text  # the preview
        assert "/api/v1/exchange/open/grids/download?format=csv" in dataset.text
        searched = await client.get("/data?q=不存在的词", headers=HTML)
        assert "城市管理网格" not in searched.text
        tagged = await client.get("/data?tag=网格", headers=HTML)
        assert "城市管理网格" in tagged.text

    async def test_the_dataset_page_speaks_each_language(self, client, session):
        """Codes of a fixed vocabulary in words, column titles from the registry's words,
        Chinese values marked on the English page, the licence named in Chinese."""
        await factories.create_resource(
            session,
            code="grids",
            title="城市管理网格",
            publisher="GHZRJ",
            source_registry="place",
            fields=[
                FieldSpec(name="name", title="名称"),
                FieldSpec(name="kind", title="类型"),
            ],
            sharing_class="unconditional",
            open_data=True,
            license_id="cc-by-4.0",
        )
        place = await factories.place(session, name="东门网格一")
        await session.commit()
        zh = await client.get("/data/grids", headers={**HTML, "Accept-Language": "zh-CN"})
        assert "<td>网格</td>" in zh.text and ">grid<" not in zh.text
        assert "知识共享署名 4.0 国际许可协议" in zh.text and "Creative Commons" not in zh.text
        assert "<code>CKAN Action API</code>" in zh.text
        en = await client.get("/data/grids", headers={**HTML, "Accept-Language": "en"})
        assert "<th>Name</th>" in en.text and "<td>grid</td>" in en.text
        assert f'class="zh-name" title="No English name yet">{place.name}</span>' in en.text
        assert "Creative Commons Attribution 4.0" in en.text

    async def test_a_closed_dataset_is_not_there(self, client, session):
        resource = await factories.create_resource(session)
        await session.commit()
        r = await client.get(f"/data/{resource.code}", headers=HTML)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")

    async def test_staff_pages_need_sign_in(self, client):
        r = await client.get("/exchange/catalog", headers=HTML)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


class TestGrantPages:
    async def test_request_then_approve(self, client, second_client, session):
        resource = await factories.create_resource(session, title="人口基础信息")
        await staff_client(client, session, "ZWSJJ")
        catalog = await client.get("/exchange/catalog", headers=HTML)
        assert catalog.status_code == 200 and "人口基础信息" in catalog.text
        page = await client.get(f"/exchange/catalog/{resource.code}", headers=HTML)
        assert 'name="fields"' in page.text
        r = await client.post(
            f"/exchange/catalog/{resource.code}/request",
            headers=HTML,
            data={
                "csrf_token": csrf_of(page.text),
                "purpose": "一网通办身份核验",
                "legal_basis": "",
                "fields": ["name", "id_number"],
                "expires_on": "",
            },
        )
        assert r.status_code == 303, r.text
        grant = (await session.execute(select(Grant))).scalar_one()
        assert (grant.status, grant.requested_fields) == ("requested", ["name", "id_number"])

        await staff_client(second_client, session, "GAJ")
        grants = await second_client.get("/exchange/grants", headers=HTML)
        assert "一网通办身份核验" in grants.text
        r = await second_client.post(
            f"/exchange/grants/{grant.id}",
            headers=HTML,
            data={
                "csrf_token": csrf_of(grants.text),
                "action": "approve",
                "fields": ["name"],
                "expires_on": "2099-12-31",
            },
        )
        assert r.status_code == 303, r.text
        await session.refresh(grant)
        assert (grant.status, grant.granted_fields) == ("approved", ["name"])
        assert clock.to_city(grant.expires_at).date().isoformat() == "2099-12-31"
        mine = await client.get(f"/exchange/catalog/{resource.code}", headers=HTML)
        assert "subscribe" in mine.text  # a grant in force offers a subscription

    async def test_request_without_purpose_or_fields_keeps_the_input(self, client, session):
        resource = await factories.create_resource(session)
        await staff_client(client, session, "ZWSJJ")
        page = await client.get(f"/exchange/catalog/{resource.code}", headers=HTML)
        r = await client.post(
            f"/exchange/catalog/{resource.code}/request",
            headers=HTML,
            data={"csrf_token": csrf_of(page.text), "purpose": "", "legal_basis": "某办法"},
        )
        assert r.status_code == 422
        assert 'id="purpose-error"' in r.text and 'id="fields-error"' in r.text
        assert 'value="某办法"' in r.text
        assert (await session.execute(select(Grant))).first() is None

    async def test_bad_expiry_date(self, client, session):
        resource = await factories.create_resource(session)
        await staff_client(client, session, "ZWSJJ")
        page = await client.get(f"/exchange/catalog/{resource.code}", headers=HTML)
        r = await client.post(
            f"/exchange/catalog/{resource.code}/request",
            headers=HTML,
            data={
                "csrf_token": csrf_of(page.text),
                "purpose": "p",
                "fields": ["name"],
                "expires_on": "2020-01-01",
            },
        )
        assert r.status_code == 422 and 'id="expires_on-error"' in r.text

    async def test_refusing_without_a_reason_is_an_error_next_to_the_field(self, client, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        await staff_client(client, session, "GAJ")
        page = await client.get("/exchange/grants", headers=HTML)
        r = await client.post(
            f"/exchange/grants/{grant.id}",
            headers=HTML,
            data={"csrf_token": csrf_of(page.text), "action": "refuse", "reason": ""},
        )
        assert r.status_code == 422 and 'id="reason-error"' in r.text
        await session.refresh(grant)
        assert grant.status == "requested"
        r = await client.post(
            f"/exchange/grants/{grant.id}",
            headers=HTML,
            data={"csrf_token": csrf_of(page.text), "action": "refuse", "reason": "用途不明"},
        )
        assert r.status_code == 303
        await session.refresh(grant)
        assert (grant.status, grant.decision_reason) == ("refused", "用途不明")

    async def test_publisher_revokes_from_the_page(self, client, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ")
        await staff_client(client, session, "GAJ")
        page = await client.get("/exchange/grants", headers=HTML)
        r = await client.post(
            f"/exchange/grants/{grant.id}",
            headers=HTML,
            data={"csrf_token": csrf_of(page.text), "action": "revoke"},
        )
        assert r.status_code == 303
        await session.refresh(grant)
        assert grant.status == "revoked"

    async def test_another_department_cannot_decide(self, client, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        await staff_client(client, session, "RSJ")
        page = await client.get("/exchange/grants", headers=HTML)
        r = await client.post(
            f"/exchange/grants/{grant.id}",
            headers=HTML,
            data={"csrf_token": csrf_of(page.text), "action": "approve", "fields": ["name"]},
        )
        assert r.status_code == 404  # for this department there is no such request
        await session.refresh(grant)
        assert grant.status == "requested"

    async def test_missing_csrf_is_refused(self, client, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        await staff_client(client, session, "GAJ")
        r = await client.post(
            f"/exchange/grants/{grant.id}", headers=HTML, data={"action": "refuse", "reason": "x"}
        )
        assert r.status_code == 400


class TestLogAndStatsPages:
    async def test_log_and_stats_render(self, client, session):
        await staff_client(client, session, "GAJ")
        log = await client.get("/exchange/log", headers=HTML)
        assert log.status_code == 200
        stats = await client.get("/exchange/stats?days=7", headers=HTML)
        assert stats.status_code == 200

    async def test_admin_verifies_the_whole_log(self, client, session):
        secret = pyotp.random_base32()
        admin = await core_factories.create_account(
            session, kind="admin", roles=["auditor"], totp_secret=secret
        )
        await session.commit()
        await sign_in(client, admin, secret)
        r = await client.get("/exchange/log?verify=1", headers=HTML)
        assert r.status_code == 200 and 'id="verdict"' in r.text
