"""The demo's applications (示例办件): every state, real clocks and handling times, some red
and yellow, flags and ratings, an application behind every case; once only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import supervision
from smartcity.cases.models import Case, CaseEvent, CaseFlag, CaseRating, CaseUrge
from smartcity.core import clock
from smartcity.core import seed as core_seed
from smartcity.core.models import Account
from smartcity.demo.services import seed_demo_cases
from smartcity.services.models import Application
from smartcity.services.seed import seed_service_items
from smartcity.services.types import BASE_NAME
from tests.core.factories import ROOT

NOW = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)  # a Tuesday, 11:30 in Shenzhen
STATES = (
    "submitted",
    "accepted",
    "reviewing",
    "awaiting_supplement",
    "approved",
    "delivered",
    "not_accepted",
    "refused",
)


async def _seed(session: AsyncSession, count: int) -> int:
    with clock.frozen(NOW):
        await core_seed.seed_departments(session, ROOT)
        await seed_service_items(session, ROOT)
        await core_seed.seed_demo_accounts(session, ROOT)
        return await seed_demo_cases(session, ROOT, count=count)


async def _states(session: AsyncSession) -> Counter[str]:
    rows = await session.execute(
        select(Case.state, func.count()).where(Case.case_type == BASE_NAME).group_by(Case.state)
    )
    return Counter({state: int(n) for state, n in rows.all()})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
class TestDemoCases:
    async def test_every_state_real_clocks_and_irregularities(self, session: AsyncSession) -> None:
        made = await _seed(session, 40)
        assert made == 40
        states = await _states(session)
        assert sum(states.values()) == 40
        assert set(states) == set(STATES), states
        assert all(states[s] >= 2 for s in STATES), states

        cases = list((await session.execute(select(Case))).scalars())
        # spread over the last six months, none in the future
        months = {clock.to_city(c.opened_at).strftime("%Y-%m") for c in cases}
        assert len(months) >= 5
        assert all(c.opened_at <= NOW for c in cases)
        assert min(c.opened_at for c in cases) >= NOW - timedelta(days=190)
        closed = [c for c in cases if c.closed_at is not None]
        assert closed and all(c.handled_workdays is not None for c in closed)
        assert any(c.on_time is False for c in closed)
        assert sum(bool(c.on_time) for c in closed) > len(closed) * 0.7
        # the 30 items all appear, each with its own limits
        assert len({c.category for c in cases}) == 30
        assert all(
            c.promised_days is not None and c.promised_days <= c.statutory_days for c in cases
        )
        # red and yellow cases exist, paused ones are waiting for their applicant
        open_cases = [c for c in cases if c.closed_at is None]
        warnings = [(c.statutory_warning, c.promised_warning, c.step_warning) for c in open_cases]
        assert any("red" in w for w in warnings)
        assert any("yellow" in w and "red" not in w for w in warnings)
        assert all(
            (c.paused_at is not None) == (c.state == "awaiting_supplement") for c in open_cases
        )

        # an application behind every case, for the applicants' pages
        applications = list((await session.execute(select(Application))).scalars())
        assert sorted(a.case_id for a in applications if a.case_id) == sorted(c.id for c in cases)
        assert all(a.status == "submitted" and a.answers for a in applications)
        by_case = {a.case_id: a for a in applications}
        assert all(by_case[c.id].applicant_account_id == c.applicant_account_id for c in cases)

        # a real timeline: steps, warnings raised when they fell due, a pause and a resume
        kinds = Counter((await session.execute(select(CaseEvent.kind, CaseEvent.name))).all())
        assert kinds[("transition", "deliver")] == states["delivered"] + 1  # one reopened
        assert any(kind == "warning" for kind, _name in kinds)
        assert kinds[("clock", "resumed")] >= 1

        flags = Counter((await session.execute(select(CaseFlag.kind))).scalars())
        assert flags["reopened"] == 1 and flags["out_of_order"] == 1
        assert flags["refusal_without_reason"] >= 2
        open_flags = (
            await session.execute(select(CaseFlag.kind).where(CaseFlag.reviewed_at.is_(None)))
        ).scalars()
        assert {"reopened", "out_of_order", "refusal_without_reason"} <= set(open_flags)
        assert (
            await session.execute(select(func.count()).where(CaseFlag.reviewed_at.is_not(None)))
        ).scalar_one() >= 1

        # every case an officer acted on has its officer (承办人), every decision its opinion
        acted = {
            e.case_id
            for e in (await session.execute(select(CaseEvent))).scalars()
            if e.kind == "transition" and e.name not in ("open", "supplement")
        }
        assert acted and all(c.assignee_account_id is not None for c in cases if c.id in acted)
        decisions = (
            await session.execute(
                select(CaseEvent).where(
                    CaseEvent.name.in_(("approve", "refuse", "not_accept")),
                    CaseEvent.kind == "transition",
                )
            )
        ).scalars()
        assert all(e.data["fields"]["opinion"] for e in decisions)
        # 督办 on the board: one answered, one waiting past its deadline
        urges = list((await session.execute(select(CaseUrge))).scalars())
        assert len(urges) == 2
        assert sorted(u.replied_at is None for u in urges) == [False, True]

        ratings = list((await session.execute(select(CaseRating))).scalars())
        assert len(ratings) > len(closed) * 0.4
        assert {r.score for r in ratings} >= {5, 4}
        closed_ids = {c.id for c in closed}
        assert all(r.case_id in closed_ids or r.case_id in {c.id for c in cases} for r in ratings)

        # the board reads it
        supervisor = (
            await session.execute(select(Account).where(Account.username == "supervisor"))
        ).scalar_one()
        from smartcity.core.security import principal_of

        with clock.frozen(NOW):
            summary = await supervision.summary(session, principal_of(supervisor, "session"))
        assert summary.total.open.red >= 1
        assert summary.total.closed.closed == len(
            [c for c in closed if c.closed_at and c.closed_at >= summary.scope.start]
        )

    async def test_a_second_run_adds_nothing(self, session: AsyncSession) -> None:
        assert await _seed(session, 16) == 16
        before = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        accounts = (await session.execute(select(func.count()).select_from(Account))).scalar_one()
        with clock.frozen(NOW + timedelta(days=1)):
            assert await seed_demo_cases(session, ROOT, count=16) == 0
        assert (
            await session.execute(select(func.count()).select_from(Case))
        ).scalar_one() == before
        assert (
            await session.execute(select(func.count()).select_from(Account))
        ).scalar_one() == accounts

    async def test_nothing_without_items(self, session: AsyncSession) -> None:
        with clock.frozen(NOW):
            await core_seed.seed_departments(session, ROOT)
            assert await seed_demo_cases(session, ROOT) == 0
        assert (await session.execute(select(func.count()).select_from(Case))).scalar_one() == 0
