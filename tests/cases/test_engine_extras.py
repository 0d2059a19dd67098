"""The engine's rules beyond the first slice: per-case limits, handling time and on-time on
closing (with 调休), corrections (纠错), comments, ratings (好差评) and transition hooks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import clocks, hooks, service
from smartcity.cases.hooks import OnTransition, StepTaken
from smartcity.cases.models import Case, CaseEvent, CaseFlag, CaseRating
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import AuditEntry
from smartcity.core.module import Module, ModuleError, install
from tests.cases.factories import APPLICATION, World, open_application, world

CST = timezone(timedelta(hours=8))


def cst(month: int, day: int, hour: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CST)


def end_of(month: int, day: int, year: int = 2026) -> datetime:
    """24:00 CST of the day, in UTC."""
    return (datetime(year, month, day, tzinfo=CST) + timedelta(days=1)).astimezone(UTC)


async def _open(session: AsyncSession, w: World, **limits: int | None) -> Case:
    return await service.open_case(
        session,
        w.applicant_p,
        case_type=APPLICATION.name,
        title="食品经营许可",
        department_code="SCJGJ",
        category="SCJGJ-003",
        **limits,  # type: ignore[arg-type]
    )


async def _to_reviewing(session: AsyncSession, w: World, case: Case) -> Case:
    await service.transition(session, w.colleague_p, case.id, "accept")
    await service.assign(session, w.colleague_p, case.id, w.officer.username)
    return await service.transition(session, w.officer_p, case.id, "review")


async def _deliver(session: AsyncSession, w: World, case: Case) -> Case:
    await _to_reviewing(session, w, case)
    await service.transition(session, w.officer_p, case.id, "approve")
    return await service.transition(session, w.colleague_p, case.id, "deliver")


async def _flags(session: AsyncSession, case_id: uuid.UUID) -> list[str]:
    rows = await session.execute(
        select(CaseFlag.kind).where(CaseFlag.case_id == case_id).order_by(CaseFlag.raised_at)
    )
    return list(rows.scalars())


class TestPerCaseLimits:
    async def test_the_case_limits_replace_the_type_limits(self, session: AsyncSession) -> None:
        w = await world(session)
        # Monday 2026-09-28, before 国庆 (10-01..10-07 off, Saturday 10-10 a 调休 working day)
        with clock.frozen(cst(9, 28)):
            case = await _open(session, w, statutory_days=15, promised_days=3)
        assert (case.statutory_days, case.promised_days, case.category) == (15, 3, "SCJGJ-003")
        # 3 working days: 9-29, 9-30, 10-08
        assert case.promised_due_at == end_of(10, 8)
        # 15: 9-29, 9-30, 10-08, 10-09, 10-10 (调休), 10-12 .. 10-16, 10-19 .. 10-23
        assert case.statutory_due_at == end_of(10, 23)

    async def test_a_statutory_limit_alone_promises_nothing(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(11, 2)):
            case = await _open(session, w, statutory_days=5)
        assert case.promised_days is None
        assert case.promised_due_at is None
        assert case.promised_warn_at is None
        assert case.statutory_due_at == end_of(11, 9)

    async def test_without_limits_the_type_applies(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        assert (case.statutory_days, case.promised_days) == (20, 10)

    @pytest.mark.parametrize(
        ("limits", "field"),
        [
            ({"statutory_days": 5, "promised_days": 6}, "promised_days"),
            ({"statutory_days": 0}, "statutory_days"),
            ({"statutory_days": -3}, "statutory_days"),
            ({"statutory_days": 5, "promised_days": 0}, "promised_days"),
            ({"promised_days": 21}, "promised_days"),  # over the type's statutory 20
        ],
    )
    async def test_bad_limits(
        self, session: AsyncSession, limits: dict[str, int], field: str
    ) -> None:
        w = await world(session)
        with pytest.raises(InvalidInput) as info:
            await _open(session, w, **limits)
        assert info.value.extensions["field"] == field
        assert (await session.execute(select(Case.id))).first() is None

    async def test_category_too_long(self, session: AsyncSession) -> None:
        w = await world(session)
        with pytest.raises(InvalidInput) as info:
            await service.open_case(
                session,
                w.applicant_p,
                case_type=APPLICATION.name,
                title="x",
                department_code="SCJGJ",
                category="C" * 65,
            )
        assert info.value.extensions["field"] == "category"


class TestHandlingTime:
    async def test_on_time_over_national_day_counts_the_make_up_saturday(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        with clock.frozen(cst(9, 28)):
            case = await _open(session, w, statutory_days=15, promised_days=10)
        assert case.handled_workdays is None and case.on_time is None
        # closed Monday 10-12: 9-29, 9-30, 10-08, 10-09, 10-10 (调休), 10-12 = 6 working days
        with clock.frozen(cst(10, 12, 16)):
            case = await service.transition(
                session, w.officer_p, case.id, "not_accept", fields={"reason": "不属本机关职权范围"}
            )
        assert (case.handled_workdays, case.on_time) == (6, True)

    async def test_late_when_closed_after_the_promise(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(9, 28)):
            case = await _open(session, w, statutory_days=15, promised_days=3)
        # the promise ended 24:00 on 10-08; closed on 10-09: 4 working days, late
        with clock.frozen(cst(10, 9, 9)):
            case = await _deliver(session, w, case)
        assert case.state == "delivered"
        assert (case.handled_workdays, case.on_time) == (4, False)

    async def test_closed_at_the_last_minute_is_on_time(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(9, 28)):
            case = await _open(session, w, statutory_days=15, promised_days=3)
        with clock.frozen(end_of(10, 8) - timedelta(minutes=1)):
            case = await _deliver(session, w, case)
        assert (case.handled_workdays, case.on_time) == (3, True)

    async def test_without_a_promise_the_statutory_limit_decides(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        with clock.frozen(cst(11, 2)):
            case = await _open(session, w, statutory_days=2)
        # statutory due 24:00 on Wednesday 11-04; closed Thursday
        with clock.frozen(cst(11, 5)):
            case = await service.transition(
                session, w.officer_p, case.id, "not_accept", fields={"reason": "不属本机关职权"}
            )
        assert (case.handled_workdays, case.on_time) == (3, False)

    async def test_paused_days_are_not_handling_time(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(9, 28)) as advance:
            case = await _open(session, w, statutory_days=15, promised_days=3)
            await _to_reviewing(session, w, case)
            advance(timedelta(days=1))  # Tuesday 9-29
            await service.transition(
                session, w.officer_p, case.id, "request_supplement", fields={"reason": "缺健康证"}
            )
            advance(timedelta(days=13))  # Monday 10-12: 5 working days paused
            await service.transition(session, w.applicant_p, case.id, "supplement")
            advance(timedelta(days=1))  # Tuesday 10-13
            await service.transition(session, w.officer_p, case.id, "approve")
            case = await service.transition(session, w.colleague_p, case.id, "deliver")
        # 9-29 .. 10-13 has 7 working days, 5 of them paused
        assert case.paused_workdays == 5
        # the promise moved by the pause: 3 + 5 working days, ending 10-14
        assert case.promised_due_at == end_of(10, 14)
        assert (case.handled_workdays, case.on_time) == (2, True)

    async def test_closing_the_same_day_takes_zero_days(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(11, 2, 9)) as advance:
            case = await open_application(session, w)
            advance(timedelta(hours=2))
            case = await service.transition(
                session, w.officer_p, case.id, "not_accept", fields={"reason": "非本机关职权"}
            )
        assert (case.handled_workdays, case.on_time) == (0, True)


class TestCorrect:
    async def test_reopening_a_closed_case_flags_it_and_restarts_the_step_clock(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        with clock.frozen(cst(11, 2)):
            case = await _open(session, w, statutory_days=15, promised_days=5)
            case = await _deliver(session, w, case)
        assert case.closed_at is not None and case.on_time is True
        statutory_due = case.statutory_due_at
        with clock.frozen(cst(11, 9)):
            case = await service.correct(
                session, w.officer_p, case.id, "reviewing", "行政复议决定撤销，重新审查"
            )
        assert case.state == "reviewing"
        assert case.closed_at is None
        assert (case.handled_workdays, case.on_time) == (None, None)
        # the limits still count from the opening; the 审查 step clock (5 days) from now
        assert case.statutory_due_at == statutory_due
        assert case.step_due_at == end_of(11, 16)
        assert case.next_due_at == min(d for d in (case.promised_due_at, case.step_due_at) if d)
        assert await _flags(session, case.id) == ["reopened"]
        events = [(e.kind, e.name) for e in await service.timeline(session, w.officer_p, case.id)]
        assert events[-2:] == [("correction", "correct"), ("flag", "reopened")]
        flag = (await session.execute(select(CaseFlag))).scalar_one()
        assert flag.detail == {
            "from_state": "delivered",
            "to_state": "reviewing",
            "reason": "行政复议决定撤销，重新审查",
        }
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
        assert "cases.case.corrected" in actions and "cases.case.flagged" in actions
        # reopened, it is an open case on the queue and the sweep sees its clocks again
        assert [c.id for c in await service.work_queue(session, w.officer_p)] == [case.id]
        case_id = case.id
        assert await clocks.sweep_warnings(session, now=cst(11, 17)) >= 1
        # closing it again sets the handling time anew
        with clock.frozen(cst(11, 10)):
            await service.transition(session, w.officer_p, case_id, "approve")
            case = await service.transition(session, w.colleague_p, case_id, "deliver")
        assert (case.handled_workdays, case.on_time) == (6, False)

    async def test_a_state_no_step_leads_to_is_out_of_order(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        # from 申报 only 受理 and 不予受理 lead on; 审查 skips acceptance
        case = await service.correct(
            session, w.officer_p, case.id, "reviewing", "受理环节漏记，补正流程"
        )
        assert case.state == "reviewing"
        assert await _flags(session, case.id) == ["out_of_order"]

    async def test_a_declared_neighbour_is_not_flagged(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        case = await service.correct(session, w.officer_p, case.id, "accepted", "补录受理")
        assert case.state == "accepted"
        assert await _flags(session, case.id) == []
        kinds = [e.kind for e in await service.timeline(session, w.officer_p, case.id)]
        assert kinds[-1] == "correction"

    async def test_into_and_out_of_a_waiting_state_pauses_and_resumes(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        with clock.frozen(cst(9, 28)):
            case = await open_application(session, w)
            await _to_reviewing(session, w, case)
        with clock.frozen(cst(9, 29)):
            case = await service.correct(
                session, w.officer_p, case.id, "awaiting_supplement", "补正通知漏发"
            )
        assert case.paused_at == cst(9, 29)
        with clock.frozen(cst(10, 12)):
            case = await service.correct(session, w.officer_p, case.id, "reviewing", "误操作恢复")
        assert case.paused_at is None
        assert case.paused_workdays == 5

    @pytest.mark.parametrize(
        ("to_state", "reason", "field"),
        [
            ("teleported", "原因", "to_state"),
            ("submitted", "原因", "to_state"),  # the state it is in
            ("accepted", "   ", "reason"),
            ("accepted", "x" * 501, "reason"),
        ],
    )
    async def test_bad_input(
        self, session: AsyncSession, to_state: str, reason: str, field: str
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(InvalidInput) as info:
            await service.correct(session, w.officer_p, case.id, to_state, reason)
        assert info.value.extensions["field"] == field
        await session.refresh(case)
        assert case.state == "submitted"
        assert await _flags(session, case.id) == []

    async def test_who_may_correct(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(NotFound):  # another department does not even see it
            await service.correct(session, w.outsider_p, case.id, "accepted", "r")
        with pytest.raises(Forbidden):  # the applicant sees it but corrects nothing
            await service.correct(session, w.applicant_p, case.id, "accepted", "r")
        with pytest.raises(Forbidden):  # supervisors flag and review, they do not handle
            await service.correct(session, w.supervisor_p, case.id, "accepted", "r")
        with pytest.raises(NotFound):
            await service.correct(session, w.officer_p, uuid.uuid4(), "accepted", "r")


class TestComment:
    async def test_staff_and_supervisors_comment_on_the_timeline(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        event = await service.comment(session, w.officer_p, case.id, "  已电话联系申请人  ")
        assert (event.kind, event.data) == ("comment", {"text": "已电话联系申请人"})
        await service.comment(session, w.supervisor_p, case.id, "请加快办理")
        comments = [
            e.data["text"]
            for e in await service.timeline(session, w.officer_p, case.id)
            if e.kind == "comment"
        ]
        assert comments == ["已电话联系申请人", "请加快办理"]

    async def test_bad_input_and_outsiders(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        for text in ("", "   ", "意" * 2001):
            with pytest.raises(InvalidInput) as info:
                await service.comment(session, w.officer_p, case.id, text)
            assert info.value.extensions["field"] == "text"
        with pytest.raises(Forbidden):
            await service.comment(session, w.applicant_p, case.id, "催办")
        with pytest.raises(NotFound):
            await service.comment(session, w.outsider_p, case.id, "看看")
        count = (
            await session.execute(select(CaseEvent.seq).where(CaseEvent.kind == "comment"))
        ).all()
        assert count == []


class TestRate:
    async def _closed(self, session: AsyncSession, w: World) -> Case:
        case = await open_application(session, w)
        return await service.transition(
            session, w.officer_p, case.id, "not_accept", fields={"reason": "不属本机关职权范围"}
        )

    async def test_the_applicant_rates_a_closed_case_once(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await self._closed(session, w)
        rating = await service.rate(session, w.applicant_p, case.id, 4, " 窗口服务热情 ")
        assert (rating.score, rating.comment) == (4, "窗口服务热情")
        stored = await session.get(CaseRating, case.id)
        assert stored is not None and stored.score == 4
        events = await service.timeline(session, w.officer_p, case.id)
        assert (events[-1].kind, events[-1].name) == ("rating", "4")
        with pytest.raises(Conflict):
            await service.rate(session, w.applicant_p, case.id, 5)

    @pytest.mark.parametrize("score", [0, 6, -1, True, 4.5, "5"])
    async def test_a_score_is_a_whole_number_from_1_to_5(
        self, session: AsyncSession, score: object
    ) -> None:
        w = await world(session)
        case = await self._closed(session, w)
        with pytest.raises(InvalidInput) as info:
            await service.rate(session, w.applicant_p, case.id, score)  # type: ignore[arg-type]
        assert info.value.extensions["field"] == "score"
        assert await session.get(CaseRating, case.id) is None

    async def test_only_the_applicant_and_only_when_closed(self, session: AsyncSession) -> None:
        w = await world(session)
        open_case = await open_application(session, w)
        with pytest.raises(Conflict):
            await service.rate(session, w.applicant_p, open_case.id, 5)
        case = await self._closed(session, w)
        with pytest.raises(Forbidden):  # staff read it but do not rate it
            await service.rate(session, w.officer_p, case.id, 5)
        with pytest.raises(NotFound):  # another citizen does not see it
            await service.rate(session, w.stranger_p, case.id, 1)
        with pytest.raises(InvalidInput) as info:
            await service.rate(session, w.applicant_p, case.id, 3, "评" * 501)
        assert info.value.extensions["field"] == "comment"


def _install_hooks(*declared: OnTransition) -> None:
    """The platform (with the sample type) plus a module declaring these hooks; the fixtures
    install the platform again after the test."""
    from smartcity.app import modules

    install([*modules(), Module(name="tests.hooks", extends=declared)])


async def _noop(s: AsyncSession, p: Principal, case: Case, step: StepTaken) -> None:
    return None


class TestHookOrder:
    def test_after_and_before_order_the_hooks_else_declared_order(self) -> None:
        ordered = hooks.order_hooks(
            [
                OnTransition("notice", "x.", _noop, after=("licence",)),
                OnTransition("licence", "x.", _noop),
                OnTransition("flag", "x.", _noop),
                OnTransition("audit", "x.", _noop, before=("notice",)),
            ]
        )
        assert [h.name for h in ordered] == ["licence", "flag", "audit", "notice"]

    def test_a_cycle_an_unknown_name_or_a_name_twice_stops_the_start(self) -> None:
        with pytest.raises(ModuleError, match="cycle"):
            hooks.order_hooks(
                [
                    OnTransition("a", "x.", _noop, after=("b",)),
                    OnTransition("b", "x.", _noop, after=("a",)),
                ]
            )
        with pytest.raises(ModuleError, match="unknown hook 'nobody'"):
            hooks.order_hooks([OnTransition("a", "x.", _noop, before=("nobody",))])
        with pytest.raises(ModuleError, match="twice"):
            hooks.order_hooks([OnTransition("a", "x.", _noop), OnTransition("a", "y.", _noop)])

    def test_install_refuses_a_cycle(self) -> None:
        from smartcity.app import modules

        cyclic = Module(
            name="tests.cyclic",
            extends=(
                OnTransition("a", "x.", _noop, after=("b",)),
                OnTransition("b", "x.", _noop, after=("a",)),
            ),
        )
        with pytest.raises(ModuleError, match="cycle"):
            install([*modules(), cyclic])


class TestHooks:
    async def test_hooks_run_in_order_inside_the_step(self, session: AsyncSession) -> None:
        w = await world(session)
        seen: list[tuple[str, str, str, str, dict[str, object]]] = []

        async def first(s: AsyncSession, p: Principal, case: Case, step: StepTaken) -> None:
            seen.append(("first", step.name, step.from_state, case.state, dict(step.fields)))

        async def second(s: AsyncSession, p: Principal, case: Case, step: StepTaken) -> None:
            seen.append(("second", step.name, step.from_state, step.to_state, {"by": p.name}))

        async def elsewhere(s: AsyncSession, p: Principal, case: Case, step: StepTaken) -> None:
            seen.append(("elsewhere", "", "", "", {}))

        _install_hooks(
            OnTransition("tests.second", "test.application", second, after=("tests.first",)),
            OnTransition("tests.first", "test.", first),
            OnTransition("tests.elsewhere", "hotline.", elsewhere),
        )
        case = await open_application(session, w)
        await service.transition(
            session, w.officer_p, case.id, "not_accept", fields={"reason": "不属本机关职权"}
        )
        assert seen == [
            ("first", "not_accept", "submitted", "not_accepted", {"reason": "不属本机关职权"}),
            ("second", "not_accept", "submitted", "not_accepted", {"by": w.officer_p.name}),
        ]

    async def test_a_raising_hook_undoes_the_step(self, session: AsyncSession) -> None:
        w = await world(session)

        async def refuse(s: AsyncSession, p: Principal, case: Case, step: StepTaken) -> None:
            if step.name == "accept":
                raise Conflict("证照库不可用")

        _install_hooks(OnTransition("tests.refuse", "test.", refuse))
        case = await open_application(session, w)
        with pytest.raises(Conflict):
            async with session.begin_nested():
                await service.transition(session, w.colleague_p, case.id, "accept")
        await session.refresh(case)
        assert case.state == "submitted"
        names = [e.name for e in await service.timeline(session, w.officer_p, case.id)]
        assert names == ["open"]
        # a step the hook lets through goes ahead
        case = await service.transition(
            session, w.officer_p, case.id, "not_accept", fields={"reason": "不属本机关职权"}
        )
        assert case.state == "not_accepted"
