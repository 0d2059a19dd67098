"""The HTTP authentication and ACL endpoint clustered brokers call (EMQX HTTP authn/authz,
VerneMQ webhooks): the same decisions as the Mosquitto sync, and the broker's own bad
requests (no secret, wrong secret, missing fields, huge strings) as 4xx problems."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts
from smartcity.sensing import service as extras
from smartcity.settings import Settings, configure
from tests.core.factories import ROOT
from tests.problems import assert_problem
from tests.sensing.test_mqtt_security import device_with_thing

SECRET = "hook-secret-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}
EMQX = "/api/v1/sensing/mqtt/emqx"
VERNE = "/api/v1/sensing/mqtt/vernemq"


@pytest.fixture
def hooked(settings: Settings, app: Any) -> Settings:
    """Configured after the app is built (which configures its own settings)."""
    return configure(
        settings.model_copy(
            update={
                "mqtt_hook_secret": SecretStr(SECRET),
                "mqtt_username": "bridge",
                "mqtt_password": SecretStr("bridge-password"),
                "mqtt_anonymous_read": True,
            }
        )
    )


@pytest.fixture
async def city(sta: Any, session: AsyncSession) -> dict[str, Any]:
    meter = await device_with_thing(sta, session, "水表 甲")
    other = await device_with_thing(sta, session, "水表 乙")
    private = await sta.thing(name="家庭水表 丙")
    await extras.set_visibility(session, ROOT, private["thing"], False)
    await session.flush()
    return {"meter": meter, "other": other, "private": private}


async def authn(client: httpx.AsyncClient, username: str, password: str) -> str:
    response = await client.post(
        f"{EMQX}/authn", json={"username": username, "password": password}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    result: str = response.json()["result"]
    assert response.json()["is_superuser"] is False
    return result


async def authz(client: httpx.AsyncClient, username: str, action: str, topic: str) -> str:
    response = await client.post(
        f"{EMQX}/authz",
        json={"username": username, "action": action, "topic": topic, "clientid": "c1"},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    result: str = response.json()["result"]
    return result


class TestEmqx:
    async def test_who_may_connect(self, client, hooked, city, session):
        meter = city["meter"]
        assert await authn(client, meter["username"], meter["key"]) == "allow"
        assert await authn(client, meter["username"], meter["key"][:-1] + "x") == "deny"
        assert await authn(client, meter["username"], city["other"]["key"]) == "deny"
        assert await authn(client, meter["username"], "") == "deny"
        assert await authn(client, "bridge", "bridge-password") == "allow"
        assert await authn(client, "bridge", "wrong") == "deny"
        assert await authn(client, "", "") == "allow"  # anonymous reading is on
        configure(hooked.model_copy(update={"mqtt_anonymous_read": False}))
        assert await authn(client, "", "") == "deny"
        await accounts.revoke_api_key(session, ROOT, meter["prefix"])
        await session.flush()
        assert await authn(client, meter["username"], meter["key"]) == "deny"

    async def test_who_may_publish_and_subscribe(self, client, hooked, city, session):
        meter, other, private = city["meter"], city["other"], city["private"]
        own = meter["topic"]
        assert await authz(client, meter["username"], "publish", own) == "allow"
        # Another device's Datastream, in either namespace; the standard topic; anonymous.
        assert await authz(client, other["username"], "publish", own) == "deny"
        theirs = own.replace(meter["username"], other["username"])
        assert await authz(client, other["username"], "publish", theirs) == "deny"
        standard = f"v1.1/Datastreams({meter['datastream']})/Observations"
        assert await authz(client, meter["username"], "publish", standard) == "deny"
        assert await authz(client, "", "publish", own) == "deny"
        assert await authz(client, "bridge", "publish", standard) == "allow"
        # Reading: public yes, private no, raw device topics only for the bridge.
        assert await authz(client, "", "subscribe", standard) == "allow"
        assert await authz(client, "", "subscribe", "v1.1/#") == "allow"
        for topic in (
            f"v1.1/Things({private['thing']})/#",
            f"v1.1/Things({private['thing']})",
            f"v1.1/Things({private['thing']})?$select=name",
        ):
            assert await authz(client, "", "subscribe", topic) == "deny"
            assert await authz(client, other["username"], "subscribe", topic) == "deny"
        private_stream = f"v1.1/Datastreams({private['datastream']})/Observations"
        assert await authz(client, "", "subscribe", private_stream) == "deny"
        assert await authz(client, "", "subscribe", "devices/#") == "deny"
        assert await authz(client, meter["username"], "subscribe", "#") == "deny"
        assert await authz(client, "bridge", "subscribe", "devices/#") == "allow"
        # A revoked key: refused at once, even on a connection made before.
        await accounts.revoke_api_key(session, ROOT, meter["prefix"])
        await session.flush()
        assert await authz(client, meter["username"], "publish", own) == "deny"
        assert await authz(client, "someone-unknown", "subscribe", standard) == "deny"


class TestVerneMq:
    async def hook(self, client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
        response = await client.post(VERNE, json=body, headers={**AUTH, "vernemq-hook": name})
        assert response.status_code == 200, response.text
        return response.json()

    async def test_register_publish_subscribe(self, client, hooked, city):
        meter, private = city["meter"], city["private"]
        ok, refused = {"result": "ok"}, {"result": {"error": "not_allowed"}}
        register = {"username": meter["username"], "password": meter["key"], "client_id": "m"}
        assert await self.hook(client, "auth_on_register", register) == ok
        assert await self.hook(client, "auth_on_register_m5", {**register, "password": "x"}) == (
            refused
        )
        publish = {"username": meter["username"], "topic": meter["topic"], "qos": 1}
        assert await self.hook(client, "auth_on_publish", publish) == ok
        other = {**publish, "username": city["other"]["username"]}
        assert await self.hook(client, "auth_on_publish", other) == refused
        topics = [{"topic": "v1.1/Things", "qos": 1}]
        assert await self.hook(client, "auth_on_subscribe", {"topics": topics}) == ok
        closed = [*topics, {"topic": f"v1.1/Things({private['thing']})", "qos": 0}]
        assert await self.hook(client, "auth_on_subscribe", {"topics": closed}) == refused
        assert await self.hook(client, "auth_on_subscribe", {"topics": []}) == refused


class TestBadRequests:
    async def test_off_without_a_secret(self, client, settings):
        response = await client.post(f"{EMQX}/authn", json={}, headers=AUTH)
        assert_problem(response, 404, "not-found")
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == "/problems/not-found"

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}, {"X-Secret": SECRET}],
    )
    async def test_the_wrong_secret(self, client, hooked, headers):
        for path in (f"{EMQX}/authn", f"{EMQX}/authz", VERNE):
            response = await client.post(path, json={"username": "x"}, headers=headers)
            assert_problem(response, 401, "broker-secret-invalid")
            assert response.json()["type"] == "/problems/broker-secret-invalid"

    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("/authz", {"username": "a", "action": "publish"}, "topic"),
            ("/authz", {"username": "a", "topic": "v1.1/Things"}, "action"),
            ("/authz", {"username": "a", "topic": "v1.1/Things", "action": "delete"}, "action"),
            ("/authz", {"username": "a" * 10_000, "topic": "t", "action": "publish"}, "username"),
            ("/authz", {"topic": "v1.1/" + "x" * 100_000, "action": "subscribe"}, "topic"),
            ("/authn", {"username": "a", "password": "p" * 100_000}, "password"),
            ("/authn", {"username": ["a"], "password": "p"}, "username"),
        ],
    )
    async def test_bad_bodies(self, client, hooked, path, body, field):
        response = await client.post(f"{EMQX}{path}", json=body, headers=AUTH)
        assert_problem(response, 422, "invalid-input")
        problem = response.json()
        assert problem["type"] == "/problems/invalid-input"
        assert field in {e["field"] for e in problem["errors"]}

    async def test_not_json(self, client, hooked):
        response = await client.post(
            f"{EMQX}/authn",
            content=b"username=a",
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert_problem(response, 422, "invalid-input")
        assert response.json()["type"] == "/problems/invalid-input"

    async def test_vernemq_needs_a_known_hook(self, client, hooked):
        for headers in ({}, {"vernemq-hook": "on_deliver"}):
            response = await client.post(VERNE, json={}, headers={**AUTH, **headers})
            assert_problem(response, 422, "invalid-input")
            assert response.json()["type"] == "/problems/invalid-input"
        response = await client.post(
            VERNE,
            json={"topics": [{"topic": "t", "qos": 7}]},
            headers={**AUTH, "vernemq-hook": "auth_on_subscribe"},
        )
        assert_problem(response, 422, "invalid-input")
