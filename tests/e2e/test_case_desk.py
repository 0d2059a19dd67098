"""In a real browser: an officer's case desk (办件工作台). The queue puts the overdue first; the
case page shows the clocks, the supervision flags and a timeline of many kinds; a step is
refused without its reason and then taken, without JavaScript."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from smartcity.core import clock
from tests.e2e.conftest import LiveServer, shot, sign_in_as

DEPARTMENT = "SCJGJ"


def _working_days_ago(calendar: Any, n: int, hour: int, minute: int = 0) -> datetime:
    """A moment ``n`` working days before today (Beijing time), at the given hour."""
    day = clock.to_city(clock.now()).date()
    while n > 0:
        day -= timedelta(days=1)
        n -= calendar.is_workday(day)
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    moment = datetime.combine(day, time(hour, minute), tzinfo=clock.CITY_TZ)
    # Early in the morning "today at 9:30" has not come yet.
    return min(moment, clock.now() - timedelta(minutes=1))


def make_desk(server: LiveServer, officer: str) -> dict[str, str]:
    """A department's open cases of several ages and states; the first, 老街面馆's food
    licence, carries a refusal without reason reopened by a correction, a 补正 round, an
    attachment, a comment and a warning. Returns case ids by short name."""

    async def create(session: Any) -> dict[str, str]:
        from sqlalchemy import select

        from smartcity.cases import clocks, service
        from smartcity.cli import cli_principal
        from smartcity.core import accounts
        from smartcity.core.models import Account
        from smartcity.core.schemas import AccountCreate
        from smartcity.core.security import principal_of
        from smartcity.core.workdays import load_calendar
        from smartcity.services.types import BASE_NAME

        async def account(username: str, name: str, kind: str, **extra: Any) -> Any:
            found, _ = await accounts.create_account(
                session,
                cli_principal(),
                AccountCreate(username=username, display_name=name, kind=kind, **extra),
            )
            return found

        me = (
            await session.execute(select(Account).where(Account.username == officer))
        ).scalar_one()
        colleague = await account(
            f"{officer}.colleague", "陈静", "staff", department_code=DEPARTMENT
        )
        people = {
            name: await account(f"{officer}.{i}", name, kind)
            for i, (name, kind) in enumerate(
                (
                    ("深圳市老街餐饮管理有限公司", "enterprise"),
                    ("王芳", "citizen"),
                    ("成都人家川味小馆", "enterprise"),
                    ("深圳康宁大药房有限公司", "enterprise"),
                    ("深圳湾海景酒店有限公司", "enterprise"),
                    ("安康医疗器械有限公司", "enterprise"),
                )
            )
        }
        me_p, colleague_p = principal_of(me, "session"), principal_of(colleague, "session")
        calendar = await load_calendar(session)
        ids: dict[str, str] = {}

        async def open_at(
            key: str, title: str, who: str, days_ago: int, promised: int = 10, **kw: Any
        ) -> Any:
            with clock.frozen(_working_days_ago(calendar, days_ago, 9, 30)):
                case = await service.open_case(
                    session,
                    principal_of(people[who], "session"),
                    case_type=BASE_NAME,
                    title=title,
                    department_code=DEPARTMENT,
                    statutory_days=20,
                    promised_days=promised,
                    **kw,
                )
            ids[key] = str(case.id)
            return case

        async def at(days_ago: int, hour: int, minute: int, action: Any) -> Any:
            with clock.frozen(_working_days_ago(calendar, days_ago, hour, minute)):
                return await action

        # The case the screenshot shows.
        shop = await open_at(
            "shop", "食品经营许可（老街面馆）", "深圳市老街餐饮管理有限公司", 10, 8
        )
        applicant = principal_of(people["深圳市老街餐饮管理有限公司"], "session")
        await at(
            10,
            15,
            40,
            service.transition(
                session,
                colleague_p,
                shop.id,
                "not_accept",
                fields={"reason": "材料不全", "opinion": "经审查，同意。"},
            ),
        )
        await at(
            9,
            10,
            5,
            service.correct(
                session,
                me_p,
                shop.id,
                "accepted",
                "申请人提出异议，经复核材料齐全，撤销不予受理决定，重新受理。",
            ),
        )
        await at(9, 10, 10, service.assign(session, me_p, shop.id, officer))
        await at(8, 9, 20, service.transition(session, me_p, shop.id, "review"))
        await at(
            7,
            16,
            0,
            service.transition(
                session,
                me_p,
                shop.id,
                "request_supplement",
                fields={"missing": "1. 食品安全管理制度文本\n2. 从业人员健康证明（3 人）"},
            ),
        )
        await at(
            4,
            11,
            2,
            service.record_attachment(
                session,
                applicant,
                shop,
                name="supplement",
                filename="食品安全管理制度.pdf",
                sha256="a" * 64,
                size=412_000,
            ),
        )
        await at(4, 11, 5, service.transition(session, applicant, shop.id, "supplement"))
        await at(
            2,
            14,
            30,
            service.comment(session, me_p, shop.id, "健康证明已与卫健系统核验一致，待现场核查。"),
        )
        # The queue around it.
        await open_at("late", "个体工商户设立登记", "王芳", 7)
        await open_at("soon", "食品经营许可（川味小馆）", "成都人家川味小馆", 5)
        pharmacy = await open_at("pharmacy", "药品零售企业许可", "深圳康宁大药房有限公司", 3)
        await at(3, 14, 0, service.transition(session, me_p, pharmacy.id, "accept"))
        await at(3, 14, 1, service.assign(session, me_p, pharmacy.id, officer))
        await at(2, 9, 0, service.transition(session, me_p, pharmacy.id, "review"))
        hotel = await open_at("hotel", "特种设备使用登记（电梯 6 台）", "深圳湾海景酒店有限公司", 5)
        await at(5, 11, 0, service.transition(session, me_p, hotel.id, "accept"))
        await at(5, 11, 1, service.assign(session, me_p, hotel.id, officer))
        await at(4, 10, 0, service.transition(session, me_p, hotel.id, "review"))
        await at(
            3,
            15,
            0,
            service.transition(
                session,
                me_p,
                hotel.id,
                "request_supplement",
                fields={"missing": "电梯定期检验报告"},
            ),
        )
        device = await open_at("device", "第二类医疗器械经营备案", "安康医疗器械有限公司", 12)
        await at(12, 15, 0, service.transition(session, colleague_p, device.id, "accept"))
        await at(12, 15, 1, service.assign(session, colleague_p, device.id, colleague.username))
        await at(11, 9, 0, service.transition(session, colleague_p, device.id, "review"))
        await open_at("fresh", "食品经营许可变更（老街面馆）", "深圳市老街餐饮管理有限公司", 0)
        await clocks.sweep_warnings(session)
        return ids

    result: dict[str, str] = server.run(create)
    return result


def test_officer_works_the_queue_and_a_case(page: Any, live_server: LiveServer) -> None:
    sign_in_as(
        page, live_server, "desk.e2e.li", "staff", department_code=DEPARTMENT, display_name="李明"
    )
    ids = make_desk(live_server, "desk.e2e.li")

    page.goto("/cases")
    assert (
        page.locator(".desk-tabs a[aria-current]")
        .inner_text()
        .startswith(page.locator(".desk-tabs a").first.inner_text())
    )
    shot(page, "case-desk-queue-mine")
    page.goto("/cases?tab=department")
    rows = page.locator("table.desk-queue tbody tr")
    # Red first: the application waiting seven working days for acceptance (5 allowed), and
    # the colleague's device filing past its promise.
    assert "is-red" in (rows.nth(0).get_attribute("class") or "")
    assert "is-red" in (rows.nth(1).get_attribute("class") or "")
    assert page.locator(".chip.paused").count() >= 1
    shot(page, "case-desk-queue")

    page.goto(f"/cases/{ids['shop']}")
    assert page.locator("#flags li.open").count() == 2
    assert page.locator(".case-timeline .ev").count() >= 10
    shot(page, "case-desk-case")

    # Refusing without a reason comes back with the field marked; nothing changed.
    page.goto(f"/cases/{ids['soon']}")
    page.locator("details.action summary", has_text="不予受理").click()
    page.click("#step-not_accept button[type=submit]")
    assert page.locator("#step-not_accept-reason-error").is_visible()
    assert page.locator(".error-summary").is_visible()
    shot(page, "case-desk-refused")
    page.click("#step-accept button[type=submit]")
    assert page.locator(".notice.ok").is_visible()
    assert page.locator(".case-status .state").inner_text() == "受理"
    page.select_option("#assign-officer", "desk.e2e.li")
    page.click("#assign button[type=submit]")
    assert page.locator(".notice.ok").is_visible()
    assert page.locator("#step-review").count() == 1
