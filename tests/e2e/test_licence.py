"""In a real browser: the holder opens, prints and downloads a licence; anyone checks it by
number, by QR address and by its files; a revoked licence shows as revoked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import LiveServer, shot, sign_in_as


def issue_licence(server: LiveServer, holder: str) -> str:
    """An item, a registry record for the holder, an officer, and an approved application;
    returns the licence number."""

    async def go(session: Any) -> str:
        from sqlalchemy import select

        from smartcity.cases import service as cases
        from smartcity.cli import cli_principal
        from smartcity.core import accounts
        from smartcity.core.models import Account
        from smartcity.core.schemas import AccountCreate
        from smartcity.core.security import principal_of
        from smartcity.registry import service as registry
        from smartcity.registry.schemas import PersonCreate
        from smartcity.services import licences, seed
        from smartcity.services.models import ServiceItem
        from smartcity.services.types import BASE_NAME
        from tests.registry.factories import resident_id

        root = cli_principal()
        if not (
            await session.execute(select(ServiceItem).where(ServiceItem.code == "SCJGJ-003"))
        ).scalar_one_or_none():
            await seed.seed_service_items(session, root)
        item = (
            await session.execute(select(ServiceItem).where(ServiceItem.code == "SCJGJ-003"))
        ).scalar_one()
        account = (
            await session.execute(select(Account).where(Account.username == holder))
        ).scalar_one()
        person = await registry.create_person(
            session,
            root,
            PersonCreate(
                id_number=resident_id(),
                name="林美华",
                ethnicity="汉族",
                hukou_division_code="440303",
                residence_address="深圳市罗湖区东门街道湖贝社区东门中路1号",
            ),
        )
        person.account_id = account.id
        officer, _ = await accounts.create_account(
            session,
            root,
            AccountCreate(
                username=f"{holder}.officer",
                display_name="市场监管陈科员",
                kind="staff",
                department_code="SCJGJ",
                password="Browser-Test-2026",
            ),
        )
        officer_p = principal_of(officer, "session")
        case_ = await cases.open_case(
            session,
            principal_of(account, "session"),
            case_type=BASE_NAME,
            title=item.name,
            department_code="SCJGJ",
            category=item.code,
            statutory_days=item.statutory_days,
            promised_days=item.promised_days,
        )
        for step in ("accept", "review", "approve"):
            case_ = await cases.transition(
                session, officer_p, case_.id, step, fields={"opinion": "经审查，同意。"}
            )
        licence = await licences.licence_for_case(session, case_.id)
        assert licence is not None
        return licence.number

    number: str = server.run(go)
    return number


def revoke(server: LiveServer, number: str) -> None:
    async def go(session: Any) -> None:
        from smartcity.core.authz import Principal
        from smartcity.services import licences

        admin = Principal(id=None, kind="admin", name="e2e-admin", via="cli")
        await licences.revoke_licence(
            session,
            admin,
            number,
            "经查，申请人以提供虚假材料的方式取得许可（《行政许可法》第六十九条）",
        )

    server.run(go)


def test_holder_prints_and_anyone_checks(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in_as(page, live_server, "e2e.licence.holder", "citizen", display_name="林美华")
    number = issue_licence(live_server, "e2e.licence.holder")

    page.goto("/my/licences")
    assert page.locator(f"text={number}").first.is_visible()
    shot(page, "licence-list")
    page.click(f"a[href='/my/licences/{number}'] >> nth=0")
    page.wait_for_url(re.compile(rf"/my/licences/{number}$"))
    assert page.locator("h1#licence-title").inner_text() == "食品经营许可证"
    assert page.locator(".licence-qr svg").is_visible()
    assert "**********" in page.locator(".licence-fields").inner_text()
    shot(page, "licence-print-view")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    shot(page, "licence-print-media")
    assert not page.locator(".masthead").is_visible()
    # The print view fits one A4 sheet.
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1280, "height": 860})

    with page.expect_download() as pdf_download:
        page.click(".licence-toolbar a[href$='/licence.pdf']")
    signed_pdf = tmp_path / "licence.pdf"
    pdf_download.value.save_as(signed_pdf)
    assert signed_pdf.read_bytes().startswith(b"%PDF-")
    with page.expect_download() as document_download:
        page.click(".licence-tools a[href$='/document.json']")
    document = tmp_path / "licence.json"
    document_download.value.save_as(document)
    with page.expect_download() as signature_download:
        page.click(".licence-toolbar a[href$='/signature.json']")
    signature = tmp_path / "licence.sig.json"
    signature_download.value.save_as(signature)
    assert json.loads(document.read_text("utf-8"))["number"] == number

    # The holder was told of each step; the approval names the licence.
    page.goto("/messages")
    assert page.locator(f".message.unread >> text={number}").first.is_visible()
    shot(page, "messages-inbox")
    page.click("form.inline button.link-like >> nth=0")
    page.wait_for_load_state()

    # Anyone: by number, as typed, from the check form.
    page.context.clear_cookies()
    page.goto("/licences/verify")
    page.fill("#number", number.lower())
    page.click("form[action='/licences/verify'][method='get'] button[type=submit]")
    page.wait_for_url(re.compile(rf"/licences/{number}$"))
    assert page.locator(".verdict.valid").is_visible()
    shot(page, "licence-public-valid")

    # By the PDF alone: genuine, then with one byte changed.
    page.goto("/licences/verify")
    page.set_input_files("#pdf", str(signed_pdf))
    page.click("#by-file button[type=submit]")
    assert page.locator(".verdict.valid").is_visible()
    shot(page, "licence-verify-pdf-valid")
    data = bytearray(signed_pdf.read_bytes())
    at = data.index(b"stream\n") + 30
    data[at] ^= 1
    changed_pdf = tmp_path / "changed.pdf"
    changed_pdf.write_bytes(bytes(data))
    page.set_input_files("#pdf", str(changed_pdf))
    page.click("#by-file button[type=submit]")
    assert page.locator(".verdict.invalid").is_visible()
    shot(page, "licence-verify-pdf-changed")

    # By the licence data and its SM2 signature: genuine, then with one character changed.
    page.goto("/licences/verify")
    page.click("#by-file details summary")
    page.set_input_files("#document", str(document))
    page.set_input_files("#signature", str(signature))
    page.click("#by-file button[type=submit]")
    assert page.locator(".verdict.valid").is_visible()
    shot(page, "licence-verify-file-valid")
    forged = tmp_path / "forged.json"
    forged.write_text(document.read_text("utf-8").replace("林美华", "林美玲"), "utf-8")
    page.set_input_files("#document", str(forged))
    page.set_input_files("#signature", str(signature))
    page.click("#by-file button[type=submit]")
    assert page.locator(".verdict.invalid").is_visible()
    shot(page, "licence-verify-file-forged")

    revoke(live_server, number)
    page.goto(f"/licences/{number}")
    assert page.locator(".verdict.revoked").is_visible()
    assert "虚假材料" in page.locator(".verdict").inner_text()
    shot(page, "licence-public-revoked")
