"""In a real browser: a linked citizen applies online with 免提交 identity, is told what is
missing, uploads materials and submits; the department asks for 补正, the citizen supplements;
after the decision the citizen rates the service; staff see the application on the case page."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.conftest import LiveServer, shot, sign_in_as

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
ITEM = "SCJGJ-001"  # 个体工商户设立登记 of the demo catalog


def _seed_items_and_person(server: LiveServer, username: str) -> str:
    """The demo catalog, and a person record the citizen's account will be linked to."""
    from tests.registry import factories

    number = factories.resident_id()

    async def work(session: Any) -> None:
        from smartcity.cli import cli_principal
        from smartcity.registry import service
        from smartcity.registry.schemas import PersonCreate
        from smartcity.services.seed import seed_service_items

        principal = cli_principal()
        await seed_service_items(session, principal)
        await service.create_person(
            session,
            principal,
            PersonCreate(
                id_number=number,
                name="林小雨",
                ethnicity="汉族",
                phone="13812345678",
                hukou_division_code="440303",
                residence_address="深圳市罗湖区东门街道湖贝社区东门中路1号",
            ),
        )

    server.run(work)
    return number


def _link(server: LiveServer, username: str, number: str) -> None:
    async def work(session: Any) -> None:
        from sqlalchemy import select

        from smartcity.cli import cli_principal
        from smartcity.registry import service
        from smartcity.registry.models import Person

        person = (
            await session.execute(select(Person).where(Person.id_number == number))
        ).scalar_one()
        await service.link_account(session, cli_principal(), person_id=person.id, username=username)

    server.run(work)


def _steps(server: LiveServer, number: str, *steps: tuple[str, dict[str, str]]) -> None:
    """The department takes steps on the case (as its staff would on the case page)."""

    async def work(session: Any) -> None:
        from sqlalchemy import select

        from smartcity.cases import service
        from smartcity.cases.models import Case
        from smartcity.core.authz import Principal
        from smartcity.core.models import Department

        case = (await session.execute(select(Case).where(Case.number == number))).scalar_one()
        dep = (
            await session.execute(select(Department).where(Department.code == "SCJGJ"))
        ).scalar_one()
        # no account behind it, so it takes no case on (承办人 names an account)
        officer = Principal(id=None, kind="staff", name="e2e.officer", department_id=dep.id)
        for name, fields in steps:
            await service.transition(session, officer, case.id, name, fields=fields)

    server.run(work)


def _case_id(server: LiveServer, number: str) -> str:
    async def work(session: Any) -> str:
        from sqlalchemy import select

        from smartcity.cases.models import Case

        found = (await session.execute(select(Case.id).where(Case.number == number))).scalar_one()
        return str(found)

    result: str = server.run(work)
    return result


def test_citizen_applies_supplements_and_rates(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    username = f"apply.{uuid.uuid4().hex[:6]}"
    number = _seed_items_and_person(live_server, username)
    sign_in_as(page, live_server, username, "citizen", display_name="林小雨")
    _link(live_server, username, number)
    plan = tmp_path / "场所使用证明.pdf"
    plan.write_bytes(PDF)
    form_scan = tmp_path / "申请书.png"
    form_scan.write_bytes(PNG)
    not_a_pdf = tmp_path / "evil.pdf"
    not_a_pdf.write_bytes(b"MZ\x90\x00 not a pdf")

    page.goto(f"/services/{ITEM}")
    shot(page, "apply-01-item")
    page.click(f"a[href='/services/{ITEM}/apply']")
    page.wait_for_url(f"**/services/{ITEM}/apply")
    body = page.inner_text("main")
    assert "林小雨" in body and "公安局" in body
    assert page.locator("input[name=name]").count() == 0  # 免提交: not asked again
    shot(page, "apply-02-form")

    page.fill("#trade_name", "林记面馆")
    page.set_input_files("input[name=file-1]", str(not_a_pdf))
    page.click("button[value=submit]")
    assert page.locator(".error-summary").is_visible()
    assert page.locator("#scope-error").is_visible()
    assert "PDF" in page.inner_text("[id='material:经营场所使用证明-error']")
    assert page.input_value("#trade_name") == "林记面馆"
    shot(page, "apply-03-errors")

    page.fill("#scope", "面食制售")
    page.set_input_files("input[name=file-1]", str(plan))
    page.set_input_files("input[name=file-2]", str(form_scan))
    page.click("button[value=submit]")
    page.wait_for_url(re.compile(r".*/my/applications/.*submitted=1"))
    case_number = page.inner_text(".caption code")
    assert case_number.startswith("SQ-")
    shot(page, "apply-04-submitted")

    _steps(
        live_server,
        case_number,
        ("accept", {}),
        ("review", {}),
        ("request_supplement", {"missing": "经营场所使用证明需加盖产权人印章"}),
    )
    page.reload()
    assert "加盖产权人印章" in page.inner_text("#supplement")
    shot(page, "apply-05-supplement")
    page.select_option("#material", "经营场所使用证明")
    page.set_input_files("#file", str(plan))
    page.fill("#note", "已加盖印章")
    page.click("#supplement button[value=send]")
    page.wait_for_url(re.compile(r".*supplemented=1"))

    _steps(
        live_server,
        case_number,
        ("approve", {"opinion": "经审查，同意准予许可。"}),
        ("deliver", {}),
    )
    page.reload()
    page.check("input[name=score][value='5']")
    page.fill("#comment", "全程网上办理，很方便")
    page.click("#rating button[type=submit]")
    page.wait_for_url(re.compile(r".*rated=1"))
    assert "★★★★★" in page.inner_text("main")
    shot(page, "apply-06-rated")

    page.goto("/my/applications")
    assert case_number in page.inner_text("main")
    shot(page, "apply-07-my-applications")

    page.click("header form button[type=submit]")  # sign out
    sign_in_as(page, live_server, f"scjgj.{uuid.uuid4().hex[:6]}", "staff", department_code="SCJGJ")
    page.goto(f"/cases/{_case_id(live_server, case_number)}")
    panel = page.inner_text(".application-panel")
    assert "林小雨" in panel and "场所使用证明.pdf" in panel and "申请书.png" in panel
    shot(page, "apply-08-case-panel")
