"""The insight's figures on a hand-built month (tests/hotline/insight/factories.py), on both
databases: every KPI exactly, the hot spots per place, category and day, the rising topics,
and who sees what."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.hotline.insight import service as insight
from tests.hotline.factories import CENTRE, HANDLER, OTHER, people
from tests.hotline.insight.factories import (
    FUTIAN,
    FUTIAN_A,
    LUOHU,
    LUOHU_A,
    LUOHU_B,
    month,
)

NOVEMBER = insight.window("month", date(2026, 11, 20))


class TestKpis:
    async def test_each_kpi_per_department(self, session: AsyncSession) -> None:
        m = await month(session)
        found = await insight.kpis(session, m.who.supervisor, NOVEMBER)
        rows = {r.key: r for r in found.rows}
        assert set(rows) == {HANDLER, CENTRE}  # F, closed at intake, is the centre's
        cgj = rows[HANDLER]
        # A B C D E received; G was received in October.
        assert (cgj.received, cgj.closed, cgj.on_time) == (5, 4, 3)
        assert cgj.closed_rate == pytest.approx(0.8)
        assert cgj.on_time_rate == pytest.approx(0.75)  # D closed after its 3 working days
        assert (cgj.rated, cgj.satisfied) == (4, 4)  # 基本满意 counts as satisfied
        assert cgj.satisfaction_rate == pytest.approx(1.0)
        assert (cgj.dispatched, cgj.returned) == (5, 1)
        assert cgj.return_rate == pytest.approx(0.2)
        assert cgj.reworked == 1 and cgj.rework_rate == pytest.approx(0.25)
        assert cgj.days == {0: 3, 10: 1}
        assert cgj.average_days == pytest.approx(2.5)
        assert cgj.p90_days == 10
        centre = rows[CENTRE]
        assert (centre.received, centre.closed, centre.on_time, centre.dispatched) == (1, 1, 1, 0)
        assert centre.return_rate is None and centre.satisfaction_rate is None
        assert (centre.average_days, centre.p90_days) == (0.0, 0)
        assert found.total.received == 6 and found.total.closed == 5
        assert found.total.on_time_rate == pytest.approx(0.8)

    async def test_per_street_and_category(self, session: AsyncSession) -> None:
        m = await month(session)
        found = await insight.kpis(session, m.who.agent, NOVEMBER, by="street")
        rows = {r.key: r for r in found.rows}
        assert {k: r.received for k, r in rows.items()} == {
            LUOHU_A: 2,
            LUOHU_B: 1,
            FUTIAN_A: 2,
            "": 1,
        }
        assert rows[LUOHU_A].district_code == LUOHU
        assert rows[LUOHU_A].return_rate == pytest.approx(0.5)
        assert rows[LUOHU_B].rework_rate == pytest.approx(1.0)
        assert rows[FUTIAN_A].on_time_rate == pytest.approx(0.0)
        city = await insight.kpis(session, m.who.agent, NOVEMBER, category="03")
        assert [(r.key, r.received) for r in city.rows] == [(HANDLER, 1)]

    async def test_october_alone(self, session: AsyncSession) -> None:
        m = await month(session)
        october = insight.window("month", date(2026, 10, 1))
        found = await insight.kpis(session, m.who.supervisor, october)
        assert [(r.key, r.received, r.closed) for r in found.rows] == [(HANDLER, 1, 1)]

    def test_percentile(self) -> None:
        assert insight.percentile({}, 0.9) is None
        assert insight.percentile({1: 9, 7: 1}, 0.9) == 1
        assert insight.percentile({1: 8, 7: 2}, 0.9) == 7


class TestAccess:
    async def test_a_department_sees_only_its_own_rows(self, session: AsyncSession) -> None:
        m = await month(session)
        own = await insight.kpis(session, m.who.officer, NOVEMBER)
        assert [r.key for r in own.rows] == [HANDLER]
        other = await insight.kpis(session, m.who.other_officer, NOVEMBER)
        assert other.rows == [] and other.total.received == 0
        spots = await insight.hotspots(session, m.who.other_officer, NOVEMBER)
        assert spots.total == 0
        # Asking for another department changes nothing for a department's officer.
        asked = await insight.kpis(session, m.who.other_officer, NOVEMBER, department=HANDLER)
        assert asked.rows == []
        mine = await insight.hotspots(session, m.who.officer, NOVEMBER)
        assert mine.total == 5

    async def test_citizens_are_refused(self, session: AsyncSession) -> None:
        m = await month(session)
        with pytest.raises(Forbidden) as refused:
            await insight.hotspots(session, m.who.citizen, NOVEMBER)
        assert refused.value.type == "/problems/insight-forbidden"
        with pytest.raises(Forbidden):
            await insight.kpis(session, m.who.citizen, NOVEMBER)
        with pytest.raises(Forbidden):
            await insight.topics(session, m.who.citizen)


class TestHotspots:
    async def test_per_district_street_category_and_day(self, session: AsyncSession) -> None:
        m = await month(session)
        found = await insight.hotspots(session, m.who.agent, NOVEMBER)
        assert found.total == 6
        assert [(p.code, p.count) for p in found.places] == [(LUOHU, 3), (FUTIAN, 2), ("", 1)]
        assert [(c.code, c.count) for c in found.categories] == [("01", 5), ("03", 1)]
        series = dict(found.series)
        assert len(series) == 30 and series["2026-11-02"] == 6 and sum(series.values()) == 6
        streets = await insight.hotspots(
            session, m.who.supervisor, NOVEMBER, level="street", category="01.01"
        )
        assert [(p.code, p.district_code, p.count) for p in streets.places] == [
            (LUOHU_A, LUOHU, 2),
            ("", "", 1),
            (LUOHU_B, LUOHU, 1),
            (FUTIAN_A, FUTIAN, 1),
        ]
        assert [(c.code, c.count) for c in streets.categories] == [("01.01.01", 5)]
        handled = await insight.hotspots(session, m.who.supervisor, NOVEMBER, department=OTHER)
        assert handled.total == 0

    async def test_a_day_by_the_hour(self, session: AsyncSession) -> None:
        m = await month(session)
        day = insight.window("day", date(2026, 11, 2))
        found = await insight.hotspots(session, m.who.agent, day)
        assert len(found.series) == 24
        assert dict(found.series)["2026-11-02 09"] == 6  # 09:00 in the city, 01:00 UTC

    def test_windows(self) -> None:
        week = insight.window("week", date(2026, 11, 5))
        assert (week.first, week.last) == (date(2026, 11, 2), date(2026, 11, 8))
        assert (NOVEMBER.first, NOVEMBER.last, NOVEMBER.days) == (
            date(2026, 11, 1),
            date(2026, 11, 30),
            30,
        )
        assert NOVEMBER.start.isoformat() == "2026-10-31T16:00:00+00:00"
        span = insight.window(first=date(2026, 1, 1), last=date(2026, 12, 31))
        assert span.days == 365

    @pytest.mark.parametrize(
        ("kwargs", "slug"),
        [
            ({"period": "year"}, "insight-bad-period"),
            ({"first": date(2025, 1, 1), "last": date(2026, 1, 2)}, "insight-bad-range"),
            ({"first": date(2026, 2, 1), "last": date(2026, 1, 1)}, "insight-bad-range"),
            ({"first": date(2026, 2, 1)}, "insight-bad-range"),
            ({"on": date(1999, 12, 31)}, "insight-date-out-of-range"),
        ],
    )
    def test_bad_windows(self, kwargs: dict[str, object], slug: str) -> None:
        with pytest.raises(InvalidInput) as refused:
            insight.window(**kwargs)  # type: ignore[arg-type]
        assert refused.value.slug == slug

    async def test_bad_level_and_category(self, session: AsyncSession) -> None:
        m = await people(session)
        with pytest.raises(InvalidInput) as refused:
            await insight.hotspots(session, m.agent, NOVEMBER, level="grid")
        assert refused.value.slug == "insight-bad-level"
        with pytest.raises(InvalidInput) as refused:
            await insight.hotspots(session, m.agent, NOVEMBER, category="99")
        assert refused.value.slug == "unknown-category"


class TestTopics:
    def test_rising_terms(self) -> None:
        this_week = ["地铁站门口共享单车乱停放"] * 4 + ["路灯不亮", "工地夜间施工噪声扰民"] * 2
        before = ["工地夜间施工噪声扰民"] * 6 + ["路灯不亮"] * 2 + ["地铁站门口共享单车乱停放"]
        found = insight.rising(this_week, before, min_count=3, limit=10)
        terms = [t.term for t in found]
        assert set(terms[:5]) == {"地铁站", "门口", "共享", "单车", "停放"}  # 乱: one character
        top = found[0]
        assert (top.count, top.previous_count) == (4, 1)
        assert top.share == pytest.approx(0.5) and top.previous_share == pytest.approx(1 / 9)
        assert "噪声" not in terms  # its share fell (6 of 9 before, 2 of 8 now)
        assert "灯不亮" not in terms  # only 2 orders this week: below the minimum
        assert "影响" not in insight.terms_of("影响通行") and "通行" in insight.terms_of("影响通行")

    def test_minimum_count_and_new_terms(self) -> None:
        found = insight.rising(["暴雨内涝"] * 2, [], min_count=2, limit=5)
        assert {t.term for t in found} == {"暴雨", "内涝"}
        assert found[0].previous_share == 0.0
        assert insight.rising(["暴雨内涝"] * 2, [], min_count=3, limit=5) == []

    async def test_from_the_orders(self, session: AsyncSession) -> None:
        m = await month(session)
        found = await insight.topics(session, m.who.agent, on=date(2026, 11, 4), min_count=2)
        assert (found.week_first, found.orders, found.previous_orders) == (
            date(2026, 11, 2),
            6,
            1,  # G, in October
        )
        rows = {t.term: t for t in found.topics}
        assert rows["地铁站"].count == 2 and rows["地铁站"].previous_count == 0
        assert rows["噪声"].count == 2  # C and D
        assert "单车" not in rows  # 2 of 6 this week, but G's only term before (1 of 1)

    async def test_bad_bounds(self, session: AsyncSession) -> None:
        m = await people(session)
        with pytest.raises(InvalidInput) as refused:
            await insight.topics(session, m.agent, min_count=0)
        assert refused.value.slug == "insight-bad-min-count"
        with pytest.raises(InvalidInput) as refused:
            await insight.topics(session, m.agent, limit=51)
        assert refused.value.slug == "insight-bad-limit"
