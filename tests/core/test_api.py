"""The foundation's REST API: tokens, keys, accounts, departments, audit, problem details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smartcity.core import accounts, clock
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from tests.core import factories
from tests.core.factories import PASSWORD, ROOT
from tests.problems import assert_problem

PROBLEM = "application/problem+json"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def bearer(account) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_access_token(get_settings(), account, amr=['pwd'])}"}


async def admin_headers(session) -> dict[str, str]:
    admin = await factories.create_account(session, kind="admin", roles=["security", "auditor"])
    return bearer(admin)


class TestToken:
    async def test_citizen_gets_a_token_and_uses_it(self, client, session):
        account = await factories.create_account(session)
        r = await client.post(
            "/api/v1/auth/token", data={"username": account.username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        token = r.json()["access_token"]
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["username"] == account.username and me.json()["via"] == "token"

    async def test_wrong_password(self, client, session):
        account = await factories.create_account(session)
        r = await client.post(
            "/api/v1/auth/token", data={"username": account.username, "password": "nope"}
        )
        assert_problem(r, 401, "wrong-credentials")
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["type"] == "/problems/wrong-credentials"
        # The failure was committed even though the answer was an error.
        await session.refresh(account)
        assert account.failed_logins == 1

    async def test_locked_after_repeated_failures(self, client, session):
        account = await factories.create_account(session)
        for _ in range(5):
            r = await client.post(
                "/api/v1/auth/token", data={"username": account.username, "password": "nope"}
            )
        assert r.json()["type"] == "/problems/account-locked"
        assert "locked_until" in r.json()

    async def test_staff_needs_totp(self, client, session):
        account = await factories.create_account(session, kind="staff", totp_secret=SECRET)
        r = await client.post(
            "/api/v1/auth/token", data={"username": account.username, "password": PASSWORD}
        )
        assert_problem(r, 401, "totp-required")
        code = factories.totp_code(SECRET, clock.now())
        r = await client.post(
            "/api/v1/auth/token",
            data={"username": account.username, "password": PASSWORD, "totp": code},
        )
        assert r.status_code == 200, r.text

    async def test_staff_without_enrolment(self, client, session):
        account = await factories.create_account(session, kind="supervisor")
        r = await client.post(
            "/api/v1/auth/token", data={"username": account.username, "password": PASSWORD}
        )
        assert r.json()["type"] == "/problems/totp-enrolment-required"

    async def test_missing_fields(self, client):
        r = await client.post("/api/v1/auth/token", data={"username": "x"})
        assert_problem(r, 422, "invalid-input")
        assert r.headers["content-type"] == PROBLEM
        assert any(e["field"] == "password" for e in r.json()["errors"])

    async def test_expired_token(self, client, session):
        account = await factories.create_account(session)
        with clock.frozen(datetime.now(UTC) - timedelta(hours=1)):
            old = issue_access_token(get_settings(), account, amr=["pwd"])
        r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"})
        assert_problem(r, 401, "token-expired")

    @pytest.mark.parametrize(
        "header", ["Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwdw==", "Bearer"]
    )
    async def test_bad_authorization_headers(self, client, header):
        r = await client.get("/api/v1/me", headers={"Authorization": header})
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM

    async def test_token_of_deactivated_account(self, client, session):
        account = await factories.create_account(session)
        headers = bearer(account)
        account.active = False
        await session.flush()
        r = await client.get("/api/v1/me", headers=headers)
        assert_problem(r, 401, "unauthenticated")


class TestApiKeys:
    async def test_issue_use_revoke(self, client, session):
        headers = await admin_headers(session)
        device = await factories.create_account(session, kind="device")
        r = await client.post(
            "/api/v1/api-keys",
            headers=headers,
            json={"account": device.username, "name": "air station"},
        )
        assert r.status_code == 201, r.text
        key, prefix = r.json()["key"], r.json()["prefix"]
        for auth in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
            me = await client.get("/api/v1/me", headers=auth)
            assert me.status_code == 200 and me.json()["kind"] == "device"
            assert me.json()["via"] == "api_key"
        listed = await client.get("/api/v1/api-keys", headers=headers)
        assert prefix in [k["prefix"] for k in listed.json()]
        assert all("key" not in k for k in listed.json())
        r = await client.delete(f"/api/v1/api-keys/{prefix}", headers=headers)
        assert r.status_code == 200 and r.json()["revoked_at"]
        me = await client.get("/api/v1/me", headers={"X-API-Key": key})
        assert_problem(me, 401, "api-key-revoked")

    async def test_expired_key(self, client, session):
        device = await factories.create_account(session, kind="device")
        with clock.frozen(datetime(2026, 1, 1, tzinfo=UTC)):
            _row, key = await accounts.issue_api_key(
                session,
                ROOT,
                username=device.username,
                name="x",
                expires_at=datetime(2026, 2, 1, tzinfo=UTC),
            )
        r = await client.get("/api/v1/me", headers={"X-API-Key": key})
        assert_problem(r, 401, "api-key-expired")

    @pytest.mark.parametrize("key", ["nope", "sck_short_x", "sck_000000000000_wrongsecret"])
    async def test_bad_keys(self, client, key):
        r = await client.get("/api/v1/me", headers={"X-API-Key": key})
        assert_problem(r, 401, "api-key-invalid")

    async def test_tampered_key(self, client, session):
        device = await factories.create_account(session, kind="device")
        _row, key = await accounts.issue_api_key(session, ROOT, username=device.username, name="x")
        r = await client.get("/api/v1/me", headers={"X-API-Key": key[:-2] + "xx"})
        assert_problem(r, 401, "api-key-invalid")

    async def test_key_for_a_person_is_refused(self, client, session):
        headers = await admin_headers(session)
        citizen = await factories.create_account(session)
        r = await client.post(
            "/api/v1/api-keys", headers=headers, json={"account": citizen.username, "name": "x"}
        )
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "account"


class TestAccountsApi:
    async def test_create_list_update(self, client, session):
        headers = await admin_headers(session)
        dep = await factories.create_department(session)
        r = await client.post(
            "/api/v1/accounts",
            headers=headers,
            json={
                "username": "li.jg",
                "display_name": "李建国",
                "kind": "staff",
                "department_code": dep.code,
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["initial_password"]
        r = await client.get("/api/v1/accounts", headers=headers, params={"kind": "staff"})
        assert "li.jg" in [a["username"] for a in r.json()["items"]]
        r = await client.patch(
            "/api/v1/accounts/li.jg", headers=headers, json={"roles": ["auditor"]}
        )
        assert r.status_code == 200 and r.json()["roles"] == ["auditor"]

    async def test_bad_kind(self, client, session):
        headers = await admin_headers(session)
        r = await client.post(
            "/api/v1/accounts",
            headers=headers,
            json={"username": "bad.kind", "display_name": "x", "kind": "emperor"},
        )
        assert_problem(r, 422, "invalid-input")
        assert r.headers["content-type"] == PROBLEM

    async def test_unknown_account_is_404(self, client, session):
        headers = await admin_headers(session)
        r = await client.get("/api/v1/accounts/no.such.user", headers=headers)
        assert_problem(r, 404, "not-found")
        assert r.headers["content-type"] == PROBLEM

    async def test_page_size_is_bounded(self, client, session):
        headers = await admin_headers(session)
        r = await client.get("/api/v1/accounts", headers=headers, params={"limit": 100000})
        assert_problem(r, 422, "invalid-input")

    async def test_change_own_password(self, client, session):
        account = await factories.create_account(session)
        r = await client.post(
            "/api/v1/me/password",
            headers=bearer(account),
            json={"current_password": "wrong", "new_password": "Another-Pass-2026"},
        )
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "current_password"
        r = await client.post(
            "/api/v1/me/password",
            headers=bearer(account),
            json={"current_password": PASSWORD, "new_password": "Another-Pass-2026"},
        )
        assert r.status_code == 204


class TestDepartmentsApi:
    async def test_create_and_list(self, client, session):
        headers = await admin_headers(session)
        r = await client.post(
            "/api/v1/departments",
            headers=headers,
            json={"code": "QXJ", "name": "气象局", "name_en": "Meteorology"},
        )
        assert r.status_code == 201
        r = await client.get("/api/v1/departments", headers=headers)
        assert "QXJ" in [d["code"] for d in r.json()]
        r = await client.post(
            "/api/v1/departments", headers=headers, json={"code": "QXJ", "name": "气象局"}
        )
        assert_problem(r, 409, "conflict")
        assert r.headers["content-type"] == PROBLEM

    async def test_malformed_json(self, client, session):
        headers = await admin_headers(session)
        r = await client.post(
            "/api/v1/departments",
            headers={**headers, "content-type": "application/json"},
            content=b"{not json",
        )
        assert_problem(r, 422, "invalid-input")
        assert r.headers["content-type"] == PROBLEM


class TestAuditApi:
    async def test_verify_and_entries(self, client, session):
        headers = await admin_headers(session)
        r = await client.get("/api/v1/audit/verify", headers=headers)
        assert r.status_code == 200 and r.json()["intact"] is True
        r = await client.get(
            "/api/v1/audit/entries", headers=headers, params={"action": "core.account.create"}
        )
        assert r.status_code == 200 and r.json()
        assert {e["action"] for e in r.json()} == {"core.account.create"}

    async def test_plain_admin_without_auditor_role_cannot_read(self, client, session):
        staff = await factories.create_account(session, kind="staff")
        r = await client.get("/api/v1/audit/verify", headers=bearer(staff))
        assert_problem(r, 403, "forbidden")
        # An API client asked for no page: the refusal does not speak of one.
        assert r.json()["detail"].startswith("仅供") and "页面" not in r.json()["detail"]


class TestLimits:
    async def test_oversize_request(self, client, settings):
        body = b"x" * (settings.max_request_bytes + 1)
        r = await client.post(
            "/api/v1/auth/token",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert_problem(r, 413, "payload-too-large")
        assert r.headers["content-type"] == PROBLEM

    async def test_rate_limit_on_public_endpoint(self, app, client):
        from smartcity.core.ratelimit import RateLimiter

        app.state.rate_limiter = RateLimiter(3)
        codes = [
            (
                await client.post("/api/v1/auth/token", data={"username": "a", "password": "b"})
            ).status_code
            for _ in range(5)
        ]
        assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]

    async def test_openapi_lists_the_routes(self, client):
        r = await client.get("/openapi.json")
        assert "/api/v1/auth/token" in r.json()["paths"]

    async def test_docs_are_served_offline(self, client):
        r = await client.get("/docs")
        assert r.status_code == 200 and "/static/apidocs/swagger-ui-bundle.js" in r.text
        assert "cdn" not in r.text.lower()
        r = await client.get("/static/apidocs/swagger-ui-bundle.js")
        assert r.status_code == 200
