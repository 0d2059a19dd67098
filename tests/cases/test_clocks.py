"""The warning sweep (黄牌/红牌预警) with a frozen clock, and provisional deadlines recomputed
when a year's notice is entered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import MODULE, clocks, service
from smartcity.cases.models import Case, CaseEvent
from smartcity.core import clock, workdays
from smartcity.core.models import OutboxEvent
from tests.cases.factories import open_application, world
from tests.core.factories import ROOT

CST = timezone(timedelta(hours=8))


def cst(month: int, day: int, hour: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CST)


async def _warnings(session: AsyncSession, case_id: object) -> list[str]:
    rows = await session.execute(
        select(CaseEvent.name)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind == "warning")
        .order_by(CaseEvent.seq)
    )
    return list(rows.scalars())


async def _levels(session: AsyncSession, case: Case) -> tuple[str, str, str]:
    await session.refresh(case)
    return case.statutory_warning, case.promised_warning, case.step_warning


class TestSweepWarnings:
    async def test_yellow_then_red_per_clock(self, session: AsyncSession) -> None:
        w = await world(session)
        # Monday 2026-11-02: the 受理 step has 2 working days (yellow after the first, 11-03,
        # red after 11-04); the promise of 10 ends 11-16 (yellow after 8: 11-12).
        with clock.frozen(cst(11, 2, 9)):
            case = await open_application(session, w)
        assert await clocks.sweep_warnings(session, now=cst(11, 3, 23)) == 0
        assert await clocks.sweep_warnings(session, now=cst(11, 4, 0)) == 1
        assert await _levels(session, case) == ("none", "none", "yellow")
        assert await clocks.sweep_warnings(session, now=cst(11, 5, 0)) == 1
        assert await _levels(session, case) == ("none", "none", "red")
        # nothing new: a sweep raises each warning once
        assert await clocks.sweep_warnings(session, now=cst(11, 5, 2)) == 0
        assert await clocks.sweep_warnings(session, now=cst(11, 12, 23)) == 0
        assert await clocks.sweep_warnings(session, now=cst(11, 13, 0)) == 1
        assert await _levels(session, case) == ("none", "yellow", "red")
        assert await _warnings(session, case.id) == ["step_yellow", "step_red", "promised_yellow"]
        topics = (
            await session.execute(
                select(func.count()).where(OutboxEvent.topic == clocks.WARNING_TOPIC)
            )
        ).scalar_one()
        assert topics == 3

    async def test_a_late_sweep_goes_straight_to_red(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(11, 2, 9)):
            case = await open_application(session, w)
        # 2027 is provisional (weekends only) but the statutory limit ends in 2026 anyway
        assert await clocks.sweep_warnings(session, now=cst(12, 31, 12)) == 3
        assert await _levels(session, case) == ("red", "red", "red")
        assert sorted(await _warnings(session, case.id)) == [
            "promised_red",
            "statutory_red",
            "step_red",
        ]

    async def test_paused_and_closed_cases_are_skipped(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(11, 2, 9)):
            paused = await open_application(session, w, "paused")
            closed = await open_application(session, w, "closed")
            await service.transition(session, w.colleague_p, paused.id, "accept")
            await service.assign(session, w.colleague_p, paused.id, w.officer.username)
            await service.transition(session, w.officer_p, paused.id, "review")
            await service.transition(
                session, w.officer_p, paused.id, "request_supplement", fields={"reason": "缺件"}
            )
            await service.transition(
                session, w.officer_p, closed.id, "not_accept", fields={"reason": "非本机关职权"}
            )
        assert await clocks.sweep_warnings(session, now=cst(12, 31, 12)) == 0
        assert await _levels(session, paused) == ("none", "none", "none")

    async def test_job_and_handler_are_declared(self) -> None:
        assert [(j.name, j.every_seconds) for j in MODULE.jobs] == [("cases.warning_sweep", 60)]
        assert [h.topic for h in MODULE.handlers] == [workdays.YEAR_ENTERED_TOPIC]

    async def test_job_sweeps_at_now(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(11, 2, 9)):
            case = await open_application(session, w)
        with clock.frozen(cst(11, 4, 1)):
            await clocks.warning_sweep_job(session)
        assert await _levels(session, case) == ("none", "none", "yellow")


class TestRecomputeProvisional:
    async def test_entering_next_year_moves_provisional_deadlines(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        # 20 working days from Thursday 2026-12-10 reach into 2027, which no notice covers yet
        with clock.frozen(cst(12, 10, 9)):
            case = await open_application(session, w)
        assert case.provisional is True
        before = case.statutory_due_at
        untouched = await open_application(session, w, "decided")
        await service.transition(
            session, w.officer_p, untouched.id, "not_accept", fields={"reason": "r"}
        )
        text = "2027-01-01 holiday 元旦\n2027-01-04..2027-01-05 holiday 测试假日\n"
        with clock.frozen(cst(12, 11, 9)):
            await workdays.enter_year(
                session,
                ROOT,
                year=2027,
                entries=workdays.parse_year_entries(text, 2027),
                notice="测试通知",
            )
            moved = await clocks.recompute_provisional(session)
        assert moved == 1
        await session.refresh(case)
        assert case.provisional is False
        # three more days off push the end three working days out
        assert case.statutory_due_at.astimezone(UTC) > before
        assert (await _events(session, case.id))[-1] == ("clock", "recomputed")
        assert await clocks.recompute_provisional(session) == 0


async def _events(session: AsyncSession, case_id: object) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(CaseEvent.kind, CaseEvent.name)
        .where(CaseEvent.case_id == case_id)
        .order_by(CaseEvent.seq)
    )
    return [(k, n) for k, n in rows.all()]
