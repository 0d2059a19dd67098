"""延期 on the case engine: the limits lengthened by working days (over weekends and 国庆), the
one deadline rule showing the new due date and days left, the refusals with their problem
types, and the timeline line in both languages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import clocks, service
from smartcity.cases.contract import case_deadline, extend_limit
from smartcity.cases.models import Case, CaseEvent
from smartcity.cases.types import CaseTypeError, Limits, validate_case_type
from smartcity.cases.views import clocks as clock_views
from smartcity.cases.views import timeline_lines
from smartcity.core import clock, i18n
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.workdays import load_calendar
from tests.cases.factories import APPLICATION, World, variant, with_test_module, world

CST = clock.CITY_TZ
# Monday before 国庆 2026 (10-01..10-07 off, Saturday 10-10 a 调休 working day).
MONDAY = datetime(2026, 9, 28, 10, tzinfo=CST)
TUESDAY = MONDAY + timedelta(days=1)
EXTENDABLE = variant(
    name="test.extendable",
    prefix="YQ",
    limits=Limits(
        statutory_days=20,
        promised_days=10,
        step_days=(("submitted", 2), ("reviewing", 5)),
        max_extension_days=5,
    ),
)


@pytest.fixture(autouse=True)
def _case_type(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The sample type (no extensions) and one that allows 5 working days in all."""
    yield from with_test_module(monkeypatch, EXTENDABLE)


def end_of(year: int, month: int, day: int) -> datetime:
    return (datetime(year, month, day, tzinfo=CST) + timedelta(days=1)).astimezone(UTC)


async def _open(
    session: AsyncSession, w: World, *, type_name: str = EXTENDABLE.name, **limits: int
) -> Case:
    with clock.frozen(MONDAY):
        return await service.open_case(
            session,
            w.applicant_p,
            case_type=type_name,
            title="食品经营许可",
            department_code="SCJGJ",
            **limits,  # type: ignore[arg-type]
        )


async def _events(session: AsyncSession, case_id: uuid.UUID) -> list[CaseEvent]:
    rows = await session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
    )
    return list(rows.scalars())


class TestExtendLimit:
    async def test_the_limits_and_the_deadline_move_by_working_days(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        case_ = await _open(session, w)
        calendar = await load_calendar(session)
        # 10 working days: 9-29, 9-30, 10-08, 10-09, 10-10 (调休), 10-12 .. 10-16
        assert case_.promised_due_at == end_of(2026, 10, 16)
        assert case_.statutory_due_at == end_of(2026, 10, 30)
        before = case_deadline(case_, calendar, TUESDAY)
        assert (before.due_date, before.remaining) == (date(2026, 10, 16), 9)
        with clock.frozen(TUESDAY):
            await extend_limit(session, w.officer_p, case_.id, 3, "需现场核查经营场所")
        # three more working days after the weekend: Mon 10-19 .. Wed 10-21
        assert case_.promised_due_at == end_of(2026, 10, 21)
        assert case_.statutory_due_at == end_of(2026, 11, 4)
        assert case_.extended_workdays == 3
        after = case_deadline(case_, calendar, TUESDAY)
        assert (after.clock, after.due_date, after.remaining) == (
            "promised",
            date(2026, 10, 21),
            12,
        )
        statutory = case_deadline(case_, calendar, TUESDAY, "statutory")
        assert statutory.due_date == date(2026, 11, 4)
        # the desk's clocks read the same rule and say how much was added
        views = {c.name: c for c in clock_views(case_, EXTENDABLE, calendar, TUESDAY)}
        assert views["promised"].due_date == date(2026, 10, 21)
        assert views["promised"].extended_days == 3
        # the step limit of 申报 (2 days) grows too while the case stays in it
        assert case_.step_due_at == end_of(2026, 10, 10)
        assert case_.next_due_at == case_.step_due_at
        [line] = [e for e in await _events(session, case_.id) if e.name == "extended"]
        assert line.kind == "clock"
        assert line.data == {
            "days": 3,
            "reason": "需现场核查经营场所",
            "extended_workdays": 3,
            "due_date": "2026-10-21",
        }
        # a new state restarts the step clock without the extension; the limits keep it
        with clock.frozen(TUESDAY):
            await service.transition(session, w.officer_p, case_.id, "accept")
        assert case_.step_due_at is None and case_.step_extended_workdays == 0
        assert case_.promised_due_at == end_of(2026, 10, 21)

    async def test_an_extension_skips_the_national_day_holiday(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _open(session, w, statutory_days=5, promised_days=2)
        assert case_.promised_due_at == end_of(2026, 9, 30)
        with clock.frozen(TUESDAY):
            await extend_limit(session, w.officer_p, case_.id, 2, "节前材料未齐")
        # the two days are 10-08 and 10-09: 10-01 .. 10-07 are off
        assert case_.promised_due_at == end_of(2026, 10, 9)
        calendar = await load_calendar(session)
        on_the_eve = case_deadline(case_, calendar, datetime(2026, 9, 30, 17, tzinfo=CST))
        assert (on_the_eve.remaining, on_the_eve.state) == (2, "on_time")
        # 5 + 2 statutory days: 9-29, 9-30, 10-08, 10-09, 10-10 (调休), 10-12, 10-13
        assert case_.statutory_due_at == end_of(2026, 10, 13)

    async def test_an_extension_lifts_a_warning_it_answers(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _open(session, w, statutory_days=5, promised_days=2)
        # the day after the promise ran out: the sweep turned it red
        late = datetime(2026, 10, 8, 10, tzinfo=CST)
        with clock.frozen(late):
            await clocks.sweep_warnings(session)
        await session.refresh(case_)
        assert case_.promised_warning == "red"
        with clock.frozen(late):
            await extend_limit(session, w.officer_p, case_.id, 1, "等待检测报告")
        # the promise now ends tonight (10-08): due soon, no longer red
        assert case_.promised_due_at == end_of(2026, 10, 8)
        assert case_.promised_warning == "yellow"
        state = case_deadline(case_, await load_calendar(session), late).state
        assert state == "warning"

    async def test_extensions_add_up_to_the_types_maximum(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _open(session, w)
        with clock.frozen(TUESDAY):
            await extend_limit(session, w.officer_p, case_.id, 3, "第一次延期")
            with pytest.raises(Conflict) as over:
                await extend_limit(session, w.officer_p, case_.id, 3, "第二次延期")
            assert over.value.type == "/problems/extension-over-maximum"
            assert over.value.extensions["left"] == 2
            assert case_.extended_workdays == 3  # nothing written by the refusal
            await extend_limit(session, w.officer_p, case_.id, 2, "第二次延期")
        assert case_.extended_workdays == 5
        assert case_.promised_due_at == end_of(2026, 10, 23)


class TestRefusals:
    @pytest.mark.parametrize("days", [0, -1, 6, 100])
    async def test_days_outside_one_to_the_maximum(self, session: AsyncSession, days: int) -> None:
        w = await world(session)
        case_ = await _open(session, w)
        with clock.frozen(TUESDAY), pytest.raises(InvalidInput) as refused:
            await extend_limit(session, w.officer_p, case_.id, days, "理由")
        assert refused.value.type == "/problems/extension-days"
        assert refused.value.extensions["field"] == "days"
        assert case_.extended_workdays == 0

    @pytest.mark.parametrize("reason", ["", "   ", "长" * 501])
    async def test_a_reason_is_needed_and_bounded(self, session: AsyncSession, reason: str) -> None:
        w = await world(session)
        case_ = await _open(session, w)
        with clock.frozen(TUESDAY), pytest.raises(InvalidInput) as refused:
            await extend_limit(session, w.officer_p, case_.id, 1, reason)
        assert refused.value.type == "/problems/invalid-input"
        assert refused.value.extensions["field"] == "reason"
        assert not [e for e in await _events(session, case_.id) if e.name == "extended"]

    async def test_a_closed_case_is_not_extended(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _open(session, w)
        with clock.frozen(TUESDAY):
            await service.transition(
                session, w.officer_p, case_.id, "not_accept", fields={"reason": "不属于本部门"}
            )
            with pytest.raises(Conflict) as refused:
                await extend_limit(session, w.officer_p, case_.id, 1, "理由")
        assert refused.value.status == 409
        assert refused.value.type == "/problems/case-closed"

    async def test_a_type_without_a_maximum_is_never_extended(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _open(session, w, type_name=APPLICATION.name)
        before = case_.promised_due_at
        with clock.frozen(TUESDAY), pytest.raises(Conflict) as refused:
            await extend_limit(session, w.officer_p, case_.id, 1, "理由")
        assert refused.value.type == "/problems/extension-not-allowed"
        assert case_.promised_due_at == before

    async def test_only_the_cases_department(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _open(session, w)
        with clock.frozen(TUESDAY):
            with pytest.raises(NotFound):  # another department cannot read it
                await extend_limit(session, w.outsider_p, case_.id, 1, "理由")
            with pytest.raises(Forbidden):  # the applicant reads it, may not extend it
                await extend_limit(session, w.applicant_p, case_.id, 1, "理由")
            with pytest.raises(Forbidden):  # supervisors read every case, extend none
                await extend_limit(session, w.supervisor_p, case_.id, 1, "理由")
        assert case_.extended_workdays == 0

    def test_a_type_declares_a_positive_maximum(self) -> None:
        bad = variant(name="test.bad", limits=Limits(statutory_days=5, max_extension_days=0))
        with pytest.raises(CaseTypeError, match="extensions"):
            validate_case_type(bad)


class TestTimelineLine:
    @pytest.mark.parametrize(
        ("locale", "text", "detail", "quote"),
        [
            ("en", "Limit extended by 3 working days", ("New due date", "21 Oct 2026"), "Reason"),
            ("zh_CN", "时限延长 3 个工作日", ("延期后办结日期", "2026年10月21日"), "理由"),
        ],
    )
    async def test_reads_in_both_languages(
        self,
        session: AsyncSession,
        locale: str,
        text: str,
        detail: tuple[str, str],
        quote: str,
    ) -> None:
        w = await world(session)
        case_ = await _open(session, w)
        with clock.frozen(TUESDAY):
            await extend_limit(session, w.officer_p, case_.id, 3, "需现场核查")
        events = [e for e in await _events(session, case_.id) if e.name == "extended"]
        token = i18n.current_locale.set(locale)
        try:
            [line] = timeline_lines(events, EXTENDABLE, {}, {})
        finally:
            i18n.current_locale.reset(token)
        assert line.text == text
        assert line.details == [detail]
        assert line.quote.startswith(quote) and line.quote.endswith("需现场核查")
        assert line.kind == "ev-clock"
