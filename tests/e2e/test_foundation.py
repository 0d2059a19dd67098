"""In a real browser: sign-in with TOTP enrolment, a form error, the language switch, sign-out,
and an admin creating an account."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from smartcity.core import accounts
from smartcity.core.schemas import AccountCreate
from tests.e2e.conftest import LiveServer, shot

PASSWORD = "Browser-Test-2026"


def make_account(server: LiveServer, username: str, kind: str, **extra: Any) -> None:
    from smartcity.cli import cli_principal

    async def create(session: Any) -> None:
        account, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(
                username=username,
                display_name=extra.pop("display_name", "测试"),
                kind=kind,
                password=PASSWORD,
                **extra,
            ),
        )
        account.must_change_password = False

    server.run(create)


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_staff_enrols_totp_signs_in_and_out(page: Any, live_server: LiveServer) -> None:
    make_account(live_server, "e2e.staff", "staff", department_code="GAJ", display_name="李警官")
    page.goto("/")
    shot(page, "home-anonymous")
    # A form error first: no password.
    page.goto("/login")
    page.fill("#username", "e2e.staff")
    page.click("button[type=submit]")
    assert page.locator("#password-error").is_visible()
    assert page.locator(".error-summary").is_visible()
    shot(page, "login-error")

    sign_in(page, "e2e.staff")
    page.wait_for_url(re.compile(r"/login/enrol"))
    assert page.locator(".qr svg").is_visible()
    shot(page, "totp-enrol")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$|/\?"))
    # The masthead names the person, not the login.
    assert page.locator(".who a[href='/account']").inner_text() == "李警官"

    page.goto("/account")
    assert page.locator("main").get_by_text("李警官").is_visible()
    shot(page, "account")
    page.click(".who button")  # 退出
    page.wait_for_url(re.compile(r"signed_out=1"))
    assert page.locator(".who a[href='/login']").is_visible()

    # Signing in again asks for the code, not a new enrolment.
    sign_in(page, "e2e.staff")
    page.wait_for_url(re.compile(r"/login/totp"))
    page.fill("#code", "000000")
    page.click("button[type=submit]")
    assert page.locator("#code-error").is_visible()
    shot(page, "totp-wrong")


def test_language_switch(page: Any, live_server: LiveServer) -> None:
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "登录"
    page.click("a[lang=en]")
    page.wait_for_url(re.compile(r"/login"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Sign in"
    shot(page, "login-en")
    page.click("a[lang=zh-CN]")
    assert page.locator("h1").inner_text() == "登录"


def test_admin_creates_an_account(page: Any, live_server: LiveServer) -> None:
    secret = pyotp.random_base32()
    make_account(live_server, "e2e.admin", "admin", roles=["security"], display_name="平台管理员")

    async def enrol(session: Any) -> None:
        from sqlalchemy import select

        from smartcity.core.models import Account
        from smartcity.core.security import seal_totp_secret

        account = (
            await session.execute(select(Account).where(Account.username == "e2e.admin"))
        ).scalar_one()
        account.totp_secret_enc = seal_totp_secret(live_server.settings, secret)
        account.totp_enabled = True

    live_server.run(enrol)
    sign_in(page, "e2e.admin")
    page.wait_for_url(re.compile(r"/login/totp"))
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.goto("/admin/accounts")
    page.fill("#username", "zhao.liu")
    page.fill("#display_name", "赵六")
    page.select_option("#kind", "staff")
    page.click("text=创建账户")
    # Staff need a department: the field is marked and what was typed stays.
    assert page.locator("#department_code-error").is_visible()
    assert page.locator("#display_name").input_value() == "赵六"
    shot(page, "admin-accounts-error")
    page.select_option("#department_code", "SCJGJ")
    page.click("text=创建账户")
    assert page.locator("#generated-password").is_visible()
    assert page.locator("td >> text=zhao.liu").is_visible()
    shot(page, "admin-accounts")
