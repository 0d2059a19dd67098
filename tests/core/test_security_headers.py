"""Security headers: a Content-Security-Policy without inline script on every answer, HSTS
when served over HTTPS (directly, or behind a proxy the settings trust), Secure cookies
behind TLS, and the Origin check of unsafe browser requests."""

from __future__ import annotations

import re

import pytest

from smartcity.app import CONTENT_SECURITY_POLICY
from smartcity.core.security import PRESESSION_COOKIE, SESSION_COOKIE
from tests.core.test_pages import HTML, get_form


def _directive(policy: str, name: str) -> str:
    for part in policy.split(";"):
        if part.strip().startswith(name + " "):
            return part.strip()
    raise AssertionError(f"no {name} in {policy}")


async def test_every_answer_carries_a_policy_without_inline_script(client) -> None:
    for path in ("/", "/login", "/api/v1/me", "/static/site.css", "/no-such-page"):
        r = await client.get(path, headers=HTML)
        policy = r.headers["content-security-policy"]
        assert policy == CONTENT_SECURITY_POLICY
        assert _directive(policy, "script-src") == "script-src 'self'"
        assert _directive(policy, "style-src") == "style-src 'self'"
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_swagger_ui_allows_only_its_own_inline_scripts(client) -> None:
    r = await client.get("/docs")
    script = _directive(r.headers["content-security-policy"], "script-src")
    assert "'unsafe-inline'" not in script and "'sha256-" in script


async def test_plain_http_gets_no_hsts(client) -> None:
    r = await client.get("/login", headers=HTML)
    assert "strict-transport-security" not in r.headers
    assert "secure" not in r.headers["set-cookie"].lower()


async def test_https_gets_hsts_and_secure_cookies(client) -> None:
    r = await client.get("https://testserver/login", headers=HTML)
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(PRESESSION_COOKIE + "=") and "secure" in cookie.lower()


async def test_https_sign_in_gets_a_secure_session_cookie(client, session) -> None:
    from tests.core import factories
    from tests.core.factories import PASSWORD

    account = await factories.create_account(session)
    form = await client.get("https://testserver/login", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = await client.post(
        "https://testserver/login",
        headers=HTML,
        data={"csrf_token": token.group(1), "username": account.username, "password": PASSWORD},
    )
    assert r.status_code == 303
    cookies = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "secure" in session_cookie.lower() and session_cookie.lower().count("secure") == 1


async def test_forwarded_proto_counts_only_when_the_proxy_is_trusted(
    client, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    forwarded = {**HTML, "X-Forwarded-Proto": "https"}
    r = await client.get("/login", headers=forwarded)
    assert "strict-transport-security" not in r.headers  # anyone can send the header
    monkeypatch.setattr(settings, "trust_proxy_headers", True)
    r = await client.get("/login", headers=forwarded)
    assert "strict-transport-security" in r.headers


async def test_secure_cookies_setting_marks_cookies_on_plain_http(
    client, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "secure_cookies", True)
    r = await client.get("/login", headers=HTML)
    assert "secure" in r.headers["set-cookie"].lower()


class TestOriginWithoutFetchMetadata:
    """Browsers without Sec-Fetch-Site still send Origin on a cross-site POST."""

    async def test_foreign_origin_is_refused(self, client) -> None:
        token = await get_form(client, "/login")
        r = await client.post(
            "/login",
            headers={**HTML, "Origin": "https://evil.example"},
            data={"csrf_token": token, "username": "x", "password": "y"},
        )
        assert r.status_code == 400

    async def test_own_origin_passes(self, client) -> None:
        token = await get_form(client, "/login")
        r = await client.post(
            "/login",
            headers={**HTML, "Origin": "http://testserver"},
            data={"csrf_token": token, "username": "nobody.here", "password": "y"},
        )
        assert r.status_code == 401  # past the CSRF check, to the password check

    async def test_proxy_host_counts_only_when_trusted(
        self, client, settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        token = await get_form(client, "/login")
        behind_proxy = {
            **HTML,
            "Origin": "https://city.example",
            "X-Forwarded-Host": "city.example",
        }
        data = {"csrf_token": token, "username": "nobody.here", "password": "y"}
        assert (await client.post("/login", headers=behind_proxy, data=data)).status_code == 400
        monkeypatch.setattr(settings, "trust_proxy_headers", True)
        assert (await client.post("/login", headers=behind_proxy, data=data)).status_code == 401
