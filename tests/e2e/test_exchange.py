"""In a real browser: a citizen browses open data; a department (人社局) requests a resource of
公安局, the publisher approves it with fewer fields, and the requester sees the grant in force."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp

from smartcity.core import accounts
from smartcity.core.schemas import AccountCreate
from smartcity.core.security import seal_totp_secret
from smartcity.settings import get_settings
from tests.e2e.conftest import LiveServer, shot

PASSWORD = "Browser-Test-2026"


def make_staff(server: LiveServer, username: str, department: str, name: str) -> str:
    """A staff account with two-factor sign-in already set up; returns its TOTP secret."""
    from smartcity.cli import cli_principal

    secret = pyotp.random_base32()

    async def create(session: Any) -> None:
        account, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(
                username=username,
                display_name=name,
                kind="staff",
                password=PASSWORD,
                department_code=department,
            ),
        )
        account.must_change_password = False
        account.totp_secret_enc = seal_totp_secret(get_settings(), secret)
        account.totp_enabled = True

    server.run(create)
    return secret


def seed_catalog(server: LiveServer) -> None:
    from smartcity.cli import cli_principal
    from smartcity.exchange.seed import seed_demo_catalog

    server.run(lambda session: seed_demo_catalog(session, cli_principal()))


def sign_in(page: Any, username: str, secret: str, *, step_ahead: int = 0) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/login/totp"))
    # A later sign-in in the same 30 s window uses the next step: codes are single-use.
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30 * step_ahead))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$|/\?"))


def sign_out(page: Any) -> None:
    page.click(".who button")
    page.wait_for_url(re.compile(r"signed_out=1"))


def test_citizen_browses_open_data(page: Any, live_server: LiveServer) -> None:
    seed_catalog(live_server)
    page.goto("/")
    page.click("nav a[href='/data']")
    page.wait_for_url(re.compile(r"/data$"))
    assert page.locator("h1").inner_text().endswith("公共数据开放")
    assert page.locator(".card h2", has_text="法人登记信息").is_visible()
    assert page.locator(".card h2", has_text="人口基础信息").count() == 0
    shot(page, "exchange-open-data")
    page.click(".card h2 a:has-text('街道、社区、网格与地点')")
    assert page.locator("a", has_text="下载 CSV").is_visible()
    shot(page, "exchange-open-dataset")


def test_department_requests_and_publisher_approves(page: Any, live_server: LiveServer) -> None:
    seed_catalog(live_server)
    rsj = make_staff(live_server, "e2e.ex.rsj", "RSJ", "周敏（人社局）")
    gaj = make_staff(live_server, "e2e.ex.gaj", "GAJ", "李建国（公安局）")

    # 人社局 asks for persons' data.
    sign_in(page, "e2e.ex.rsj", rsj)
    page.click("nav a[href='/exchange']")
    page.wait_for_url(re.compile(r"/exchange/catalog"))
    assert page.locator("td .tag", has_text="有条件共享").first.is_visible()
    shot(page, "exchange-catalog")
    page.click("a:has-text('人口基础信息')")
    page.wait_for_url(re.compile(r"/exchange/catalog/persons-basic"))
    # A form error first: no purpose, no fields.
    page.click("button:has-text('提交申请')")
    assert page.locator("#purpose-error").is_visible()
    assert page.locator("#fields-error").is_visible()
    shot(page, "exchange-request-error")
    page.fill("#purpose", "社保待遇资格认证：核验参保人身份与生存状态")
    page.fill("#legal_basis", "《社会保险法》第八条")
    for field in ("姓名", "公民身份号码", "人口状态", "居住地址"):
        page.check(f"#fields label:has-text('{field}') input")
    page.click("button:has-text('提交申请')")
    page.wait_for_url(re.compile(r"requested=1"))
    assert page.locator("#my-grant + table .tag", has_text="待审核").is_visible()
    shot(page, "exchange-requested")
    sign_out(page)

    # 公安局 decides: grants all but the address, for a year.
    sign_in(page, "e2e.ex.gaj", gaj)
    page.goto("/exchange/grants")
    request = page.locator("article", has_text="社保待遇资格认证")
    assert request.is_visible()
    shot(page, "exchange-grants-pending")
    request.locator("label:has-text('居住地址') input").uncheck()
    request.locator("input[type=date]").fill("2027-12-31")
    request.locator("button:has-text('同意共享')").click()
    page.wait_for_url(re.compile(r"done=approved"))
    assert page.locator(".notice.ok").is_visible()
    decided = page.locator("tr", has_text="人力资源和社会保障局")
    assert decided.locator(".tag", has_text="有效").is_visible()
    shot(page, "exchange-grants-approved")
    sign_out(page)

    # 人社局 sees the grant in force, without the address.
    sign_in(page, "e2e.ex.rsj", rsj, step_ahead=1)
    page.goto("/exchange/catalog/persons-basic")
    assert page.locator("#my-grant + table .tag", has_text="有效").is_visible()
    granted = page.locator("tr", has_text="residence_address")
    assert granted.locator(".tag.green").count() == 0
    assert page.locator("tr", has_text="id_number").locator(".tag.green").is_visible()
    assert page.locator("#subscribe").is_visible()
    shot(page, "exchange-grant-in-force")

    # Its system makes two calls (one asks for a field beyond the grant); both are logged.
    exchange_calls(live_server, "RSJ")
    page.goto("/exchange/log?direction=outgoing")
    assert page.locator("td .tag", has_text="已应答").first.is_visible()
    assert page.locator("td .tag", has_text="已拒绝").first.is_visible()
    shot(page, "exchange-log")
    page.goto("/exchange/stats")
    assert page.locator("h2", has_text="按资源").is_visible()
    shot(page, "exchange-stats")


def exchange_calls(server: LiveServer, department: str) -> None:
    from sqlalchemy import select

    from smartcity.core.authz import Principal
    from smartcity.core.models import Department
    from smartcity.exchange import evidence
    from smartcity.exchange.schemas import ExchangeQuery

    async def calls(session: Any) -> None:
        dep = (
            await session.execute(select(Department).where(Department.code == department))
        ).scalar_one()
        caller = Principal(
            id=None, kind="system", name=f"system.{department.lower()}", department_id=dep.id
        )
        for fields in (["name", "status"], ["name", "residence_address"]):
            await evidence.query_resource(
                session,
                caller,
                "persons-basic",
                ExchangeQuery(filters={"name_prefix": "张"}, fields=fields, purpose="资格认证"),
                call=evidence.CallHeaders(issue="RSJ-2026-00042", user_id="CN-e2e"),
                method="POST",
                path="/api/v1/exchange/resources/persons-basic/query",
                body=b"{}",
            )

    server.run(calls)
