"""Irregularity flags of electronic supervision (电子监察异常): refusals without a reason,
listing by who may see them, and the supervisors' review (核查)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import flags, service
from smartcity.cases.models import Case, CaseFlag
from smartcity.core import clock
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import AuditEntry, OutboxEvent
from tests.cases.factories import APPLICATION, World, person, with_test_module, world
from tests.core.factories import ROOT

# The sample type with its two refusals (不予受理, 不予许可) declared as such.
REFUSING = replace(
    APPLICATION,
    name="test.refusing",
    transitions=tuple(
        replace(t, refusal=True) if t.name in ("not_accept", "refuse") else t
        for t in APPLICATION.transitions
    ),
)


@pytest.fixture(autouse=True)
def _refusing_type(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from with_test_module(monkeypatch, REFUSING)


async def _open(session: AsyncSession, w: World, case_type: str = REFUSING.name) -> Case:
    return await service.open_case(
        session, w.applicant_p, case_type=case_type, title="食品经营许可", department_code="SCJGJ"
    )


async def _reviewing(session: AsyncSession, w: World) -> Case:
    case = await _open(session, w)
    await service.transition(session, w.colleague_p, case.id, "accept")
    await service.assign(session, w.colleague_p, case.id, w.officer.username)
    return await service.transition(session, w.officer_p, case.id, "review")


async def _kinds(session: AsyncSession, case_id: uuid.UUID) -> list[str]:
    rows = await session.execute(select(CaseFlag.kind).where(CaseFlag.case_id == case_id))
    return list(rows.scalars())


class TestEmptyReason:
    @pytest.mark.parametrize(
        "reason",
        [
            "",
            "  ",
            None,
            "无",
            "不符合条件",
            "不符合条件。",
            "材料不全",
            "其他",
            "N/A",
            "none",
            "略。",
            "不行",
        ],
    )
    def test_empty_formulas(self, reason: object) -> None:
        assert flags.is_empty_reason(reason)

    @pytest.mark.parametrize(
        "reason",
        [
            "经营场所与食品安全法第三十三条规定的卫生条件不符",
            "申请人未取得消防验收合格意见",
            "Premises fail the hygiene rules",
        ],
    )
    def test_real_reasons(self, reason: str) -> None:
        assert not flags.is_empty_reason(reason)


class TestRefusalWithoutReason:
    async def test_an_empty_formula_refusal_is_flagged_and_still_taken(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await _reviewing(session, w)
        case = await service.transition(
            session, w.officer_p, case.id, "refuse", fields={"reason": "不符合条件"}
        )
        assert case.state == "refused" and case.closed_at is not None
        [flag] = (await session.execute(select(CaseFlag))).scalars().all()
        assert (flag.kind, flag.detail) == (
            "refusal_without_reason",
            {"step": "refuse", "reason": "不符合条件"},
        )
        assert flag.actor == w.officer_p.name and flag.reviewed_at is None
        timeline = [(e.kind, e.name) for e in await service.timeline(session, w.officer_p, case.id)]
        assert timeline[-1] == ("flag", "refusal_without_reason")
        topics = (await session.execute(select(OutboxEvent.topic))).scalars().all()
        assert flags.FLAGGED_TOPIC in topics
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
        assert flags.FLAGGED_TOPIC in actions

    async def test_not_accepting_with_an_empty_formula_is_flagged(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await _open(session, w)
        await service.transition(
            session, w.officer_p, case.id, "not_accept", fields={"reason": "材料不全。"}
        )
        assert await _kinds(session, case.id) == ["refusal_without_reason"]

    async def test_a_proper_reason_raises_nothing(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await _reviewing(session, w)
        await service.transition(
            session,
            w.officer_p,
            case.id,
            "refuse",
            fields={"reason": "经现场核查，经营场所与食品安全法第三十三条规定的卫生条件不符"},
        )
        assert await _kinds(session, case.id) == []

    async def test_a_step_not_declared_a_refusal_is_not_checked(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await _open(session, w, APPLICATION.name)  # its not_accept is no refusal
        await service.transition(
            session, w.officer_p, case.id, "not_accept", fields={"reason": "无"}
        )
        assert await _kinds(session, case.id) == []


class TestListAndReview:
    async def _flagged(self, session: AsyncSession, w: World) -> tuple[Case, CaseFlag]:
        case = await _open(session, w)
        await service.transition(
            session, w.officer_p, case.id, "not_accept", fields={"reason": "无"}
        )
        flag = (
            await session.execute(select(CaseFlag).where(CaseFlag.case_id == case.id))
        ).scalar_one()
        return case, flag

    async def test_who_sees_the_flags(self, session: AsyncSession) -> None:
        w = await world(session)
        case, flag = await self._flagged(session, w)
        for seer in (w.supervisor_p, w.officer_p, ROOT):
            assert [(f.id, c.id) for f, c in await flags.list_flags(session, seer)] == [
                (flag.id, case.id)
            ]
        for blind in (w.outsider_p, w.applicant_p, w.stranger_p):
            assert await flags.list_flags(session, blind) == []
        only = await flags.list_flags(session, w.supervisor_p, kind="reopened")
        assert only == []
        with pytest.raises(InvalidInput) as info:
            await flags.list_flags(session, w.supervisor_p, kind="sloppy")
        assert info.value.extensions["field"] == "kind"

    async def test_a_supervisor_reviews_once_with_a_note(self, session: AsyncSession) -> None:
        w = await world(session)
        _case, flag = await self._flagged(session, w)
        with clock.frozen(clock.now()):
            reviewed = await flags.review_flag(
                session, w.supervisor_p, flag.id, "  已约谈经办人，责令补充说明理由  "
            )
            assert reviewed.reviewed_at == clock.now()
        assert reviewed.reviewed_by == w.supervisor_p.name
        assert reviewed.review_note == "已约谈经办人，责令补充说明理由"
        assert await flags.list_flags(session, w.supervisor_p) == []
        assert len(await flags.list_flags(session, w.supervisor_p, open_only=False)) == 1
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
        assert "cases.flag.reviewed" in actions
        with pytest.raises(Conflict):
            await flags.review_flag(session, w.supervisor_p, flag.id, "再看一次")

    async def test_bad_input_and_who_may_review(self, session: AsyncSession) -> None:
        w = await world(session)
        _case, flag = await self._flagged(session, w)
        for note in ("", "   ", "注" * 501):
            with pytest.raises(InvalidInput) as info:
                await flags.review_flag(session, w.supervisor_p, flag.id, note)
            assert info.value.extensions["field"] == "note"
        for outsider in (w.officer_p, w.applicant_p):
            with pytest.raises(Forbidden):
                await flags.review_flag(session, outsider, flag.id, "自查无问题")
        with pytest.raises(NotFound):
            await flags.review_flag(session, w.supervisor_p, uuid.uuid4(), "核查")
        await session.refresh(flag)
        assert flag.reviewed_at is None
        _admin, admin_p = await person(session, "admin")
        assert (await flags.review_flag(session, admin_p, flag.id, "核查属实")).reviewed_at

    async def test_an_unknown_kind_is_a_programming_error(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await _open(session, w)
        with pytest.raises(ValueError, match="unknown flag kind"):
            await flags.raise_flag(session, w.officer_p, case, "sloppy")
