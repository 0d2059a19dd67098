"""The electronic supervision board (电子监察): figures per department, item and month with
exact percentiles, the red and yellow lists, drill-down, exports, who sees what, the API and
the pages."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import clocks, flags, service, supervision
from smartcity.cases.models import Case
from smartcity.cases.supervision import BoardFilter, CaseQuery, CategoryNames
from smartcity.core import clock
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.models import Account
from smartcity.core.module import Module, install
from smartcity.core.security import issue_access_token
from smartcity.core.workdays import load_calendar
from smartcity.settings import get_settings
from tests.cases.factories import APPLICATION, World, with_test_module, world
from tests.core.test_pages import HTML, csrf_of
from tests.problems import assert_problem

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 20, 12, tzinfo=CST)  # a Friday
NAMES = {"SCJGJ-001": "个体工商户设立登记", "SCJGJ-003": "食品经营许可", "GAJ-001": "居住证办理"}


def cst(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


async def _names(session: AsyncSession, codes: Sequence[str]) -> Mapping[str, str]:
    return {c: NAMES[c] for c in codes if c in NAMES}


@pytest.fixture(autouse=True)
def _category_names(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from with_test_module(monkeypatch, CategoryNames(_names))


@dataclass
class Board:
    w: World
    cases: dict[str, Case]
    gaj_applicant: Account


async def _open(
    session: AsyncSession,
    w: World,
    key: str,
    at: datetime,
    category: str,
    department: str = "SCJGJ",
    **limits: int,
) -> Case:
    with clock.frozen(at):
        return await service.open_case(
            session,
            w.applicant_p,
            case_type=APPLICATION.name,
            title=f"{NAMES.get(category, category)} {key}",
            department_code=department,
            category=category,
            **limits,  # type: ignore[arg-type]
        )


async def _close(session: AsyncSession, officer: object, case: Case, at: datetime) -> Case:
    with clock.frozen(at):
        return await service.transition(
            session,
            officer,  # type: ignore[arg-type]
            case.id,
            "not_accept",
            fields={"reason": "不属于本机关职权范围"},
        )


async def board_world(session: AsyncSession) -> Board:
    """Five closed cases (two months, one late, three rated) and four open ones (one red, one
    yellow, one paused), two departments, two open flags and one reviewed."""
    w = await world(session)
    c: dict[str, Case] = {}
    # closed in October at 市场监督管理局
    c["A"] = await _open(session, w, "A", cst(10, 12), "SCJGJ-001")
    c["B"] = await _open(session, w, "B", cst(10, 12), "SCJGJ-001")
    c["C"] = await _open(
        session, w, "C", cst(10, 12), "SCJGJ-003", statutory_days=15, promised_days=3
    )
    await _close(session, w.officer_p, c["A"], cst(10, 14))  # 2 working days
    await _close(session, w.officer_p, c["B"], cst(10, 13))  # 1
    await _close(session, w.officer_p, c["C"], cst(10, 19))  # 5, promised 3: late
    # closed in November, one at each department
    c["D"] = await _open(session, w, "D", cst(11, 2), "SCJGJ-003")
    await _close(session, w.officer_p, c["D"], cst(11, 3))  # 1
    c["E"] = await _open(session, w, "E", cst(11, 2), "GAJ-001", department="GAJ")
    await _close(session, w.outsider_p, c["E"], cst(11, 4))  # 2
    # open
    c["F"] = await _open(session, w, "F", cst(11, 2), "SCJGJ-003")  # red by 11-20
    c["G"] = await _open(session, w, "G", cst(11, 18), "SCJGJ-001")  # yellow by 11-20
    c["H"] = await _open(session, w, "H", cst(11, 19), "GAJ-001", department="GAJ")
    c["I"] = await _open(session, w, "I", cst(11, 19), "SCJGJ-003")
    with clock.frozen(cst(11, 19, 11)):
        await service.transition(session, w.colleague_p, c["I"].id, "accept")
        await service.assign(session, w.colleague_p, c["I"].id, w.officer.username)
        await service.transition(session, w.officer_p, c["I"].id, "review")
        await service.transition(
            session, w.officer_p, c["I"].id, "request_supplement", fields={"reason": "缺健康证"}
        )
    # ratings: 5, 1 (poor), 4
    for key, score in (("A", 5), ("C", 1), ("E", 4)):
        await service.rate(session, w.applicant_p, c[key].id, score)
    # flags: one open at each department, one reviewed
    await flags.raise_flag(session, w.officer_p, c["F"], "reopened", {"reason": "复议"})
    await flags.raise_flag(session, w.outsider_p, c["E"], "out_of_order", {"reason": "补录"})
    done = await flags.raise_flag(session, w.officer_p, c["A"], "out_of_order", {"reason": "x"})
    await flags.review_flag(session, w.supervisor_p, done.id, "已核查")
    await clocks.sweep_warnings(session, now=NOW)
    # the sweep expired every loaded row
    for row in (*c.values(), w.officer, w.outsider, w.applicant):
        await session.refresh(row)
    return Board(w, c, w.applicant)


def _numbers(lines: Sequence[supervision.CaseLine]) -> list[str]:
    return [line.title.split()[-1] for line in lines]


class TestPercentile:
    @pytest.mark.parametrize(
        ("histogram", "q", "expected"),
        [
            ({}, 0.9, None),
            ({3: 1}, 0.9, 3),
            ({1: 9, 10: 1}, 0.9, 1),  # 9 of 10 within 1 day
            ({1: 8, 10: 2}, 0.9, 10),
            ({0: 5, 2: 4, 7: 1}, 0.5, 0),
            ({0: 5, 2: 4, 7: 1}, 0.9, 2),
            ({0: 5, 2: 4, 7: 1}, 1.0, 7),
        ],
    )
    def test_nearest_rank(self, histogram: dict[int, int], q: float, expected: int | None) -> None:
        assert supervision.percentile(histogram, q) == expected


class TestSummary:
    async def test_the_tiles_across_departments(self, session: AsyncSession) -> None:
        b = await board_world(session)
        with clock.frozen(NOW):
            s = await supervision.summary(session, b.w.supervisor_p)
        t = s.total
        assert (t.open.open, t.open.red, t.open.yellow, t.open.paused) == (4, 1, 1, 1)
        c = t.closed
        assert (c.closed, c.on_time) == (5, 4)
        assert c.histogram == {1: 2, 2: 2, 5: 1}
        assert c.average_days == pytest.approx(2.2)
        assert c.p90_days == 5
        assert (c.ratings, c.score_sum, c.poor) == (3, 10, 1)
        assert c.rating_average == pytest.approx(10 / 3)
        assert c.poor_share == pytest.approx(1 / 3)
        assert t.flags == {"reopened": 1, "out_of_order": 1}
        assert [(x.state, x.count) for x in s.by_state] == [
            ("submitted", 3),
            ("awaiting_supplement", 1),
        ]
        assert s.by_state[0].title == "申报"
        assert s.scope.months[0] == "2025-12" and s.scope.months[-1] == "2026-11"
        assert s.scope.own_department_only is False

    async def test_staff_see_their_department_only(self, session: AsyncSession) -> None:
        b = await board_world(session)
        with clock.frozen(NOW):
            mine = (await supervision.summary(session, b.w.officer_p)).total
            theirs = (await supervision.summary(session, b.w.outsider_p)).total
            # asking for another department narrows further, never widens
            none = await supervision.summary(session, b.w.officer_p, BoardFilter(department="GAJ"))
        assert (mine.open.open, mine.closed.closed, mine.closed.on_time) == (3, 4, 3)
        assert mine.flags == {"reopened": 1}
        assert (theirs.open.open, theirs.closed.closed, theirs.flags) == (1, 1, {"out_of_order": 1})
        assert (none.total.open.open, none.total.closed.closed) == (0, 0)
        assert none.scope.own_department_only is True

    async def test_the_board_is_not_for_applicants(self, session: AsyncSession) -> None:
        b = await board_world(session)
        for outsider in (b.w.applicant_p, b.w.stranger_p):
            with pytest.raises(Forbidden):
                await supervision.summary(session, outsider)
            with pytest.raises(Forbidden):
                await supervision.case_list(session, outsider)

    async def test_filters(self, session: AsyncSession) -> None:
        b = await board_world(session)
        sup = b.w.supervisor_p
        with clock.frozen(NOW):
            item = await supervision.summary(session, sup, BoardFilter(category="SCJGJ-003"))
            november = await supervision.summary(
                session, sup, BoardFilter(first_month="2026-11", last_month="2026-11")
            )
            gaj = await supervision.summary(session, sup, BoardFilter(department="GAJ"))
            typed = await supervision.summary(session, sup, BoardFilter(case_type=APPLICATION.name))
        assert (item.total.open.open, item.total.closed.closed) == (2, 2)
        assert item.total.closed.histogram == {5: 1, 1: 1}
        # the range limits the closed cases only; open ones are always the current ones
        assert (november.total.closed.closed, november.total.open.open) == (2, 4)
        assert november.total.closed.ratings == 1
        assert (gaj.total.open.open, gaj.total.closed.closed) == (1, 1)
        assert gaj.scope.department is not None and gaj.scope.department.code == "GAJ"
        assert typed.total.closed.closed == 5

    @pytest.mark.parametrize(
        ("board_filter", "field"),
        [
            (BoardFilter(department="NOPE"), "department"),
            (BoardFilter(case_type="no.such"), "case_type"),
            (BoardFilter(category="X" * 65), "category"),
            (BoardFilter(first_month="2026-13"), "from"),
            (BoardFilter(last_month="26-11"), "to"),
            (BoardFilter(first_month="2026-11", last_month="2026-09"), "from"),
            (BoardFilter(first_month="2020-01", last_month="2026-11"), "from"),
        ],
    )
    async def test_bad_filters(
        self, session: AsyncSession, board_filter: BoardFilter, field: str
    ) -> None:
        w = await world(session)
        with pytest.raises(InvalidInput) as info:
            await supervision.summary(session, w.supervisor_p, board_filter)
        assert info.value.extensions["field"] == field


class TestTables:
    async def test_per_department_red_first(self, session: AsyncSession) -> None:
        b = await board_world(session)
        with clock.frozen(NOW):
            rows = await supervision.by_department(session, b.w.supervisor_p)
            own = await supervision.by_department(session, b.w.outsider_p)
        assert [r.key for r in rows] == ["SCJGJ", "GAJ"]
        scjgj, gaj = rows
        # In English (conftest) the label is the department's English name from the factory.
        assert scjgj.label.startswith("Test bureau ")
        assert (scjgj.open.red, scjgj.open.yellow, scjgj.open.open) == (1, 1, 3)
        assert scjgj.closed.histogram == {1: 2, 2: 1, 5: 1}
        assert scjgj.closed.average_days == pytest.approx(2.25)
        assert scjgj.closed.p90_days == 5
        assert scjgj.closed.on_time_rate == pytest.approx(0.75)
        assert (scjgj.closed.ratings, scjgj.closed.poor) == (2, 1)
        assert scjgj.flags == {"reopened": 1}
        assert (gaj.closed.closed, gaj.closed.p90_days, gaj.open_flags) == (1, 2, 1)
        assert [r.key for r in own] == ["GAJ"]

    async def test_per_item_with_registered_names(self, session: AsyncSession) -> None:
        b = await board_world(session)
        with clock.frozen(NOW):
            rows = await supervision.by_category(session, b.w.supervisor_p)
        by_key = {r.key: r for r in rows}
        assert set(by_key) == {"SCJGJ-001", "SCJGJ-003", "GAJ-001"}
        assert by_key["SCJGJ-003"].label == "食品经营许可"
        assert rows[0].key == "SCJGJ-003"  # the red case is of this item
        assert (by_key["SCJGJ-003"].closed.closed, by_key["SCJGJ-003"].closed.on_time) == (2, 1)
        assert by_key["SCJGJ-001"].closed.rating_average == 5
        assert by_key["SCJGJ-001"].open.yellow == 1
        choices = await supervision.categories(session, b.w.supervisor_p)
        assert choices == [
            ("GAJ-001", "居住证办理"),
            ("SCJGJ-001", "个体工商户设立登记"),
            ("SCJGJ-003", "食品经营许可"),
        ]
        assert [c for c, _n in await supervision.categories(session, b.w.outsider_p)] == ["GAJ-001"]

    async def test_an_unnamed_category_shows_its_code(self, session: AsyncSession) -> None:
        w = await world(session)
        case = await _open(session, w, "Z", cst(11, 2), "ZZ-9")
        await _close(session, w.officer_p, case, cst(11, 3))
        with clock.frozen(NOW):
            [row] = await supervision.by_category(session, w.supervisor_p)
        assert (row.key, row.label) == ("ZZ-9", "ZZ-9")

    async def test_per_month_every_month_of_the_range(self, session: AsyncSession) -> None:
        b = await board_world(session)
        with clock.frozen(NOW):
            rows = await supervision.by_month(
                session,
                b.w.supervisor_p,
                BoardFilter(first_month="2026-09", last_month="2026-11"),
            )
            default = await supervision.by_month(session, b.w.supervisor_p)
        assert [r.key for r in rows] == ["2026-09", "2026-10", "2026-11"]
        sept, october, november = rows
        assert (sept.closed.closed, sept.closed.average_days, sept.closed.p90_days) == (
            0,
            None,
            None,
        )
        assert october.closed.histogram == {1: 1, 2: 1, 5: 1}
        assert october.closed.average_days == pytest.approx(8 / 3)
        assert (october.closed.on_time, october.closed.ratings, october.closed.poor) == (2, 2, 1)
        assert november.closed.histogram == {1: 1, 2: 1}
        assert len(default) == 12 and default[-1].key == "2026-11"

    async def test_months_are_the_city_months(self, session: AsyncSession) -> None:
        w = await world(session)
        late_october = await _open(session, w, "L", cst(10, 30), "SCJGJ-001")
        early_november = await _open(session, w, "M", cst(10, 30), "SCJGJ-001")
        # 23:30 on 10-31 in Shenzhen is 15:30 UTC; 00:30 on 11-01 is 16:30 UTC on 10-31
        await _close(session, w.officer_p, late_october, cst(10, 31, 23, 30))
        await _close(session, w.officer_p, early_november, cst(11, 1, 0, 30))
        with clock.frozen(NOW):
            rows = await supervision.by_month(
                session, w.supervisor_p, BoardFilter(first_month="2026-10", last_month="2026-11")
            )
            in_november, total = await supervision.case_list(
                session, w.supervisor_p, query=CaseQuery(month="2026-11")
            )
        assert [(r.key, r.closed.closed) for r in rows] == [("2026-10", 1), ("2026-11", 1)]
        assert total == 1 and _numbers(in_november) == ["M"]


class TestWholeBoard:
    async def test_one_pass_gives_what_the_parts_give(self, session: AsyncSession) -> None:
        b = await board_world(session)
        sup = b.w.supervisor_p
        with clock.frozen(NOW):
            whole = await supervision.board(session, sup)
            parts = (
                await supervision.summary(session, sup),
                await supervision.by_department(session, sup),
                await supervision.by_category(session, sup),
                await supervision.by_month(session, sup),
            )

        def flat(rows: Sequence[supervision.BoardRow]) -> list[tuple[object, ...]]:
            return [(r.key, r.label, r.open, r.closed, r.flags) for r in rows]

        assert flat([whole.summary.total]) == flat([parts[0].total])
        assert whole.summary.by_state == parts[0].by_state
        assert flat(whole.departments) == flat(parts[1])
        assert flat(whole.categories) == flat(parts[2])
        assert flat(whole.months) == flat(parts[3])
        assert whole.months[-1].closed.ratings == 1  # November: E, rated 4


class TestCaseLists:
    async def test_red_and_yellow_with_working_days(self, session: AsyncSession) -> None:
        b = await board_world(session)
        calendar = await load_calendar(session)
        with clock.frozen(NOW):
            red, red_total = await supervision.case_list(
                session, b.w.supervisor_p, query=CaseQuery(warning="red"), calendar=calendar
            )
            yellow, yellow_total = await supervision.case_list(
                session, b.w.supervisor_p, query=CaseQuery(warning="yellow"), calendar=calendar
            )
        assert (_numbers(red), red_total) == (["F"], 1)
        [f] = red
        assert f.warnings == {"promised": "red", "step": "red"}
        # The lists show the case's one deadline (its promised limit), not the step's.
        # The lists show the case's one deadline (cases/deadline.py): its promised limit of 10
        # working days ended on Mon 11-16, so on Fri 11-20 it is 4 working days overdue (the
        # step's red shows as a tag).
        assert (f.due_date, f.deadline_state) == (date(2026, 11, 16), "overdue")
        assert f.overdue_workdays == 4 and f.remaining_workdays == -4 and f.left_workdays is None
        assert f.category_name == "食品经营许可" and f.department_code == "SCJGJ"
        assert (_numbers(yellow), yellow_total) == (["G"], 1)
        # its step ends tonight
        # Its step ends tonight (the yellow tag); its promise, opened Wed 11-18 with 10
        # working days, ends Wed 12-02: 11-23 .. 12-02 are the 8 working days left.
        g = yellow[0]
        assert (g.due_date, g.deadline_state, g.left_workdays) == (date(2026, 12, 2), "on_time", 8)
        assert g.warnings == {"step": "yellow"}

    async def test_drill_downs(self, session: AsyncSession) -> None:
        b = await board_world(session)
        sup = b.w.supervisor_p

        async def numbers(query: CaseQuery, board_filter: BoardFilter | None = None) -> list[str]:
            lines, total = await supervision.case_list(session, sup, board_filter, query)
            assert total == len(lines)
            return _numbers(lines)

        with clock.frozen(NOW):
            assert await numbers(CaseQuery(status="open")) == ["F", "G", "H", "I"]
            assert await numbers(CaseQuery(status="closed")) == ["E", "D", "C", "A", "B"]
            assert await numbers(CaseQuery(month="2026-10")) == ["C", "A", "B"]
            assert await numbers(CaseQuery(late=True)) == ["C"]
            assert await numbers(CaseQuery(poor=True)) == ["C"]
            assert sorted(await numbers(CaseQuery(flag="any"))) == ["E", "F"]
            assert await numbers(CaseQuery(flag="reopened")) == ["F"]
            assert await numbers(CaseQuery(status="open", state="awaiting_supplement")) == ["I"]
            assert await numbers(CaseQuery(status="open"), BoardFilter(department="GAJ")) == ["H"]
            lines, total = await supervision.case_list(session, sup, limit=2, offset=1)
        assert total == 9 and len(lines) == 2
        [i] = (
            await supervision.case_list(session, sup, query=CaseQuery(state="awaiting_supplement"))
        )[0]
        assert i.paused is True

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            (CaseQuery(status="pending"), "status"),
            (CaseQuery(warning="purple"), "warning"),
            (CaseQuery(month="2026-1"), "month"),
            (CaseQuery(flag="sloppy"), "flag"),
            (CaseQuery(warning="red", late=True), "status"),
            (CaseQuery(status="open", month="2026-11"), "status"),
        ],
    )
    async def test_bad_drill_downs(
        self, session: AsyncSession, query: CaseQuery, field: str
    ) -> None:
        w = await world(session)
        with pytest.raises(InvalidInput) as info:
            await supervision.case_list(session, w.supervisor_p, query=query)
        assert info.value.extensions["field"] == field
        with pytest.raises(InvalidInput):
            await supervision.case_list(session, w.supervisor_p, limit=0)

    async def test_flags_in_scope(self, session: AsyncSession) -> None:
        b = await board_world(session)
        open_rows = await supervision.flag_list(session, b.w.supervisor_p)
        assert sorted(f.kind for f, _c, _d in open_rows) == ["out_of_order", "reopened"]
        reviewed = await supervision.flag_list(session, b.w.supervisor_p, open_only=False)
        # The department by its English name: these tests read in English (conftest).
        assert [(f.review_note, d[:12]) for f, _c, d in reviewed] == [("已核查", "Test bureau ")]
        mine = await supervision.flag_list(session, b.w.officer_p)
        assert [f.kind for f, _c, _d in mine] == ["reopened"]
        assert await supervision.flag_list(session, b.w.officer_p, kind="out_of_order") == []
        with pytest.raises(InvalidInput):
            await supervision.flag_list(session, b.w.supervisor_p, kind="sloppy")


def _rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


class TestExport:
    async def test_tables_as_csv_for_excel(self, session: AsyncSession) -> None:
        b = await board_world(session)
        with clock.frozen(NOW):
            rows = _rows(await supervision.export_table(session, b.w.supervisor_p, "department"))
            months = _rows(
                await supervision.export_table(
                    session,
                    b.w.supervisor_p,
                    "month",
                    BoardFilter(first_month="2026-10", last_month="2026-11"),
                )
            )
            items = _rows(await supervision.export_table(session, b.w.supervisor_p, "category"))
        assert rows[0][:3] == ["Key", "Name", "In progress"]
        assert rows[1][1].startswith("Test bureau ")  # the English name, in English
        rows[1][1] = "SCJGJ"
        assert rows[1] == [
            "SCJGJ", "SCJGJ", "3", "1", "1", "4", "3", "75.0", "2.2", "5", "2", "3.00", "1", "1"
        ]  # fmt: skip
        assert [r[0] for r in months[1:]] == ["2026-10", "2026-11"]
        assert "食品经营许可" in {r[1] for r in items}
        with pytest.raises(InvalidInput) as info:
            await supervision.export_table(session, b.w.supervisor_p, "persons")
        assert info.value.extensions["field"] == "table"

    async def test_cases_behind_a_drill_down(self, session: AsyncSession) -> None:
        b = await board_world(session)
        with clock.frozen(NOW):
            rows = _rows(
                await supervision.export_cases(
                    session, b.w.supervisor_p, query=CaseQuery(warning="red")
                )
            )
        assert rows[0][0] == "Case number"
        [line] = rows[1:]
        assert line[0] == b.cases["F"].number
        assert line[3] == "食品经营许可"
        assert "red" in line[-1]

    async def test_a_formula_in_a_title_stays_text(self, session: AsyncSession) -> None:
        w = await world(session)
        await service.open_case(
            session,
            w.applicant_p,
            case_type=APPLICATION.name,
            title='=HYPERLINK("http://evil.example","点我")',
            department_code="SCJGJ",
        )
        rows = _rows(await supervision.export_cases(session, w.supervisor_p))
        assert rows[1][1].startswith("'=HYPERLINK")


class TestCategoryNames:
    async def test_the_first_resolver_wins_and_codes_without_names_are_left_out(
        self, session: AsyncSession
    ) -> None:
        async def other(session: AsyncSession, codes: Sequence[str]) -> Mapping[str, str]:
            return {c: "别名" for c in codes}

        from smartcity.app import modules

        # declared twice, asked once; after the test's own (and the service hall's) resolvers
        twice = Module(name="tests.other", extends=(CategoryNames(other), CategoryNames(other)))
        install([*modules(), twice])
        try:
            assert supervision.installed_category_names().count(other) == 1
            names = await supervision.category_names(session, ["SCJGJ-001", "HOTLINE-7", ""])
        finally:
            install(modules())
        assert names == {"SCJGJ-001": "个体工商户设立登记", "HOTLINE-7": "别名"}
        assert await supervision.category_names(session, ["HOTLINE-7"]) == {}


def auth(account: Account) -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


async def _account(session: AsyncSession, principal_id: uuid.UUID | None) -> Account:
    account = await session.get(Account, principal_id)
    assert account is not None
    return account


class TestApi:
    async def test_figures_lists_and_exports(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        b = await board_world(session)
        sup = auth(await _account(session, b.w.supervisor_p.id))
        with clock.frozen(NOW):
            summary = await client.get("/api/v1/supervision/summary", headers=sup)
            assert summary.status_code == 200, summary.text
            body = summary.json()
            assert body["open"] == {"open": 4, "yellow": 1, "red": 1, "paused": 1}
            assert body["closed"]["p90_workdays"] == 5
            assert body["closed"]["on_time_rate"] == pytest.approx(0.8)
            assert body["open_flags"] == {"reopened": 1, "out_of_order": 1}
            assert (body["first_month"], body["last_month"]) == ("2025-12", "2026-11")
            assert body["open_by_state"][0]["state"] == "submitted"

            months = await client.get(
                "/api/v1/supervision/by-month",
                params={"from": "2026-10", "to": "2026-11"},
                headers=sup,
            )
            assert [r["key"] for r in months.json()] == ["2026-10", "2026-11"]
            departments = await client.get("/api/v1/supervision/by-department", headers=sup)
            assert [r["key"] for r in departments.json()] == ["SCJGJ", "GAJ"]
            items = await client.get(
                "/api/v1/supervision/by-category", params={"department": "GAJ"}, headers=sup
            )
            assert [r["label"] for r in items.json()] == ["居住证办理"]
            red = await client.get("/api/v1/supervision/red", headers=sup)
            assert red.json()["total"] == 1
            assert red.json()["items"][0]["id"] == str(b.cases["F"].id)
            yellow = await client.get("/api/v1/supervision/yellow", headers=sup)
            assert yellow.json()["items"][0]["number"] == b.cases["G"].number
            late = await client.get(
                "/api/v1/supervision/cases", params={"late": "true"}, headers=sup
            )
            assert [c["number"] for c in late.json()["items"]] == [b.cases["C"].number]

            export = await client.get(
                "/api/v1/supervision/export", params={"table": "category"}, headers=sup
            )
            assert export.status_code == 200
            assert export.headers["content-type"].startswith("text/csv")
            assert "attachment" in export.headers["content-disposition"]
            assert export.content.startswith("\ufeff".encode())
            cases_csv = await client.get(
                "/api/v1/supervision/export/cases", params={"warning": "red"}, headers=sup
            )
            assert len(_rows(cases_csv.content)) == 2

    async def test_staff_see_their_own_and_applicants_nothing(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        b = await board_world(session)
        # tokens are issued at the real time, which their expiry is checked against
        officer, applicant = auth(b.w.officer), auth(b.w.applicant)
        with clock.frozen(NOW):
            mine = await client.get("/api/v1/supervision/summary", headers=officer)
            assert mine.json()["open"]["open"] == 3
            assert mine.json()["own_department_only"] is True
            refused = await client.get("/api/v1/supervision/summary", headers=applicant)
            assert_problem(refused, 403, "forbidden")

    async def test_bad_input_is_a_problem(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        sup = auth(await _account(session, w.supervisor_p.id))
        for params in (
            {"from": "2026-13"},
            {"from": "2026/11"},
            {"department": "NOPE"},
            {"from": "2026-11", "to": "2026-01"},
        ):
            r = await client.get("/api/v1/supervision/summary", params=params, headers=sup)
            assert_problem(r, 422, "invalid-input")
            assert r.headers["content-type"] == "application/problem+json"
        r = await client.get("/api/v1/supervision/cases", params={"flag": "sloppy"}, headers=sup)
        assert_problem(r, 422, "invalid-input")
        r = await client.get("/api/v1/supervision/export", params={"table": "x"}, headers=sup)
        assert_problem(r, 422, "invalid-input")
        r = await client.get("/api/v1/supervision/red", params={"limit": 501}, headers=sup)
        assert_problem(r, 422, "invalid-input")


class TestPages:
    async def test_the_board_with_its_links(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        b = await board_world(session)
        sup = {**HTML, **auth(await _account(session, b.w.supervisor_p.id))}
        with clock.frozen(NOW):
            page = await client.get("/supervision", headers=sup)
        assert page.status_code == 200, page.text
        html = page.text
        # the red and yellow cases and the open flags link to their case pages
        # ... with the board as the way back
        for key in ("F", "G"):
            assert f'href="/cases/{b.cases[key].id}?back=/supervision"' in html
        assert f'href="/cases/{b.cases["E"].id}?back=/supervision"' in html
        assert 'action="/supervision/flags/' in html
        assert "食品经营许可" in html
        assert "/supervision/cases?warning=red" in html
        assert "/supervision/export.csv?table=department" in html
        assert '<script src="/static/vendor/plotly.min.js">' in html
        assert '"months": ["2025-12"' in html
        # the urgent lists come before the tables
        assert html.index("red-title") < html.index("departments-title")

    async def test_staff_board_and_a_bad_filter(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        b = await board_world(session)
        staff = {**HTML, **auth(b.w.outsider)}
        applicant = {**HTML, **auth(b.w.applicant)}
        with clock.frozen(NOW):
            page = await client.get("/supervision", headers=staff)
            assert page.status_code == 200
            assert b.cases["H"].number not in page.text  # not yellow or red
            assert b.cases["F"].number not in page.text
            bad = await client.get("/supervision", params={"from": "2026-99"}, headers=staff)
        assert bad.status_code == 422
        assert 'id="from-error"' in bad.text
        refused = await client.get("/supervision", headers=applicant)
        assert refused.status_code == 403

    async def test_drill_down_page_and_csv(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        b = await board_world(session)
        sup = {**HTML, **auth(await _account(session, b.w.supervisor_p.id))}
        with clock.frozen(NOW):
            page = await client.get(
                "/supervision/cases",
                params={"status": "closed", "department": "SCJGJ"},
                headers=sup,
            )
            assert page.status_code == 200
            back = "?back=/supervision/cases%3Fstatus%3Dclosed%26department%3DSCJGJ"
            for key in ("A", "B", "C", "D"):
                assert f'href="/cases/{b.cases[key].id}{back}"' in page.text
            assert b.cases["E"].number not in page.text
            assert "/supervision/cases.csv?" in page.text
            bad = await client.get("/supervision/cases", params={"warning": "purple"}, headers=sup)
            assert bad.status_code == 422
            exported = await client.get("/supervision/cases.csv", params={"late": "1"}, headers=sup)
            assert [r[0] for r in _rows(exported.content)[1:]] == [b.cases["C"].number]
            table = await client.get(
                "/supervision/export.csv", params={"table": "month"}, headers=sup
            )
            assert len(_rows(table.content)) == 13

    async def test_reviewing_a_flag_from_the_page(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        b = await board_world(session)
        sup = {**HTML, **auth(await _account(session, b.w.supervisor_p.id))}
        page = await client.get("/supervision/flags", headers=sup)
        assert page.status_code == 200
        [flag] = [
            f
            for f, _c, _d in await supervision.flag_list(session, b.w.supervisor_p, kind="reopened")
        ]
        path = f"/supervision/flags/{flag.id}/review"
        token = csrf_of(page.text)
        empty = await client.post(path, headers=sup, data={"csrf_token": token, "note": "  "})
        assert empty.status_code == 422
        assert f'id="note-{flag.id}-error"' in empty.text
        forged = await client.post(path, headers=sup, data={"csrf_token": "forged", "note": "x"})
        assert forged.status_code == 400
        staff = await client.post(
            path, headers={**HTML, **auth(b.w.officer)}, data={"csrf_token": token, "note": "x"}
        )
        assert staff.status_code == 403
        done = await client.post(
            path,
            headers=sup,
            data={
                "csrf_token": token,
                "note": "已约谈经办人",
                "outcome": "confirmed",
                "next": "/supervision",
            },
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/supervision?reviewed=1"
        await session.refresh(flag)
        assert flag.review_note == "已约谈经办人"
        again = await client.post(
            path, headers=sup, data={"csrf_token": token, "note": "再次", "outcome": "dismissed"}
        )
        assert again.status_code == 409
        unknown = await client.post(
            f"/supervision/flags/{uuid.uuid4()}/review",
            headers=sup,
            data={"csrf_token": token, "note": "x"},
        )
        assert unknown.status_code == 404

    async def test_plotly_is_served_without_a_cdn(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/static/vendor/plotly.min.js")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/javascript")
        assert b"plotly" in r.content[:2000].lower()
        assert len(r.content) > 1_000_000
