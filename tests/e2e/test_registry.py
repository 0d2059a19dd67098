"""In a real browser: a staff member finds a person and sees the masked record; the source
department sees its own fields and edit form; a citizen sees who read their data."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from smartcity.core.schemas import AccountCreate
from tests.e2e.conftest import LiveServer, shot

PASSWORD = "Browser-Test-2026"


def make_staff(server: LiveServer, username: str, department: str, display_name: str) -> str:
    """A staff account with TOTP already enrolled; returns the TOTP secret."""
    secret = pyotp.random_base32()

    async def create(session: Any) -> None:
        from smartcity.cli import cli_principal
        from smartcity.core import accounts
        from smartcity.core.security import seal_totp_secret

        account, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(
                username=username,
                display_name=display_name,
                kind="staff",
                department_code=department,
                password=PASSWORD,
            ),
        )
        account.must_change_password = False
        account.totp_secret_enc = seal_totp_secret(server.settings, secret)
        account.totp_enabled = True

    server.run(create)
    return secret


def make_people(server: LiveServer, names: list[str], **extra: Any) -> list[str]:
    """Persons registered by the platform (as the CLI would); returns their ID numbers."""
    from tests.registry import factories

    numbers = [factories.resident_id() for _ in names]

    async def create(session: Any) -> None:
        from smartcity.cli import cli_principal
        from smartcity.registry import service
        from smartcity.registry.schemas import PersonCreate

        for number, name in zip(numbers, names, strict=True):
            await service.create_person(
                session,
                cli_principal(),
                PersonCreate(
                    id_number=number,
                    name=name,
                    ethnicity="汉族",
                    phone="13800138000",
                    hukou_division_code="440304",
                    residence_address="深圳市福田区华富街道莲花一村社区彩田路3001号",
                    **extra,
                ),
            )

    server.run(create)
    return numbers


def sign_in(page: Any, username: str, secret: str | None = None) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    if secret:
        page.wait_for_url(re.compile(r"/login/totp"))
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$|/\?"))


def test_staff_finds_a_person_and_sees_the_masked_record(
    page: Any, live_server: LiveServer
) -> None:
    numbers = make_people(live_server, ["上官婉儿", "上官仪", "上官桀"])
    secret = make_staff(live_server, "e2e.reg.scjgj", "SCJGJ", "市场监管王科员")
    sign_in(page, "e2e.reg.scjgj", secret)
    page.click("nav >> text=人口库")
    page.wait_for_url(re.compile(r"/registry/persons"))
    shot(page, "registry-persons-empty")
    # A wrong check digit first: marked at the field, what was typed kept.
    wrong = numbers[0][:17] + ("0" if numbers[0][17] != "0" else "1")
    page.fill("#q", wrong)
    page.click("button:has-text('查询')")
    assert page.locator("#q-error").is_visible()
    assert page.locator("#q").input_value() == wrong
    page.fill("#q", "上官")
    page.fill("#purpose", "企业登记法定代表人核验")
    page.click("button:has-text('查询')")
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 3
    assert numbers[0] not in page.content()
    assert page.locator("table.results >> text=" + numbers[0][:4] + "**********").first.is_visible()
    shot(page, "registry-persons-results")
    page.click("table.results >> text=上官婉儿")
    page.wait_for_url(re.compile(r"/registry/persons/[0-9a-f-]+"))
    assert page.locator("h1").inner_text() == "上官婉儿"
    assert page.locator(".tag.masked").first.is_visible()
    assert "138****8000" in page.content() and "13800138000" not in page.content()
    assert page.locator(".group >> text=公安局").first.is_visible()
    # Nothing here is this department's to change: no edit forms, the source is named.
    assert page.locator("details summary").count() == 0
    shot(page, "registry-person-masked")


def test_source_department_sees_its_fields_and_edits_them(
    page: Any, live_server: LiveServer
) -> None:
    make_people(live_server, ["东方明"])
    secret = make_staff(live_server, "e2e.reg.gaj", "GAJ", "户政李警官")
    sign_in(page, "e2e.reg.gaj", secret)
    page.goto("/registry/persons?q=东方明")
    page.click("table.results >> text=东方明")
    page.wait_for_url(re.compile(r"/registry/persons/[0-9a-f-]+"))
    page.click("#g-identity summary")
    page.fill("#g-identity #name", "东方亮")
    page.fill("#reason-identity", "更正姓名")
    page.click("#g-identity button[type=submit]")
    page.wait_for_url(re.compile(r"saved=identity"))
    assert page.locator("h1").inner_text() == "东方亮"
    assert page.locator(".timeline >> text=更正姓名").is_visible()
    shot(page, "registry-person-source")


def test_citizen_sees_who_read_their_data(page: Any, live_server: LiveServer) -> None:
    [number] = make_people(live_server, ["欧阳春"])

    async def link_and_read(session: Any) -> None:
        from sqlalchemy import select

        from smartcity.cli import cli_principal
        from smartcity.core import accounts
        from smartcity.core.models import Account, Department
        from smartcity.core.security import principal_of
        from smartcity.registry import service
        from smartcity.registry.models import Person

        citizen, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(
                username="e2e.ouyang", display_name="欧阳春", kind="citizen", password=PASSWORD
            ),
        )
        citizen.must_change_password = False
        person = (
            await session.execute(select(Person).where(Person.id_number == number))
        ).scalar_one()
        await service.link_account(
            session, cli_principal(), person_id=person.id, username="e2e.ouyang"
        )
        rsj = (
            await session.execute(select(Department).where(Department.code == "RSJ"))
        ).scalar_one()
        reader, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(
                username="e2e.reg.rsj",
                display_name="社保张科员",
                kind="staff",
                department_code=rsj.code,
                password=PASSWORD,
            ),
        )
        staff = principal_of(
            (await session.execute(select(Account).where(Account.id == reader.id))).scalar_one(),
            "session",
        )
        await service.get_person(session, staff, person.id, purpose="养老保险待遇资格认证")

    live_server.run(link_and_read)
    sign_in(page, "e2e.ouyang")
    page.click("nav >> text=我的数据")
    page.wait_for_url(re.compile(r"/my/data"))
    assert page.locator(f"text={number}").first.is_visible()
    table = page.locator("#access-log + table")
    assert table.locator("text=人力资源和社会保障局").is_visible()
    assert table.locator("text=养老保险待遇资格认证").is_visible()
    shot(page, "my-data")
