"""The exchange's REST API for the catalog, grants and subscriptions (the read path is in
test_evidence.py): thin over the service, problems for bad input."""

from __future__ import annotations

from sqlalchemy import select

from smartcity.core.security import issue_access_token
from smartcity.exchange.models import Grant
from smartcity.settings import get_settings
from tests.core import factories as core_factories
from tests.exchange import factories
from tests.problems import assert_problem

PERSONS = {
    "code": "persons-api",
    "title": "人口基础信息",
    "source_registry": "person",
    "fields": [{"name": "name", "title": "姓名"}, {"name": "id_number", "title": "身份号码"}],
    "sharing_class": "conditional",
    "keywords": ["人口"],
}


async def bearer(session, account) -> dict[str, str]:
    await session.commit()
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


class TestResourcesApi:
    async def test_publish_read_update(self, client, session):
        account, _p = await factories.staff(session, "GAJ")
        auth = await bearer(session, account)
        r = await client.post("/api/v1/exchange/resources", json=PERSONS, headers=auth)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["publisher"] == "GAJ" and body["publisher_name"] == "公安局"
        assert body["fields"][1] == {
            "name": "id_number",
            "title": "身份号码",
            "type": "string",
            "personal": True,
        }
        r = await client.patch(
            "/api/v1/exchange/resources/persons-api", json={"title": "人口信息"}, headers=auth
        )
        assert r.status_code == 200 and r.json()["title"] == "人口信息"
        listed = await client.get("/api/v1/exchange/resources?q=人口", headers=auth)
        assert [i["code"] for i in listed.json()["items"]] == ["persons-api"]

    async def test_open_data_with_personal_fields_is_a_422(self, client, session):
        account, _p = await factories.staff(session, "GAJ")
        auth = await bearer(session, account)
        r = await client.post(
            "/api/v1/exchange/resources",
            json={**PERSONS, "sharing_class": "unconditional", "open_data": True},
            headers=auth,
        )
        assert_problem(r, 422, "invalid-input")
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == "open_data"

    async def test_malformed_body(self, client, session):
        account, _p = await factories.staff(session, "GAJ")
        auth = await bearer(session, account)
        r = await client.post(
            "/api/v1/exchange/resources",
            json={**PERSONS, "code": "Bad Code", "sharing_class": "sometimes"},
            headers=auth,
        )
        assert_problem(r, 422, "invalid-input")
        assert {e["field"] for e in r.json()["errors"]} == {"code", "sharing_class"}

    async def test_citizens_read_but_do_not_publish(self, client, session):
        await factories.create_resource(session, code="visible")
        citizen = await core_factories.create_account(session)
        auth = await bearer(session, citizen)
        assert (
            await client.get("/api/v1/exchange/resources/visible", headers=auth)
        ).status_code == 200
        r = await client.post("/api/v1/exchange/resources", json=PERSONS, headers=auth)
        assert_problem(r, 403, "forbidden")

    async def test_anonymous_callers_use_the_open_data_api(self, client):
        assert_problem(await client.get("/api/v1/exchange/resources"), 401, "unauthenticated")


class TestGrantsApi:
    async def test_request_approve_revoke(self, client, session):
        resource = await factories.create_resource(session)
        consumer, _c = await factories.staff(session, "ZWSJJ")
        publisher, _p = await factories.staff(session, "GAJ")
        as_consumer = await bearer(session, consumer)
        as_publisher = await bearer(session, publisher)
        r = await client.post(
            f"/api/v1/exchange/resources/{resource.code}/grants",
            json={"purpose": "核验", "fields": ["name", "id_number"]},
            headers=as_consumer,
        )
        assert r.status_code == 201, r.text
        grant = r.json()
        assert (grant["status"], grant["standing"], grant["consumer"]) == (
            "requested",
            "requested",
            "ZWSJJ",
        )
        incoming = await client.get(
            "/api/v1/exchange/grants?direction=incoming", headers=as_publisher
        )
        assert [g["id"] for g in incoming.json()] == [grant["id"]]
        r = await client.post(
            f"/api/v1/exchange/grants/{grant['id']}/approve",
            json={"fields": ["name"], "expires_at": "2099-01-01T00:00:00+08:00"},
            headers=as_publisher,
        )
        assert r.status_code == 200 and r.json()["granted_fields"] == ["name"]
        assert r.json()["standing"] == "active"
        r = await client.post(
            f"/api/v1/exchange/grants/{grant['id']}/revoke", json={}, headers=as_publisher
        )
        assert r.status_code == 200 and r.json()["status"] == "revoked"

    async def test_refuse_needs_a_reason(self, client, session):
        resource = await factories.create_resource(session)
        made = await factories.grant(session, resource, "ZWSJJ", approve=False)
        publisher, _p = await factories.staff(session, "GAJ")
        auth = await bearer(session, publisher)
        r = await client.post(
            f"/api/v1/exchange/grants/{made.id}/refuse", json={"reason": " "}, headers=auth
        )
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "reason"
        r = await client.post(f"/api/v1/exchange/grants/{made.id}/refuse", json={}, headers=auth)
        assert_problem(r, 422, "invalid-input")
        assert (await session.execute(select(Grant.status))).scalar_one() == "requested"

    async def test_naive_expiry_is_refused(self, client, session):
        resource = await factories.create_resource(session)
        made = await factories.grant(session, resource, "ZWSJJ", approve=False)
        publisher, _p = await factories.staff(session, "GAJ")
        auth = await bearer(session, publisher)
        r = await client.post(
            f"/api/v1/exchange/grants/{made.id}/approve",
            json={"expires_at": "2099-01-01T00:00:00"},
            headers=auth,
        )
        assert_problem(r, 422, "invalid-input")

    async def test_unrelated_department_gets_404(self, client, session):
        resource = await factories.create_resource(session)
        made = await factories.grant(session, resource, "ZWSJJ", approve=False)
        other, _o = await factories.staff(session, "RSJ")
        auth = await bearer(session, other)
        assert_problem(
            await client.get(f"/api/v1/exchange/grants/{made.id}", headers=auth), 404, "not-found"
        )


class TestSubscriptionsApi:
    async def test_subscribe_list_cancel(self, client, session):
        resource = await factories.create_resource(session)
        await factories.grant(session, resource, "ZWSJJ", fields=["name"])
        _account, key = await factories.system(session, "ZWSJJ")
        await session.commit()
        auth = {"X-API-Key": key}
        r = await client.post(
            "/api/v1/exchange/subscriptions",
            json={"resource": resource.code, "webhook_url": "https://hooks.example/x"},
            headers=auth,
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["secret"] and created["resource"] == resource.code
        listed = await client.get("/api/v1/exchange/subscriptions", headers=auth)
        assert [s["id"] for s in listed.json()] == [created["id"]]
        assert "secret" not in listed.json()[0]
        deliveries = await client.get(
            f"/api/v1/exchange/subscriptions/{created['id']}/deliveries", headers=auth
        )
        assert deliveries.json() == []
        r = await client.delete(f"/api/v1/exchange/subscriptions/{created['id']}", headers=auth)
        assert r.status_code == 200 and r.json()["active"] is False

    async def test_subscribing_without_a_grant(self, client, session):
        resource = await factories.create_resource(session)
        _account, key = await factories.system(session, "ZWSJJ")
        await session.commit()
        r = await client.post(
            "/api/v1/exchange/subscriptions",
            json={"resource": resource.code},
            headers={"X-API-Key": key},
        )
        assert_problem(r, 422, "invalid-input")
        assert r.json()["reason"] == "no-grant"
