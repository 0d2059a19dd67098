"""Pages of the foundation over HTTP: sign-in with TOTP, form errors, CSRF, language, admin."""

from __future__ import annotations

import re

import pyotp
import pytest

from smartcity.core import clock
from smartcity.core.models import Account
from tests.core import factories
from tests.core.factories import PASSWORD
from tests.problems import assert_problem

HTML = {"accept": "text/html"}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def get_form(client, path: str) -> str:
    r = await client.get(path, headers=HTML)
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


async def sign_in(client, username: str, password: str = PASSWORD):
    token = await get_form(client, "/login")
    return await client.post(
        "/login",
        headers=HTML,
        data={"csrf_token": token, "username": username, "password": password, "next": "/account"},
    )


class TestSignInPages:
    async def test_citizen_signs_in_and_out(self, client, session):
        account = await factories.create_account(session)
        r = await sign_in(client, account.username)
        assert r.status_code == 303 and r.headers["location"] == "/account"
        page = await client.get("/account", headers=HTML)
        assert page.status_code == 200 and account.username in page.text
        r = await client.post("/logout", headers=HTML, data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303
        after = await client.get("/account", headers=HTML)
        assert after.status_code == 303 and after.headers["location"].startswith("/login")

    async def test_empty_form_marks_both_fields(self, client):
        token = await get_form(client, "/login")
        r = await client.post("/login", headers=HTML, data={"csrf_token": token})
        assert r.status_code == 422
        assert 'class="field has-error"' in r.text
        assert 'id="username-error"' in r.text and 'id="password-error"' in r.text

    async def test_wrong_password_keeps_the_username(self, client, session):
        account = await factories.create_account(session)
        r = await sign_in(client, account.username, "wrong")
        assert r.status_code == 401
        assert f'value="{account.username}"' in r.text
        assert 'id="password-error"' in r.text

    async def test_missing_csrf_is_refused(self, client, session):
        account = await factories.create_account(session)
        r = await client.post(
            "/login", headers=HTML, data={"username": account.username, "password": PASSWORD}
        )
        assert r.status_code == 400
        assert account.username not in r.text

    async def test_next_cannot_leave_the_site(self, client, session):
        account = await factories.create_account(session)
        token = await get_form(client, "/login")
        r = await client.post(
            "/login",
            headers=HTML,
            data={
                "csrf_token": token,
                "username": account.username,
                "password": PASSWORD,
                "next": "//evil.example/phish",
            },
        )
        assert r.headers["location"] == "/"

    async def test_staff_enrols_totp_then_signs_in_with_it(self, client, session):
        account = await factories.create_account(session, kind="staff")
        r = await sign_in(client, account.username)
        assert r.headers["location"].startswith("/login/enrol")
        # Half signed-in: the account page is still closed.
        assert (await client.get("/account", headers=HTML)).status_code == 303
        page = await client.get("/login/enrol", headers=HTML)
        assert page.status_code == 200 and "<svg" in page.text
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
        r = await client.post(
            "/login/enrol",
            headers=HTML,
            data={"csrf_token": csrf_of(page.text), "code": "000000", "next": "/account"},
        )
        assert r.status_code == 422 and 'id="code-error"' in r.text
        r = await client.post(
            "/login/enrol",
            headers=HTML,
            data={
                "csrf_token": csrf_of(page.text),
                "code": pyotp.TOTP(secret).now(),
                "next": "/account",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/account"
        assert (await client.get("/account", headers=HTML)).status_code == 200
        await session.refresh(account)
        assert account.totp_enabled

    async def test_staff_with_totp_is_asked_for_the_code(self, client, session):
        secret = pyotp.random_base32()
        account = await factories.create_account(session, kind="supervisor", totp_secret=secret)
        r = await sign_in(client, account.username)
        assert r.headers["location"].startswith("/login/totp")
        token = await get_form(client, "/login/totp")
        r = await client.post(
            "/login/totp",
            headers=HTML,
            data={"csrf_token": token, "code": "12", "next": "/account"},
        )
        assert r.status_code == 401 and 'id="code-error"' in r.text
        r = await client.post(
            "/login/totp",
            headers=HTML,
            data={
                "csrf_token": token,
                "code": factories.totp_code(secret, clock.now()),
                "next": "/account",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/account"

    async def test_totp_page_without_password_step(self, client):
        r = await client.get("/login/totp", headers=HTML)
        assert r.status_code == 400

    async def test_generated_password_must_be_changed(self, client, session):
        account = await factories.create_account(session)
        account.must_change_password = True
        await session.flush()
        r = await sign_in(client, account.username)
        assert r.headers["location"] == "/account/password?first=1"


class TestPasswordPage:
    async def test_errors_are_marked(self, client, session):
        account = await factories.create_account(session)
        await sign_in(client, account.username)
        token = await get_form(client, "/account/password")
        r = await client.post(
            "/account/password",
            headers=HTML,
            data={"csrf_token": token, "current_password": PASSWORD, "new_password": "short"},
        )
        assert r.status_code == 422 and 'id="new_password-error"' in r.text
        r = await client.post(
            "/account/password",
            headers=HTML,
            data={
                "csrf_token": token,
                "current_password": PASSWORD,
                "new_password": "A-Much-Better-One-7",
            },
        )
        assert r.status_code == 303


class TestLanguage:
    async def test_chinese_by_default_and_english_on_request(self, client):
        r = await client.get("/login", headers=HTML)
        assert '<html lang="zh-CN">' in r.text and "登录" in r.text
        r = await client.get("/lang/en?next=/login", headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        r = await client.get("/login", headers=HTML)
        assert '<html lang="en">' in r.text and "Sign in" in r.text

    async def test_unknown_language(self, client):
        r = await client.get("/lang/xx", headers=HTML)
        assert r.status_code == 404


class TestAdminPages:
    async def admin(self, client, session) -> Account:
        secret = pyotp.random_base32()
        account = await factories.create_account(
            session, kind="admin", roles=["security"], totp_secret=secret
        )
        await sign_in(client, account.username)
        token = await get_form(client, "/login/totp")
        await client.post(
            "/login/totp",
            headers=HTML,
            data={
                "csrf_token": token,
                "code": factories.totp_code(secret, clock.now()),
                "next": "/",
            },
        )
        return account

    async def test_create_account_with_an_error_then_right(self, client, session):
        await self.admin(client, session)
        token = await get_form(client, "/admin/accounts")
        r = await client.post(
            "/admin/accounts",
            headers=HTML,
            data={
                "csrf_token": token,
                "username": "Bad Name",
                "display_name": "王五",
                "kind": "citizen",
            },
        )
        assert r.status_code == 422 and 'id="username-error"' in r.text
        assert 'value="王五"' in r.text  # what was typed is kept
        r = await client.post(
            "/admin/accounts",
            headers=HTML,
            data={
                "csrf_token": token,
                "username": "wang.wu",
                "display_name": "王五",
                "kind": "citizen",
            },
        )
        assert r.status_code == 200 and 'id="generated-password"' in r.text

    async def test_refused_change_leaves_nothing_half_done(self, client, session):
        admin = await self.admin(client, session)
        path = f"/admin/accounts/{admin.username}"
        token = await get_form(client, path)
        # Renaming is fine, deactivating oneself is not: the whole submit is refused.
        r = await client.post(
            path,
            headers=HTML,
            data={
                "csrf_token": token,
                "action": "update",
                "display_name": "改了的名字",
                "role_security": "on",
            },
        )
        assert r.status_code == 422
        await session.refresh(admin)
        assert admin.display_name != "改了的名字" and admin.active

    async def test_staff_without_department_is_marked(self, client, session):
        await self.admin(client, session)
        token = await get_form(client, "/admin/accounts")
        r = await client.post(
            "/admin/accounts",
            headers=HTML,
            data={"csrf_token": token, "username": "no.dep", "display_name": "x", "kind": "staff"},
        )
        assert r.status_code == 422 and 'id="department_code-error"' in r.text

    async def test_issue_and_revoke_a_key_on_the_page(self, client, session):
        await self.admin(client, session)
        device = await factories.create_account(session, kind="device")
        path = f"/admin/accounts/{device.username}"
        token = await get_form(client, path)
        r = await client.post(
            path,
            headers=HTML,
            data={"csrf_token": token, "action": "issue_key", "key_name": "station"},
        )
        key = re.search(r'id="shown-key">(sck_[^<]+)<', r.text).group(1)
        assert (await client.get("/api/v1/me", headers={"X-API-Key": key})).status_code == 200
        prefix = key.split("_")[1]
        r = await client.post(
            path, headers=HTML, data={"csrf_token": token, "action": "revoke_key", "prefix": prefix}
        )
        assert r.status_code == 200
        revoked = await client.get("/api/v1/me", headers={"X-API-Key": key})
        assert_problem(revoked, 401, "api-key-revoked")

    async def test_bad_expiry_date(self, client, session):
        await self.admin(client, session)
        device = await factories.create_account(session, kind="device")
        path = f"/admin/accounts/{device.username}"
        token = await get_form(client, path)
        r = await client.post(
            path,
            headers=HTML,
            data={
                "csrf_token": token,
                "action": "issue_key",
                "key_name": "x",
                "expires_on": "2020-01-01",
            },
        )
        assert r.status_code == 422

    async def test_create_department_duplicate(self, client, session):
        await self.admin(client, session)
        await factories.create_department(session, code="DUPQ")
        token = await get_form(client, "/admin/departments")
        r = await client.post(
            "/admin/departments",
            headers=HTML,
            data={"csrf_token": token, "code": "DUPQ", "name": "重复局"},
        )
        assert r.status_code == 422 and 'id="code-error"' in r.text

    @pytest.mark.parametrize("path", ["/admin/accounts", "/admin/departments"])
    async def test_citizen_gets_403_page(self, client, session, path):
        account = await factories.create_account(session)
        await sign_in(client, account.username)
        r = await client.get(path, headers=HTML)
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
