"""The 12345 hotline in a browser, in Chinese and in English: a citizen reports a problem on
the web; the 12345 dispatcher sends it to the city management bureau; its officer signs for
it and answers; the citizen finds it unsatisfying (重办), the officer answers again, the
citizen is satisfied and sees it closed in My requests. An agent takes a call at the desk;
an anonymous visitor reports without being asked who they are. Every page is shot at 390 and
1366 px and must not scroll sideways."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as

WIDTHS = (390, 1366)


@pytest.fixture
def actor(browser: Any, live_server: LiveServer, request: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def new_page(locale: str) -> Any:
        context = browser.new_context(
            base_url=live_server.url, locale=locale, viewport={"width": 1366, "height": 900}
        )
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


def look(page: Any, name: str) -> None:
    """Shoot the page at both widths; neither may scroll sideways."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"hotline-{name}-{width}")
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name} scrolls sideways at {width} px ({wide} px wide)"
    page.set_viewport_size({"width": 1366, "height": 900})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_dispatch_handle_rework_rate(actor: Any, live_server: LiveServer, lang: str) -> None:
    locale = "zh-CN" if lang == "zh" else "en-US"
    zh = lang == "zh"
    suffix = uuid.uuid4().hex[:6]

    anonymous = actor(locale)
    anonymous.goto("/hotline/report")
    assert anonymous.locator("#anonymous-note").count() == 1
    assert anonymous.locator("#contact_phone").count() == 0
    look(anonymous, f"report-anonymous-{lang}")
    anonymous.click("button[type=submit].button")
    assert anonymous.locator(".error-summary").count() == 1  # nothing filled in
    look(anonymous, f"report-errors-{lang}")

    citizen = actor(locale)
    sign_in_as(citizen, live_server, f"hl.citizen.{lang}.{suffix}", "citizen")
    citizen.goto("/hotline/report")
    citizen.check("input[name=kind][value=complaint]")
    citizen.select_option("#category", "01.01.01")
    citizen.fill("#text", "东门中路人行道每晚都有流动摊贩占道经营，行人只能走机动车道。")
    citizen.fill("#address", "罗湖区东门中路1号")
    citizen.click("button[type=submit].button")
    citizen.wait_for_url("**/hotline/orders/**")
    assert citizen.locator("#received").count() == 1
    order_url = citizen.url.split("?")[0]
    look(citizen, f"order-received-{lang}")

    dispatcher = actor(locale)
    sign_in_as(
        dispatcher, live_server, f"hl.agent.{lang}.{suffix}", "staff", department_code="ZWSJJ"
    )
    dispatcher.goto("/hotline/queue")
    path = order_url[len(live_server.url) :]
    card = dispatcher.locator(f"li.hl-card:has(a[href='{path}'])")
    look(dispatcher, f"queue-{lang}")
    # The category's default department (城市管理和综合执法局) is chosen already.
    card.locator("button[type=submit]").click()
    dispatcher.wait_for_url("**/hotline/orders/**")
    assert dispatcher.locator("#done").count() == 1

    officer = actor(locale)
    sign_in_as(officer, live_server, f"hl.officer.{lang}.{suffix}", "staff", department_code="CGJ")
    officer.goto("/hotline/desk")
    look(officer, f"desk-{lang}")
    officer.goto(order_url)
    officer.click("form[action$='/sign'] button")
    officer.wait_for_url("**done=sign")
    officer.fill("#reply", "已联合东门街道执法队清理占道摊贩。")
    officer.click("form[action$='/reply'] button")
    officer.wait_for_url("**done=reply")
    look(officer, f"order-officer-{lang}")

    citizen.goto(order_url)
    look(citizen, f"order-to-rate-{lang}")
    citizen.check("input[name=rating][value=dissatisfied]")
    citizen.fill("#comment", "晚上十点后摊贩又回来了。")
    citizen.click("form[action$='/visit'] button")
    citizen.wait_for_url("**done=visit")
    assert ("重办中" if zh else "Being handled again") in citizen.inner_text(".case-status")

    officer.goto(order_url)
    officer.fill("#reply", "已安排夜间巡查，每晚22点至24点定点值守。")
    officer.click("form[action$='/reply'] button")
    officer.wait_for_url("**done=reply")

    citizen.goto(order_url)
    citizen.check("input[name=rating][value=satisfied]")
    citizen.click("form[action$='/visit'] button")
    citizen.wait_for_url("**done=visit")
    assert ("办结" if zh else "Closed") in citizen.inner_text(".case-status")
    look(citizen, f"order-closed-{lang}")
    citizen.goto("/my/requests")
    assert citizen.locator(f"a[href='{order_url[len(live_server.url) :]}']").count() == 1
    look(citizen, f"my-requests-{lang}")

    dispatcher.goto("/hotline/intake")
    assert dispatcher.evaluate("document.activeElement.id") == "contact_phone"
    dispatcher.fill("#contact_phone", "13700000000")
    dispatcher.click("button[value=lookup]")
    assert dispatcher.locator("#caller-not-found").count() == 1
    dispatcher.check("input[name=kind][value=consultation]")
    dispatcher.select_option("#category", "09.01.01")
    dispatcher.fill("#text", "请问在哪里办理居住证？")
    dispatcher.fill("#answer", "携带身份证和居住证明到所在街道的行政服务大厅办理。")
    look(dispatcher, f"intake-{lang}")
    dispatcher.click("button.button[accesskey=s]")
    dispatcher.wait_for_url("**/hotline/orders/**")
    assert ("办结" if zh else "Closed") in dispatcher.inner_text(".case-status")
