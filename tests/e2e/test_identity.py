"""In a real browser, in Chinese and in English: real-name registration with the code read
from a capturing SMS channel, then signed in; password recovery; sign-in through a real
OpenID Connect provider (tests/identity/provider.py) started for the test; enterprise
registration by the legal representative. Screenshots of each page at 390 and 1366 px, and
nothing in a page's main part wider than the window."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pydantic import SecretStr

from smartcity.core import notifications, oidc, registration
from smartcity.core.ids import make_resident_id
from smartcity.core.notifications import AddressMessage
from tests.e2e.conftest import LiveServer, shot
from tests.identity.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider, start_provider

WIDTHS = (390, 1366)
PASSWORD = "Browser-Reg-2026x"
LOCALES = {"zh-CN": "zh_CN", "en": "en"}
# One person per locale and purpose, with ID numbers no other browser test uses.
PEOPLE = {
    ("zh-CN", "register"): ("陈嘉怡", make_resident_id("440305", date(1992, 3, 14), 811)),
    ("en", "register"): ("黄志强", make_resident_id("440305", date(1988, 7, 2), 813)),
    ("zh-CN", "oidc"): ("刘晓彤", make_resident_id("440303", date(1995, 11, 30), 821)),
    ("en", "oidc"): ("吴俊杰", make_resident_id("440303", date(1996, 4, 9), 823)),
}


class CapturingSms:
    """The SMS plug-in, in a test: keeps what it was given (the server runs in this process)."""

    kind = "sms"

    def __init__(self) -> None:
        self.sent: list[AddressMessage] = []

    async def deliver(self, message: AddressMessage) -> None:
        self.sent.append(message)

    def last_code(self, address: str) -> str:
        body = [m.body for m in self.sent if m.address == address][-1]
        found = re.search(r"\b(\d{6})\b", body)
        assert found is not None
        return found.group(1)


@pytest.fixture
def sms() -> Iterator[CapturingSms]:
    box = CapturingSms()
    registration.reset_limits()
    notifications.register_address_channel(box)
    yield box
    notifications.unregister_address_channel("sms")


def _fits(page: Any, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"{name}-{width}")
        wide = page.evaluate(
            "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect()"
            ".right > document.documentElement.clientWidth + 1).slice(0, 3)"
            ".map(e => e.tagName + '.' + e.className)"
        )
        assert wide == [], (name, width, wide)
    page.set_viewport_size({"width": 1366, "height": 900})


def _person(server: LiveServer, name: str, id_number: str) -> None:
    async def create(session: Any) -> None:
        from sqlalchemy import select

        from smartcity.registry.models import Person  # a test may read the tables
        from tests.registry import factories

        found = await session.execute(select(Person.id).where(Person.id_number == id_number))
        if found.first() is None:
            await factories.source_departments(session)
            await factories.create_person(session, name=name, id_number=id_number)

    server.run(create)


def _context(browser: Any, server: LiveServer, locale: str) -> Any:
    context = browser.new_context(base_url=server.url, locale=locale)
    page = context.new_page()
    page.goto(f"/lang/{LOCALES[locale]}")
    return context, page


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_register_with_a_code_then_recover_the_password(
    browser: Any, live_server: LiveServer, sms: CapturingSms, locale: str
) -> None:
    name, id_number = PEOPLE[(locale, "register")]
    _person(live_server, name, id_number)
    phone = "1390000" + ("0001" if locale == "zh-CN" else "0002")
    tag = "zh" if locale == "zh-CN" else "en"
    context, page = _context(browser, live_server, locale)
    try:
        page.goto("/register")
        _fits(page, f"identity-register-{tag}")
        page.fill("#name", name)
        page.fill("#id_number", id_number)
        page.fill("#address", phone)
        page.click("main button[type=submit]")
        page.wait_for_selector("#code")
        _fits(page, f"identity-register-verify-{tag}")
        page.fill("#code", sms.last_code(phone))
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url("**/account")
        assert name in page.inner_text("main")

        # Signed out, the password is forgotten: a code to the phone resets it.
        page.click("header form[action='/logout'] button")
        page.goto("/recover")
        _fits(page, f"identity-recover-{tag}")
        page.fill("#address", phone)
        page.click("main button[type=submit]")
        page.wait_for_selector("#code")
        page.fill("#code", sms.last_code(phone))
        page.fill("#password", PASSWORD + "!")
        page.click("main button[type=submit]")
        page.wait_for_url("**/login?reset=1")
        page.fill("#username", phone)
        page.fill("#password", PASSWORD + "!")
        page.click("main form[action='/login'] button[type=submit]")
        page.wait_for_selector("header form[action='/logout']")  # signed in again
        page.goto("/account")
        assert phone in page.inner_text("main")
    finally:
        context.close()


@pytest.fixture
def provider(live_server: LiveServer) -> Iterator[LocalProvider]:
    accounts = {
        f"sub-{locale}": {"name": name, "id_number": number}
        for (locale, purpose), (name, number) in PEOPLE.items()
        if purpose == "oidc"
    }
    settings = live_server.settings
    for found in start_provider(accounts, [f"{live_server.url}/login/oidc/callback"]):
        settings.oidc_issuer, settings.oidc_client_id = found.issuer, CLIENT_ID
        settings.oidc_client_secret = SecretStr(CLIENT_SECRET)
        settings.oidc_scopes, settings.oidc_id_number_claim = "openid profile idcard", "id_number"
        oidc.reset_caches()
        try:
            yield found
        finally:
            settings.oidc_issuer = settings.oidc_client_id = ""
            settings.oidc_id_number_claim = ""
            oidc.reset_caches()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_sign_in_through_the_identity_provider_then_register_an_enterprise(
    browser: Any, live_server: LiveServer, provider: LocalProvider, locale: str
) -> None:
    name, id_number = PEOPLE[(locale, "oidc")]
    _person(live_server, name, id_number)
    tag = "zh" if locale == "zh-CN" else "en"
    uscc = _organization(live_server, id_number, tag)
    context, page = _context(browser, live_server, locale)
    try:
        page.goto("/login")
        button = page.locator("main a[href^='/login/oidc']")
        assert button.inner_text() == (
            "使用统一身份认证登录" if tag == "zh" else "Sign in with unified identity"
        )
        _fits(page, f"identity-login-{tag}")
        button.click()
        page.wait_for_selector("#login")  # the provider's own sign-in page
        page.fill("#login", f"sub-{locale}")
        page.click("#sign-in")
        page.wait_for_url("**/account**")
        assert name in page.inner_text("main")

        page.goto("/register/enterprise")
        _fits(page, f"identity-enterprise-{tag}")
        page.fill("#uscc", uscc)
        page.fill("#name", "深圳市另一家公司")
        page.fill("#password", "Enterprise-Pass-7")
        page.click("main form[action='/register/enterprise'] button[type=submit]")
        page.wait_for_selector("#name-error")
        _fits(page, f"identity-enterprise-refused-{tag}")
        page.fill("#name", f"深圳市浏览器测试{tag}科技有限公司")
        page.fill("#password", "Enterprise-Pass-7")
        page.click("main form[action='/register/enterprise'] button[type=submit]")
        page.wait_for_selector(".notice.ok")
        assert uscc in page.inner_text("main")
        _fits(page, f"identity-enterprise-done-{tag}")
    finally:
        context.close()


def _organization(server: LiveServer, representative_id: str, tag: str) -> str:
    async def create(session: Any) -> str:
        from sqlalchemy import select

        from smartcity.registry.models import Organization, Person
        from tests.registry import factories

        name = f"深圳市浏览器测试{tag}科技有限公司"
        found = (
            await session.execute(select(Organization.uscc).where(Organization.name == name))
        ).scalar_one_or_none()
        if found is not None:
            return str(found)
        person = (
            await session.execute(select(Person).where(Person.id_number == representative_id))
        ).scalar_one()
        org = await factories.create_organization(session, legal_representative=person, name=name)
        return str(org.uscc)

    result: str = server.run(create)
    return result


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_provider_that_is_down_gets_a_clear_page(
    browser: Any, live_server: LiveServer, locale: str
) -> None:
    settings = live_server.settings
    settings.oidc_issuer, settings.oidc_client_id = "http://127.0.0.1:9", CLIENT_ID
    oidc.reset_caches()
    context, page = _context(browser, live_server, locale)
    try:
        page.goto("/login")
        page.click("main a[href^='/login/oidc']")
        page.wait_for_selector("main h1")
        assert "identity-provider-unavailable" in page.inner_text("main")
        _fits(page, f"identity-provider-down-{'zh' if locale == 'zh-CN' else 'en'}")
    finally:
        settings.oidc_issuer = settings.oidc_client_id = ""
        context.close()
