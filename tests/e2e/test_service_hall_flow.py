"""The online service hall end to end, every actor in their own browser: a citizen applies
with identity filled from the population registry and uploads a material; the department's
officer accepts, reviews and asks for 补正 on the case page; the citizen supplements; the
officer approves; the citizen opens and downloads the signed licence; an anonymous visitor
verifies it by number and by file, and a forged file fails; a supervisor sees the case move
across the board."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as
from tests.e2e.test_apply import PDF, PNG, _link, _seed_items_and_person

ITEM = "SCJGJ-001"  # 个体工商户设立登记: a citizen item of 市场监督管理局


@pytest.fixture
def browser_context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A factory of separate browser sessions, one per actor."""
    contexts: list[Any] = []

    def new_page() -> Any:
        context = browser.new_context(
            base_url=live_server.url,
            locale="zh-CN",
            viewport={"width": 1280, "height": 860},
            accept_downloads=True,
        )
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


def _take_step(page: Any, name: str, **fields: str) -> None:
    """Take a step on the staff case page: quick steps are buttons, others open a form."""
    form = page.locator(f"form#step-{name}")
    if fields:
        page.click(f"details:has(form#step-{name}) > summary")
        for field, value in fields.items():
            page.fill(f"#step-{name}-{field}", value)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    if page.locator("form.confirm-form").count():
        # A decision (准予许可 ...) is confirmed on a page of its own.
        page.click("form.confirm-form button[type=submit]")
        page.wait_for_load_state()


def _board_state_count(page: Any, state: str) -> int:
    """The open applications the board shows in one state (0 when none)."""
    row = page.locator(
        f"section[aria-labelledby=states-title] tr:has(a[href*='state={state}']"
        "[href*='case_type=services.application']) td.num"
    )
    return int(row.first.inner_text()) if row.count() else 0


def test_apply_handle_licence_verify_supervise(
    browser_context: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    citizen_name = f"flow.citizen.{suffix}"
    number = _seed_items_and_person(live_server, citizen_name)
    plan = tmp_path / "场所使用证明.pdf"
    plan.write_bytes(PDF)
    form_scan = tmp_path / "申请书.png"
    form_scan.write_bytes(PNG)

    supervisor = browser_context()
    sign_in_as(
        supervisor, live_server, f"flow.supervisor.{suffix}", "supervisor", department_code="JWJ"
    )
    supervisor.goto("/supervision")
    reviewing_before = _board_state_count(supervisor, "reviewing")
    supervisor.goto("/supervision")

    # The citizen applies: identity comes from the registry (免提交), two materials go up.
    citizen = browser_context()
    sign_in_as(citizen, live_server, citizen_name, "citizen", display_name="林小雨")
    _link(live_server, citizen_name, number)
    citizen.goto(f"/services/{ITEM}/apply")
    body = citizen.inner_text("main")
    assert "林小雨" in body and "公安局" in body  # the value and its source department
    assert citizen.locator("input[name=name]").count() == 0  # not asked again
    citizen.fill("#trade_name", "林记面馆")
    citizen.fill("#scope", "面食制售")
    citizen.set_input_files("input[name=file-1]", str(plan))
    citizen.set_input_files("input[name=file-2]", str(form_scan))
    citizen.click("button[value=submit]")
    citizen.wait_for_url(re.compile(r".*/my/applications/.*submitted=1"))
    case_number = citizen.inner_text(".caption code")
    application_url = citizen.url.split("?")[0]
    shot(citizen, "flow-01-citizen-submitted")

    # The officer finds it in the department's queue and handles it on the case page.
    officer = browser_context()
    sign_in_as(officer, live_server, f"flow.officer.{suffix}", "staff", department_code="SCJGJ")
    officer.goto("/cases?tab=department&state=submitted")
    officer.click(f"tr:has-text('{case_number}') a.case-link")
    officer.wait_for_url(re.compile(r".*/cases/[0-9a-f-]{36}.*"))
    case_url = officer.url.split("?")[0]
    assert "场所使用证明.pdf" in officer.inner_text("main")  # the application's panel
    _take_step(officer, "accept")
    _take_step(officer, "review")
    supervisor.goto("/supervision")
    assert _board_state_count(supervisor, "reviewing") == reviewing_before + 1
    shot(supervisor, "flow-02-board-reviewing")
    _take_step(officer, "request_supplement", missing="经营场所使用证明需加盖产权人印章")
    assert "补正" in officer.inner_text(".case-facts, main")
    shot(officer, "flow-03-officer-asked-supplement")
    supervisor.goto("/supervision")
    assert _board_state_count(supervisor, "reviewing") == reviewing_before

    # The citizen sees what is missing and supplements.
    citizen.goto(application_url)
    assert "加盖产权人印章" in citizen.inner_text("#supplement")
    citizen.select_option("#material", "经营场所使用证明")
    citizen.set_input_files("#file", str(plan))
    citizen.fill("#note", "已加盖印章")
    citizen.click("#supplement button[value=send]")
    citizen.wait_for_url(re.compile(r".*supplemented=1"))

    # The officer approves: the licence is issued and signed in the same step.
    officer.goto(case_url)
    _take_step(officer, "approve", opinion="经审查，符合法定条件，同意准予许可。")
    shot(officer, "flow-04-officer-approved")

    # The citizen opens the licence and downloads the signed file and its signature.
    citizen.goto(application_url)
    licence_number = citizen.inner_text(".licence-ready code")
    citizen.click(".licence-ready a.button")
    citizen.wait_for_url(f"**/my/licences/{licence_number}")
    assert licence_number in citizen.inner_text("main")
    shot(citizen, "flow-05-licence")
    with citizen.expect_download() as document_download:
        citizen.click(f"a[href='/my/licences/{licence_number}/document.json']")
    with citizen.expect_download() as signature_download:
        citizen.click(f"a[href='/my/licences/{licence_number}/signature.json']")
    document = tmp_path / "licence.json"
    signature = tmp_path / "licence.sig.json"
    document_download.value.save_as(document)
    signature_download.value.save_as(signature)

    # Anyone verifies it, by number and by file; a forged file fails.
    visitor = browser_context()
    visitor.goto("/licences/verify")
    visitor.fill("#number", licence_number)
    visitor.click("form[action='/licences/verify'][method=get] button[type=submit]")
    visitor.wait_for_load_state()
    assert visitor.locator(".verdict.valid").is_visible()
    shot(visitor, "flow-06-verified")
    visitor.goto("/licences/verify")
    visitor.set_input_files("#document", str(document))
    visitor.set_input_files("#signature", str(signature))
    visitor.click("#by-file button[type=submit]")
    visitor.wait_for_load_state()
    assert visitor.locator(".verdict.valid").is_visible()
    forged = json.loads(document.read_text(encoding="utf-8"))
    forged["title"] = forged["title"] + "（副本）"  # one changed field, same signature
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged, ensure_ascii=False), encoding="utf-8")
    visitor.goto("/licences/verify")
    visitor.set_input_files("#document", str(forged_file))
    visitor.set_input_files("#signature", str(signature))
    visitor.click("#by-file button[type=submit]")
    visitor.wait_for_load_state()
    assert visitor.locator(".verdict.invalid").is_visible()
    shot(visitor, "flow-07-forged")

    # The supervisor drills down from the board to the case.
    supervisor.goto("/supervision")
    shot(supervisor, "flow-08-board")
    supervisor.goto(case_url)
    assert case_number in supervisor.inner_text("main")
