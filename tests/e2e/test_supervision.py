"""The supervision board in a browser (电子监察): a supervisor over the demo's cases sees the
red list first, drills down to a case, reviews an irregularity, and the trend chart draws."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as

pytestmark = pytest.mark.e2e


def _seed_demo(server: LiveServer) -> int:
    async def seed(session: Any) -> int:
        from smartcity.cli import cli_principal
        from smartcity.demo.services import seed_demo_cases
        from smartcity.services.seed import seed_service_items

        await seed_service_items(session, cli_principal())
        return await seed_demo_cases(session, cli_principal(), count=80)

    made: int = server.run(seed)
    return made


def test_a_supervisor_works_the_board(page: Any, live_server: LiveServer) -> None:
    _seed_demo(live_server)
    sign_in_as(page, live_server, "e2e.supervisor", "supervisor", department_code="JWJ")
    page.goto("/supervision")
    assert page.locator("h1").inner_text().strip() != ""
    # the urgent lists come first, each case linked to its page
    red = page.locator("#red-title")
    assert red.is_visible()
    first_case = page.locator("section.sv-urgent").first.locator("tbody a.mono").first
    number = first_case.inner_text()
    assert re.match(r"SQ-\d{8}-\d{6}", number)
    # the chart is drawn from the installed plotly.js
    page.wait_for_selector("#sv-chart-volume .main-svg", timeout=15_000)
    shot(page, "supervision-board")

    # a figure drills down to its cases, and they export
    page.locator(".sv-tiles li").first.locator("a").click()
    page.wait_for_url("**/supervision/cases?warning=red")
    assert page.locator("tbody tr").count() >= 1
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("CSV")).first.click()
    assert download.value.suggested_filename == "supervision-cases.csv"

    # an irregularity is reviewed with a note; an empty note is refused next to the field
    page.goto("/supervision/flags")
    shot(page, "supervision-flags")
    form = page.locator("form.sv-review-form").first
    form.locator("button[type=submit]").click()
    assert page.locator(".error-message").first.is_visible()
    form = page.locator("form.sv-review-form").first
    form.locator("textarea").fill("已约谈经办人，责令补充书面理由")
    # without a finding (属实 / 不属实) the review is refused, the note kept
    form.locator("button[type=submit]").click()
    assert page.locator(".sv-outcome .error-message").first.is_visible()
    form = page.locator("form.sv-review-form").first
    assert form.locator("textarea").input_value() == "已约谈经办人，责令补充书面理由"
    form.locator("input[value=confirmed]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/supervision/flags?reviewed=1")
    assert page.locator(".notice.ok").is_visible()
    assert "已约谈经办人" in page.locator("table").last.inner_text()

    # and the case page is one click from the board
    page.goto("/supervision")
    page.locator("section.sv-urgent").first.locator("tbody a.mono").first.click()
    page.wait_for_url(re.compile(r".*/cases/[0-9a-f-]{36}\?back=/supervision$"))
    # ... and the board one click from the case
    assert page.locator("p.back a").get_attribute("href") == "/supervision"
