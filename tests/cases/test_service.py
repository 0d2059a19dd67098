"""The case engine's services: opening, reading, transitions with pause/resume, assignment,
transfer, the work queue and the timeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service
from smartcity.cases.models import Case
from smartcity.cases.service import opening
from smartcity.core import clock
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import AuditEntry, OutboxEvent
from tests.cases.factories import APPLICATION, World, open_application, world

CST = timezone(timedelta(hours=8))


def cst(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CST)


def end_of(year: int, month: int, day: int) -> datetime:
    """24:00 CST of the day, in UTC."""
    return (datetime(year, month, day, tzinfo=CST) + timedelta(days=1)).astimezone(UTC)


async def _accepted_and_assigned(session: AsyncSession, w: World, case: Case) -> Case:
    await service.transition(session, w.colleague_p, case.id, "accept")
    await service.assign(session, w.colleague_p, case.id, w.officer.username)
    return await service.transition(session, w.officer_p, case.id, "review")


class TestOpenCase:
    async def test_opens_with_number_clocks_and_event(self, session: AsyncSession) -> None:
        w = await world(session)
        # Monday before 国庆 2026: 10-01..10-07 off, 10-10 (Saturday) is a 调休 working day.
        with clock.frozen(cst(2026, 9, 28, 10)):
            case = await open_application(session, w)
        assert case.number == "SQ-20260928-000001"
        assert case.state == "submitted"
        assert case.applicant_account_id == w.applicant.id
        # 10 working days: 9-29, 9-30, 10-08, 10-09, 10-10 (调休), 10-12 .. 10-16
        assert case.promised_due_at == end_of(2026, 10, 16)
        assert case.statutory_due_at == end_of(2026, 10, 30)
        # yellow at 8 of 10 working days: 10-14
        assert case.promised_warn_at == end_of(2026, 10, 14)
        # step limit of 受理 is 2 working days
        assert case.step_due_at == end_of(2026, 9, 30)
        assert case.next_due_at == case.step_due_at
        assert case.provisional is False
        topics = (await session.execute(select(OutboxEvent.topic))).scalars().all()
        assert "cases.case.opened" in topics
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
        assert "cases.case.opened" in actions

    async def test_numbers_count_up_per_day(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(2026, 9, 28, 10)):
            await open_application(session, w)
            second = await open_application(session, w)
        assert second.number == "SQ-20260928-000002"

    async def test_a_number_taken_meanwhile_is_skipped(
        self, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two openings that read the same highest number: the second is refused by the
        unique index inside a savepoint and takes the next number; nothing else is lost."""
        w = await world(session)
        with clock.frozen(cst(2026, 9, 28, 10)):
            first = await open_application(session, w)
            real = opening._next_number
            stale = iter([first.number])  # what a concurrent request would have read

            async def racing(*args: object) -> str:
                return next(stale, None) or await real(*args)  # type: ignore[arg-type]

            monkeypatch.setattr(opening, "_next_number", racing)
            second = await open_application(session, w)
        assert second.number == "SQ-20260928-000002"
        numbers = (await session.execute(select(Case.number).order_by(Case.number))).scalars()
        assert list(numbers) == ["SQ-20260928-000001", "SQ-20260928-000002"]

    async def test_no_free_number_is_a_conflict(
        self, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        w = await world(session)
        with clock.frozen(cst(2026, 9, 28, 10)):
            first = await open_application(session, w)

            async def always_taken(*args: object) -> str:
                return first.number

            monkeypatch.setattr(opening, "_next_number", always_taken)
            with pytest.raises(Conflict):
                await open_application(session, w)
        assert (await session.scalar(select(func.count()).select_from(Case))) == 1

    async def test_deadline_in_an_unannounced_year_is_provisional(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        with clock.frozen(cst(2035, 12, 20, 10)):
            case = await open_application(session, w)
        assert case.provisional is True

    async def test_bad_input(self, session: AsyncSession) -> None:
        w = await world(session)
        with pytest.raises(InvalidInput) as info:
            await service.open_case(
                session,
                w.applicant_p,
                case_type=APPLICATION.name,
                title="x",
                department_code="NONE",
            )
        assert info.value.extensions["field"] == "department"
        with pytest.raises(InvalidInput) as info:
            await service.open_case(
                session, w.applicant_p, case_type="no.such", title="x", department_code="SCJGJ"
            )
        assert info.value.extensions["field"] == "case_type"
        with pytest.raises(InvalidInput) as info:
            await service.open_case(
                session,
                w.applicant_p,
                case_type=APPLICATION.name,
                title=" ",
                department_code="SCJGJ",
            )
        assert info.value.extensions["field"] == "title"

    async def test_citizen_applies_only_for_themselves(self, session: AsyncSession) -> None:
        w = await world(session)
        with pytest.raises(Forbidden):
            await service.open_case(
                session,
                w.stranger_p,
                case_type=APPLICATION.name,
                title="x",
                department_code="SCJGJ",
                applicant=w.applicant.id,
            )


class TestReadableCases:
    async def test_who_sees_what(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        for seer in (w.applicant_p, w.officer_p, w.supervisor_p):
            assert (await service.get_case(session, seer, case.id)).id == case.id
        for blind in (w.stranger_p, w.outsider_p):
            with pytest.raises(NotFound):
                await service.get_case(session, blind, case.id)
        with pytest.raises(NotFound):
            await service.get_case(session, w.officer_p, uuid.uuid4())


class TestTransition:
    async def test_full_path_to_delivery_closes_the_case(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        await _accepted_and_assigned(session, w, case)
        await service.transition(session, w.officer_p, case.id, "approve")
        case = await service.transition(session, w.colleague_p, case.id, "deliver")
        assert case.state == "delivered"
        assert case.closed_at is not None
        events = await service.timeline(session, w.applicant_p, case.id)
        names = [e.name for e in events]
        # The colleague who accepted took the case on; then it was assigned to the officer.
        assert names == [
            "open",
            "assigned",
            "accept",
            "reassigned",
            "review",
            "approve",
            "deliver",
        ]

    async def test_not_allowed_from_this_state_is_a_conflict(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(Conflict):
            await service.transition(session, w.officer_p, case.id, "approve")

    async def test_unknown_step(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(NotFound):
            await service.transition(session, w.officer_p, case.id, "teleport")

    async def test_wrong_department_cannot_even_see_it(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(NotFound):
            await service.transition(session, w.outsider_p, case.id, "accept")

    async def test_who_may_take_each_step(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(Forbidden):  # the applicant cannot accept their own application
            await service.transition(session, w.applicant_p, case.id, "accept")
        with pytest.raises(Forbidden):  # a supervisor sees it but does not handle it
            await service.transition(session, w.supervisor_p, case.id, "accept")
        await service.transition(session, w.colleague_p, case.id, "accept")
        await service.assign(session, w.colleague_p, case.id, w.officer.username)
        with pytest.raises(Forbidden):  # review is the assignee's step only
            await service.transition(session, w.colleague_p, case.id, "review")

    async def test_refusal_needs_a_reason(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(InvalidInput) as info:
            await service.transition(session, w.officer_p, case.id, "not_accept", fields={})
        assert info.value.extensions["field"] == "reason"
        assert "reason" in info.value.detail
        with pytest.raises(InvalidInput):
            await service.transition(
                session, w.officer_p, case.id, "not_accept", fields={"reason": "  "}
            )
        case = await service.transition(
            session, w.officer_p, case.id, "not_accept", fields={"reason": "不属于本机关职权范围"}
        )
        assert case.state == "not_accepted"
        assert case.closed_at is not None

    async def test_supplement_pauses_the_clock_over_national_day(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        with clock.frozen(cst(2026, 9, 28, 10)) as advance:
            case = await open_application(session, w)
            await _accepted_and_assigned(session, w, case)
            advance(timedelta(days=1))  # 2026-09-29 10:00, Tuesday
            case = await service.transition(
                session, w.officer_p, case.id, "request_supplement", fields={"reason": "缺健康证"}
            )
            assert case.paused_at == clock.now()
            assert case.state == "awaiting_supplement"
            assert case.step_due_at is None  # no step clock while waiting for the applicant
            # resumed on Monday 2026-10-12: paused working days 9-30, 10-08, 10-09,
            # 10-10 (调休) and 10-12 = 5; the holidays 10-01..10-07 and Sunday 10-11 do not count
            advance(timedelta(days=13))
            case = await service.transition(session, w.applicant_p, case.id, "supplement")
        assert case.paused_at is None
        assert case.paused_workdays == 5
        assert case.state == "reviewing"
        # promised 10-16 + 5 working days (10-19 .. 10-23); statutory 10-30 + 5 -> 11-06
        assert case.promised_due_at == end_of(2026, 10, 23)
        assert case.statutory_due_at == end_of(2026, 11, 6)
        # the 审查 step clock restarts at the resume: 5 working days from 10-12
        assert case.step_due_at == end_of(2026, 10, 19)
        kinds = [(e.kind, e.name) for e in await service.timeline(session, w.officer_p, case.id)]
        assert ("clock", "paused") in kinds
        assert ("clock", "resumed") in kinds

    async def test_pause_and_resume_the_same_day_moves_nothing(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(2026, 11, 2, 9)) as advance:
            case = await open_application(session, w)
            await _accepted_and_assigned(session, w, case)
            due = case.promised_due_at
            await service.transition(
                session, w.officer_p, case.id, "request_supplement", fields={"reason": "缺件"}
            )
            advance(timedelta(hours=3))
            case = await service.transition(session, w.applicant_p, case.id, "supplement")
        assert case.paused_workdays == 0
        assert case.promised_due_at == due


class TestAssign:
    async def test_assign_and_reassign(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        case = await service.assign(session, w.colleague_p, case.id, w.officer.username)
        assert case.assignee_account_id == w.officer.id
        events = await service.timeline(session, w.officer_p, case.id)
        assert events[-1].kind == "assignment"

    async def test_officer_must_be_of_the_case_department(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(InvalidInput) as info:
            await service.assign(session, w.colleague_p, case.id, w.outsider.username)
        assert info.value.extensions["field"] == "officer"
        with pytest.raises(InvalidInput):
            await service.assign(session, w.colleague_p, case.id, "nobody-at-all")

    async def test_only_department_staff_assign(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(Forbidden):
            await service.assign(session, w.applicant_p, case.id, w.officer.username)
        with pytest.raises(Forbidden):
            await service.assign(session, w.supervisor_p, case.id, w.officer.username)


class TestTransfer:
    async def test_transfer_moves_the_case_and_clears_the_assignee(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        await service.assign(session, w.colleague_p, case.id, w.officer.username)
        case = await service.transfer(session, w.officer_p, case.id, "GAJ", "属公安局职权")
        assert case.assignee_account_id is None
        assert (await service.get_case(session, w.outsider_p, case.id)).id == case.id
        with pytest.raises(NotFound):
            await service.get_case(session, w.officer_p, case.id)
        event = (await service.timeline(session, w.outsider_p, case.id))[-1]
        assert event.kind == "transfer"
        assert event.data == {"from": "SCJGJ", "to": "GAJ", "reason": "属公安局职权"}

    async def test_bad_input(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        with pytest.raises(InvalidInput) as info:
            await service.transfer(session, w.officer_p, case.id, "GAJ", " ")
        assert info.value.extensions["field"] == "reason"
        with pytest.raises(InvalidInput) as info:
            await service.transfer(session, w.officer_p, case.id, "NOPE", "r")
        assert info.value.extensions["field"] == "department"
        with pytest.raises(InvalidInput):
            await service.transfer(session, w.officer_p, case.id, "SCJGJ", "r")


class TestWorkQueue:
    async def test_red_first_then_nearest_due(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(2026, 11, 2, 9)) as advance:
            later = await open_application(session, w, "later")
            advance(timedelta(days=1))
            sooner = await open_application(session, w, "sooner")
        # an older case's clock would run first, unless another is red
        queue = await service.work_queue(session, w.officer_p)
        assert [c.title for c in queue] == ["later", "sooner"]
        sooner.statutory_warning = "red"
        await session.flush()
        queue = await service.work_queue(session, w.officer_p)
        assert [c.title for c in queue] == ["sooner", "later"]
        assert [c.title for c in await service.work_queue(session, w.officer_p, warning="red")] == [
            "sooner"
        ]
        assert await service.work_queue(session, w.outsider_p) == []
        assert len(await service.work_queue(session, w.supervisor_p, department="SCJGJ")) == 2
        assert later.id != sooner.id

    async def test_bad_filter(self, session: AsyncSession) -> None:
        w = await world(session)
        with pytest.raises(InvalidInput):
            await service.work_queue(session, w.officer_p, warning="purple")
        with pytest.raises(InvalidInput):
            await service.work_queue(session, w.officer_p, department="NOPE")
