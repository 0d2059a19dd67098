"""The work order's lifecycle through the service functions, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.models import Case
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import Notification
from smartcity.hotline import service
from smartcity.hotline.models import OrderVisit
from smartcity.hotline.types import ORDER_TYPE
from smartcity.registry.models import AccessLog
from tests.cases.factories import department
from tests.hotline.factories import CENTRE, HANDLER, OTHER, PHONE, call, dispatched, people, report

Advance = Callable[[timedelta], datetime]


async def _case(session: AsyncSession, order_id: object) -> Case:
    order = await session.get(service.WorkOrder, order_id)
    assert order is not None
    found = await session.get(Case, order.case_id)
    assert found is not None
    return found


class TestLifecycle:
    async def test_report_dispatch_sign_reply_visit_close(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await dispatched(session, who)
        case_ = await _case(session, order.id)
        assert (order.state, order.department_code) == ("dispatched", HANDLER)
        assert case_.department_id == who.officer.department_id
        assert case_.statutory_days == 13  # a complaint's limit
        await service.sign(session, who.officer, order.id)
        await service.reply(
            session, who.officer, order.id, "已联合街道执法队清理，并安排每晚巡查。"
        )
        assert (order.state, order.department_code) == ("replied", CENTRE)
        await service.visit(session, who.citizen, order.id, "satisfied", "处理及时")
        assert order.state == "closed" and order.closed_at is not None
        assert order.rating == "satisfied"
        notes = (
            (
                await session.execute(
                    select(Notification.topic)
                    .where(Notification.account_id == who.citizen_account.id)
                    .order_by(Notification.created_at, Notification.topic)
                )
            )
            .scalars()
            .all()
        )
        assert sorted(notes) == sorted(
            [
                "hotline.order.received",
                "hotline.order.dispatch",
                "hotline.order.sign",
                "hotline.order.reply",
                "hotline.order.visit_online",
            ]
        )

    async def test_dissatisfied_twice_reworked_then_escalated(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await dispatched(session, who)
        await service.sign(session, who.officer, order.id)
        for round_ in (1, 2):
            await service.reply(session, who.officer, order.id, f"第{round_}次答复")
            advance(timedelta(days=1))
            await service.visit(session, who.agent, order.id, "dissatisfied", "摊贩仍在")
            assert (order.state, order.reworks) == ("reworking", round_)
            assert order.department_code == HANDLER
            deadline = await service.deadline_of(session, order)
            # The re-handling's own clock: five working days from today.
            assert (deadline.clock, deadline.remaining) == ("step", 5)
        await service.reply(session, who.officer, order.id, "第3次答复")
        await service.visit(session, who.citizen, order.id, "dissatisfied")
        assert (order.state, order.reworks) == ("escalated", 2)
        with pytest.raises(NotFound):  # the department no longer holds it
            await service.reply(session, who.other_officer, order.id, "x")
        with pytest.raises(Forbidden):
            await service.close_escalated(session, who.agent, order.id, "督办意见")
        await service.close_escalated(session, who.supervisor, order.id, "责成城管局限期整改")
        assert order.state == "closed"
        # The engine's timeline names the rating and its value in the reader's words.
        from smartcity.cases.types import get_case_type
        from smartcity.cases.views import timeline_lines
        from smartcity.core import i18n

        events = await service.timeline_of(session, order)
        token = i18n.current_locale.set("zh_CN")
        try:
            lines = timeline_lines(list(events), get_case_type(ORDER_TYPE), {}, {})  # type: ignore[arg-type]
        finally:
            i18n.current_locale.reset(token)
        details = {pair for line in lines for pair in line.details}
        assert ("评价", "不满意") in details and ("来电人意见", "摊贩仍在") in details
        assert not any("dissatisfied" in value or label == "rating" for label, value in details)
        visits = (
            await session.execute(
                select(func.count()).select_from(OrderVisit).where(OrderVisit.order_id == order.id)
            )
        ).scalar_one()
        assert visits == 3

    async def test_return_within_two_working_days_goes_back_to_the_dispatcher(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await dispatched(session, who)
        advance(timedelta(days=2))  # Wednesday: the second working day after dispatch
        await service.return_order(session, who.officer, order.id, "属市场监管职责")
        assert (order.state, order.department_code) == ("returned", CENTRE)
        await department(session, OTHER)
        await service.dispatch(session, who.agent, order.id, OTHER)
        assert (order.state, order.department_code) == ("dispatched", OTHER)

    async def test_return_after_two_working_days_is_refused(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await dispatched(session, who)
        advance(timedelta(days=3))  # Thursday: three working days on
        with pytest.raises(Conflict) as refused:
            await service.return_order(session, who.officer, order.id, "非本单位职责")
        assert refused.value.type == "/problems/return-too-late"
        assert order.state == "dispatched"

    async def test_transfer_to_another_department(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await dispatched(session, who)
        await department(session, OTHER)
        await service.transfer_order(session, who.officer, order.id, OTHER, "涉及食品经营")
        assert (order.state, order.department_code) == ("dispatched", OTHER)
        await service.sign(session, who.other_officer, order.id)
        assert order.state == "handling"

    async def test_consultation_answered_at_intake(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await service.create_order(
            session,
            who.agent,
            call(
                kind="consultation",
                category="09.01.01",
                answer="携带身份证到任一行政服务大厅办理。",
            ),
            channel="phone",
        )
        assert order.state == "closed"
        assert (await _case(session, order.id)).statutory_days == 3


class TestIntake:
    async def test_anonymous_report_asks_for_no_one(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        await department(session, CENTRE)
        order = await service.create_order(session, None, report(), channel="web")
        assert order.anonymous and order.caller_account_id is None and order.caller_name == ""
        assert order.state == "accepted" and order.department_code == CENTRE

    async def test_agent_finds_the_caller_by_phone_and_logs_the_read(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await service.create_order(
            session, who.agent, call(contact_phone=PHONE), channel="phone"
        )
        assert order.caller_person_id == who.citizen_person.id
        assert order.caller_account_id == who.citizen_account.id
        purposes = (
            await session.execute(
                select(AccessLog.purpose, AccessLog.case_number).where(
                    AccessLog.person_id == who.citizen_person.id
                )
            )
        ).all()
        assert (f"12345热线工单 {order.number}", order.number) in purposes

    async def test_handling_department_sees_the_caller_masked(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await dispatched(session, who, contact_phone=PHONE)
        assert not await service.sees_caller(session, who.officer, order)
        assert await service.sees_caller(session, who.agent, order)
        assert service.mask_phone(PHONE) == "138****8000"

    async def test_unknown_category(self, session: AsyncSession, advance: Advance) -> None:
        await department(session, CENTRE)
        with pytest.raises(InvalidInput) as refused:
            await service.create_order(session, None, report(category="01.01.99"), channel="web")
        assert refused.value.type == "/problems/unknown-category"

    @pytest.mark.parametrize(
        "bad",
        [
            {"text": ""},
            {"text": "长" * 2001},
            {"place": {"address": "香港", "lon": 114.17, "lat": 22.30}},
            {"place": {"lon": 116.4, "lat": 39.9}},
            {"kind": "gossip"},
        ],
    )
    def test_bad_input_is_refused_by_the_schema(self, bad: dict[str, object]) -> None:
        with pytest.raises(ValidationError):
            report(**bad)

    async def test_only_the_centre_takes_calls(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        with pytest.raises(Forbidden):
            await service.create_order(session, who.officer, call(), channel="phone")


class TestWho:
    async def test_wrong_department_cannot_act(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await dispatched(session, who)
        with pytest.raises(NotFound):
            await service.sign(session, who.other_officer, order.id)

    async def test_a_citizen_cannot_rate_someone_elses_order(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await service.create_order(session, None, report(), channel="web")
        with pytest.raises(NotFound):
            await service.visit(session, who.citizen, order.id, "satisfied")

    async def test_list_limit_out_of_range(self, session: AsyncSession, advance: Advance) -> None:
        who = await people(session)
        with pytest.raises(InvalidInput):
            await service.list_orders(session, who.agent, limit=201)

    async def test_lists_by_who_reads(self, session: AsyncSession, advance: Advance) -> None:
        who = await people(session)
        mine = await dispatched(session, who)
        await service.create_order(session, None, report(), channel="web")
        assert (await service.list_orders(session, who.agent))[1] == 2
        officer_rows, _n = await service.list_orders(session, who.officer)
        assert [o.id for o in officer_rows] == [mine.id]
        assert (await service.list_orders(session, who.other_officer))[1] == 0
        assert [o.id for o in (await service.list_orders(session, who.citizen))[0]] == [mine.id]


class TestEngineSteps:
    async def test_the_engine_alone_cannot_move_an_order(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        from smartcity.cases import contract as cases

        who = await people(session)
        order = await dispatched(session, who)
        with pytest.raises(Forbidden) as refused:
            async with session.begin_nested():  # the request's unit of work, rolled back
                await cases.transition(session, who.officer, order.case_id, "sign")
        assert refused.value.type == "/problems/hotline-steps-only"
        case_ = await _case(session, order.id)
        await session.refresh(case_)
        assert case_.state == "dispatched"


class TestLimitsFromSettings:
    async def test_a_kinds_limit_comes_from_the_settings(
        self, session: AsyncSession, advance: Advance, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from smartcity.settings import get_settings

        await department(session, CENTRE)
        monkeypatch.setattr(get_settings(), "hotline_complaint_days", 7)
        order = await service.create_order(session, None, report(), channel="web")
        assert order.limit_days == 7
        assert (await _case(session, order.id)).statutory_days == 7
        assert (await service.deadline_of(session, order)).remaining == 7

    @pytest.mark.parametrize("days", [0, 61])
    def test_a_limit_out_of_range_is_refused(self, days: int) -> None:
        from smartcity.settings import Settings

        with pytest.raises(ValidationError):
            Settings(hotline_complaint_days=days)
