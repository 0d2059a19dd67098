"""The declared application case type (行政许可申请) and its flow through the case engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service as cases
from smartcity.cases.models import Case
from smartcity.cases.types import CaseTypeError, Limits, get_case_type, validate_case_type
from smartcity.core import clock
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.services.types import APPLICATION, BASE_NAME
from tests.cases.factories import World, world

CST = timezone(timedelta(hours=8))


def cst(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CST)


async def _open(
    session: AsyncSession, w: World, statutory: int | None = None, promised: int | None = None
) -> Case:
    return await cases.open_case(
        session,
        w.applicant_p,
        case_type=BASE_NAME,
        title="食品经营许可",
        department_code="SCJGJ",
        data={"item": "SCJGJ-003"},
        category="SCJGJ-003",
        statutory_days=statutory,
        promised_days=promised,
    )


class TestApplicationType:
    def test_registered_and_valid(self) -> None:
        assert get_case_type(BASE_NAME) == APPLICATION
        validate_case_type(APPLICATION)
        finals = {s.name for s in APPLICATION.states if s.kind == "final"}
        assert finals == {"not_accepted", "refused", "delivered"}
        assert APPLICATION.state("awaiting_supplement").kind == "waiting_applicant"
        step = APPLICATION.transition("request_supplement")
        assert step is not None and step.required_fields == ("missing",)
        supplement = APPLICATION.transition("supplement")
        assert supplement is not None and supplement.who == frozenset({"applicant"})

    def test_bad_limits_are_refused(self) -> None:
        with pytest.raises(CaseTypeError, match="promises"):
            validate_case_type(replace(APPLICATION, limits=Limits(3, 5)))
        with pytest.raises(CaseTypeError, match="unreachable"):
            validate_case_type(
                replace(APPLICATION, transitions=APPLICATION.transitions[1:], limits=Limits(20))
            )


class TestApplicationFlow:
    async def test_happy_path_with_supplement(self, session: AsyncSession) -> None:
        w = await world(session)
        # Monday before 国庆 2026; the pause runs over the holiday.
        with clock.frozen(cst(2026, 9, 28, 10)):
            case = await _open(session, w)
            promised = case.promised_due_at
            case = await cases.transition(session, w.officer_p, case.id, "accept")
            case = await cases.transition(session, w.colleague_p, case.id, "review")
        with clock.frozen(cst(2026, 9, 29, 10)):
            case = await cases.transition(
                session,
                w.officer_p,
                case.id,
                "request_supplement",
                fields={"missing": "食品安全管理制度"},
            )
            assert case.state == "awaiting_supplement" and case.paused_at is not None
            with pytest.raises(Forbidden):  # staff cannot supplement for the applicant
                await cases.transition(session, w.officer_p, case.id, "supplement")
        with clock.frozen(cst(2026, 10, 12, 10)):
            case = await cases.transition(session, w.applicant_p, case.id, "supplement")
        assert case.state == "reviewing" and case.paused_at is None
        # 09-30, 10-08, 10-09, 10-10 (调休), 10-12: five working days added.
        assert case.paused_workdays == 5
        assert promised is not None and case.promised_due_at is not None
        assert case.promised_due_at > promised
        with clock.frozen(cst(2026, 10, 13, 10)):
            case = await cases.transition(
                session, w.officer_p, case.id, "approve", fields={"opinion": "经审查，同意。"}
            )
            case = await cases.transition(session, w.officer_p, case.id, "deliver")
        assert case.state == "delivered" and case.closed_at is not None
        events = await cases.timeline(session, w.applicant_p, case.id)
        names = [e.name for e in events if e.kind == "transition"]
        assert names == [
            "open",
            "accept",
            "review",
            "request_supplement",
            "supplement",
            "approve",
            "deliver",
        ]

    async def test_each_case_has_its_items_limits(self, session: AsyncSession) -> None:
        w = await world(session)
        with clock.frozen(cst(2026, 9, 28, 10)):
            short = await _open(session, w, 5, 1)
            long = await _open(session, w)
        assert (short.statutory_days, short.promised_days) == (5, 1)
        assert (long.statutory_days, long.promised_days) == (20, 10)  # the type's default
        assert short.promised_due_at is not None and long.promised_due_at is not None
        assert short.promised_due_at < long.promised_due_at
        with pytest.raises(InvalidInput) as info:
            await _open(session, w, 3, 5)
        assert info.value.extensions["field"] == "promised_days"
        with pytest.raises(InvalidInput):
            await _open(session, w, 0)

    async def test_wrong_department_is_refused(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await _open(session, w)
        # Another department's staff cannot even see the case.
        with pytest.raises(NotFound):
            await cases.transition(session, w.outsider_p, case.id, "accept")
        with pytest.raises(Forbidden):
            await cases.transition(session, w.applicant_p, case.id, "accept")

    async def test_reasons_are_required(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await _open(session, w)
        with pytest.raises(InvalidInput) as info:
            await cases.transition(session, w.officer_p, case.id, "not_accept")
        assert info.value.extensions["field"] == "reason"
        with pytest.raises(InvalidInput):
            await cases.transition(
                session,
                w.officer_p,
                case.id,
                "not_accept",
                fields={"reason": "  ", "opinion": "经审查，同意。"},
            )
        await cases.transition(session, w.officer_p, case.id, "accept")
        await cases.transition(session, w.officer_p, case.id, "review")
        with pytest.raises(InvalidInput) as info:
            await cases.transition(session, w.officer_p, case.id, "request_supplement")
        assert info.value.extensions["field"] == "missing"
        with pytest.raises(InvalidInput) as info:
            await cases.transition(session, w.officer_p, case.id, "refuse", fields={})
        assert info.value.extensions["field"] == "reason"
        case = await cases.transition(
            session,
            w.officer_p,
            case.id,
            "refuse",
            fields={"reason": "不符合条件", "opinion": "经审查，同意。"},
        )
        assert case.state == "refused" and case.closed_at is not None

    async def test_not_accepted_is_final(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await _open(session, w)
        case = await cases.transition(
            session,
            w.officer_p,
            case.id,
            "not_accept",
            fields={"reason": "不属于本机关职权", "opinion": "经审查，同意。"},
        )
        assert case.state == "not_accepted"
        with pytest.raises(Conflict):
            await cases.transition(session, w.officer_p, case.id, "accept")
