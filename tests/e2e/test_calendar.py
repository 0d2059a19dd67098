"""In a real browser: an admin enters next year's official holidays, first with a mistake."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import LiveServer, shot, sign_in_as


def test_admin_enters_a_year(page: Any, live_server: LiveServer) -> None:
    sign_in_as(page, live_server, "e2e.calendar", "admin", display_name="日历管理员")
    page.goto("/admin/calendar")
    shot(page, "calendar")
    page.fill("#year", "2027")
    page.fill("#notice", "国办发明电〔2026〕测试")
    page.fill("#entries", "2027-01-01 holiday 元旦\n2027-13-01 holiday 不存在的日子\n")
    page.click("main button[type=submit]")
    # The bad line is named and what was typed is still there.
    assert page.locator(".error-summary").is_visible()
    assert "2027-13-01" in page.locator("#entries").input_value()
    shot(page, "calendar-error")
    page.fill(
        "#entries",
        "2027-01-01 holiday 元旦\n2027-02-06..2027-02-12 holiday 春节\n"
        "2027-02-20 workday 春节调休\n",
    )
    page.click("main button[type=submit]")
    page.wait_for_url("**/admin/calendar/2027**")
    assert page.locator("text=春节调休").first.is_visible()
    shot(page, "calendar-2027")
