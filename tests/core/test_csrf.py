"""CSRF tokens are bound to the browser's session: a cookie an attacker sets is worthless,
another site's form or script is refused, and the real pages keep working."""

from __future__ import annotations

import httpx
import pytest

from smartcity.core.errors import PROBLEM_JSON
from smartcity.core.security import PRESESSION_COOKIE, SESSION_COOKIE, csrf_token_for
from smartcity.settings import get_settings
from tests.core import factories
from tests.core.factories import PASSWORD
from tests.core.test_pages import HTML, csrf_of, get_form, sign_in
from tests.problems import assert_problem

CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


def login_data(token: str, username: str) -> dict[str, str]:
    return {"csrf_token": token, "username": username, "password": PASSWORD, "next": "/account"}


class TestSignInForm:
    async def test_attacker_chosen_cookie_and_same_value_are_refused(self, client, session):
        account = await factories.create_account(session)
        client.cookies.set(PRESESSION_COOKIE, "chosen-by-attacker")
        r = await client.post(
            "/login", headers=HTML, data=login_data("chosen-by-attacker", account.username)
        )
        assert r.status_code == 400
        assert SESSION_COOKIE not in r.cookies

    async def test_token_of_another_browser_is_refused(self, client, session):
        account = await factories.create_account(session)
        other = csrf_token_for(get_settings(), session_token=None, presession="other-browser")
        await get_form(client, "/login")  # this browser gets its own pre-session cookie
        r = await client.post("/login", headers=HTML, data=login_data(other, account.username))
        assert r.status_code == 400

    async def test_form_posted_from_another_site_is_refused(self, client, session):
        account = await factories.create_account(session)
        token = await get_form(client, "/login")
        r = await client.post(
            "/login", headers={**HTML, **CROSS_SITE}, data=login_data(token, account.username)
        )
        assert r.status_code == 400
        assert SESSION_COOKIE not in r.cookies

    async def test_same_origin_form_signs_in(self, client, session):
        account = await factories.create_account(session)
        token = await get_form(client, "/login")
        same = {"Origin": "http://test", "Sec-Fetch-Site": "same-origin"}
        r = await client.post(
            "/login", headers={**HTML, **same}, data=login_data(token, account.username)
        )
        assert r.status_code == 303, r.text

    async def test_pre_session_cookie_is_minted_once(self, client):
        first = await client.get("/login", headers=HTML)
        assert PRESESSION_COOKIE in first.cookies
        again = await client.get("/login", headers=HTML)
        assert PRESESSION_COOKIE not in again.cookies
        assert csrf_of(first.text) == csrf_of(again.text)


class TestSignedInForms:
    async def test_token_changes_with_the_session(self, client, session):
        account = await factories.create_account(session)
        before = await get_form(client, "/login")
        assert (await sign_in(client, account.username)).status_code == 303
        page = await client.get("/account", headers=HTML)
        after = csrf_of(page.text)
        assert after != before
        # The pre-session token no longer signs the signed-in browser's forms.
        r = await client.post("/logout", headers=HTML, data={"csrf_token": before})
        assert r.status_code == 400
        r = await client.post("/logout", headers=HTML, data={"csrf_token": after})
        assert r.status_code == 303


class TestApiWithTheSessionCookie:
    async def _signed_in(self, client: httpx.AsyncClient, session) -> tuple[str, str]:
        account = await factories.create_account(session)
        assert (await sign_in(client, account.username)).status_code == 303
        page = await client.get("/account", headers=HTML)
        return account.username, csrf_of(page.text)

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"X-CSRF-Token": "forged"},
            CROSS_SITE,
        ],
        ids=["no-token", "forged-token", "cross-site"],
    )
    async def test_unsafe_call_without_this_sessions_token_is_refused(
        self, client, session, headers
    ):
        _username, token = await self._signed_in(client, session)
        if headers is CROSS_SITE:
            headers = {**CROSS_SITE, "X-CSRF-Token": token}
        r = await client.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "new_password": "Another-Pass-2026"},
            headers=headers,
        )
        assert_problem(r, 403, "csrf-failed")
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        assert r.json()["type"] == "/problems/csrf-failed"

    async def test_unsafe_call_with_the_token_goes_through(self, client, session):
        _username, token = await self._signed_in(client, session)
        page = await client.get("/account", headers=HTML)
        assert f'<meta name="csrf-token" content="{token}">' in page.text  # for page scripts
        r = await client.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "new_password": "Another-Pass-2026"},
            headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin"},
        )
        assert r.status_code == 204, r.text

    async def test_reads_need_no_token(self, client, session):
        username, _token = await self._signed_in(client, session)
        r = await client.get("/api/v1/me")
        assert r.status_code == 200 and r.json()["username"] == username
