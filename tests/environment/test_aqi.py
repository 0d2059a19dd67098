"""HJ 633 air quality index, both editions, against the standard's tables typed in here by
hand (not read from the code, and not from any PyPI AQI package)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcity.core.clock import CITY_TZ
from smartcity.environment.aqi import (
    BREAKPOINTS,
    CATEGORIES,
    CO_1H,
    CO_24H,
    NO2_1H,
    NO2_24H,
    O3_1H,
    O3_8H,
    PM2_5_1H,
    PM2_5_24H,
    PM10_1H,
    PM10_24H,
    SO2_1H,
    SO2_24H,
    AirQualityInputError,
    CompanionRequired,
    Edition,
    Indicator,
    InvalidConcentration,
    Period,
    Pollutant,
    Rule,
    UnknownPollutant,
    UnsupportedIndicator,
    WrongUnit,
    assess,
    breakpoints,
    category_for,
    combine,
    edition_for,
    indicator_from,
    pollutant_from,
    sub_index,
)

OLD, NEW = Edition.HJ_633_2012, Edition.HJ_633_2026
FAST = settings(max_examples=300, deadline=None, database=None)

# HJ 633 表1, concentration at IAQI 0, 50, 100, 150, 200, 300, 400, 500 (CO in mg/m³).
LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
TABLE_2012 = {
    SO2_24H: (0, 50, 150, 475, 800, 1600, 2100, 2620),
    SO2_1H: (0, 150, 500, 650, 800),
    NO2_24H: (0, 40, 80, 180, 280, 565, 750, 940),
    NO2_1H: (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    PM10_24H: (0, 50, 150, 250, 350, 420, 500, 600),
    CO_24H: (0, 2, 4, 14, 24, 36, 48, 60),
    CO_1H: (0, 5, 10, 35, 60, 90, 120, 150),
    O3_1H: (0, 160, 200, 300, 400, 800, 1000, 1200),
    O3_8H: (0, 100, 160, 215, 265, 800),
    PM2_5_24H: (0, 35, 75, 115, 150, 250, 350, 500),
}
TABLE_2026 = {
    **TABLE_2012,
    PM10_24H: (0, 50, 120, 250, 350, 420, 500, 600),
    PM2_5_24H: (0, 35, 60, 115, 150, 250, 350, 500),
    PM10_1H: (0, 50, 120, 250, 350, 420, 500, 600),
    PM2_5_1H: (0, 35, 60, 115, 150, 250, 350, 500),
}
TABLES = {OLD: TABLE_2012, NEW: TABLE_2026}


def _step(indicator: Indicator) -> Decimal:
    # Small enough that slope × step < 1 on every segment (steepest: 25 per mg/m³ for CO
    # 24 h, 2 per µg/m³ for PM2.5 35–60 in 2026), so "just below" still rounds up to the
    # breakpoint's IAQI and "just above" to one more.
    return Decimal("0.001") if indicator.pollutant is Pollutant.CO else Decimal("0.01")


BOUNDARIES = [
    pytest.param(edition, indicator, i, id=f"{edition.value}-{indicator.code}-{table[i]}")
    for edition, tables in TABLES.items()
    for indicator, table in tables.items()
    for i in range(len(table))
]


@pytest.mark.parametrize(("edition", "indicator", "i"), BOUNDARIES)
def test_every_breakpoint_below_at_and_above(
    edition: Edition, indicator: Indicator, i: int
) -> None:
    table = TABLES[edition][indicator]
    bp, level = Decimal(table[i]), LEVELS[i]
    step = _step(indicator)
    at = sub_index(indicator, bp, edition=edition)
    assert (at.value, at.exact, at.rule) == (level, Fraction(level), None)
    if i > 0:
        assert sub_index(indicator, bp - step, edition=edition).value == level
    if i < len(table) - 1:
        assert sub_index(indicator, bp + step, edition=edition).value == level + 1


def test_the_tables_in_the_code_are_the_standards() -> None:
    for edition, tables in TABLES.items():
        assert dict(BREAKPOINTS[edition]) == tables
        for indicator, table in tables.items():
            assert breakpoints(indicator, edition) == tuple(zip(table, LEVELS, strict=False))


# Mid-segment values worked by hand: IAQI = (IAQI_Hi − IAQI_Lo)/(BP_Hi − BP_Lo)·(C − BP_Lo)
# + IAQI_Lo, then rounded up.
@pytest.mark.parametrize(
    ("edition", "indicator", "concentration", "expected"),
    [
        (OLD, PM2_5_24H, 50, 69),  # 50 + 50·15/40 = 68.75
        (NEW, PM2_5_24H, 50, 80),  # 50 + 50·15/25 = 80
        (OLD, PM2_5_24H, 75, 100),
        (NEW, PM2_5_24H, 75, 114),  # 100 + 50·15/55 = 113.6
        (OLD, PM2_5_24H, 80, 107),  # 100 + 50·5/40 = 106.25
        (NEW, PM2_5_24H, 80, 119),  # 100 + 50·20/55 = 118.2
        (OLD, PM10_24H, 140, 95),  # 50 + 50·90/100
        (NEW, PM10_24H, 140, 108),  # 100 + 50·20/130 = 107.7
        (NEW, PM10_1H, 140, 108),
        (NEW, PM2_5_1H, 200, 250),  # 200 + 100·50/100
        (OLD, CO_24H, 3, 75),
        (OLD, CO_24H, Decimal("2.5"), 63),  # 62.5
        (OLD, CO_24H, Decimal("1.2"), 30),
        (OLD, SO2_24H, 300, 124),  # 100 + 50·150/325 = 123.1
        (OLD, SO2_24H, 10, 10),
        (OLD, NO2_24H, 50, 63),  # 50 + 50·10/40 = 62.5
        (OLD, NO2_1H, 350, 115),  # 100 + 50·150/500
        (OLD, O3_8H, 180, 119),  # 100 + 50·20/55 = 118.2
        (OLD, O3_8H, 120, 67),  # 50 + 50·20/60 = 66.7
        (OLD, O3_1H, 900, 350),  # 300 + 100·100/200
        (OLD, CO_1H, 20, 120),  # 100 + 50·10/25
        (OLD, PM10_24H, 380, 243),  # 200 + 100·30/70 = 242.9
        (OLD, PM2_5_24H, 420, 447),  # 400 + 100·70/150 = 446.7
        (OLD, SO2_1H, 700, 167),  # 150 + 50·50/150 = 166.7
        (OLD, O3_8H, 500, 244),  # 200 + 100·235/535 = 243.9
    ],
)
def test_worked_values(
    edition: Edition, indicator: Indicator, concentration: int | Decimal, expected: int
) -> None:
    assert sub_index(indicator, concentration, edition=edition).value == expected


@pytest.mark.parametrize(
    ("indicator", "value", "expected"),
    [
        # Each of these gives one more with float arithmetic and math.ceil.
        (CO_24H, 2.2, 55),
        (PM2_5_24H, 4.9, 7),
        (PM2_5_24H, 128.3, 169),
        (O3_8H, 102.4, 52),
        (O3_8H, 163.3, 103),
        (PM2_5_24H, 75.0, 100),
        (CO_24H, 1.2, 30),
    ],
)
def test_floats_are_read_by_their_decimal_form(
    indicator: Indicator, value: float, expected: int
) -> None:
    result = sub_index(indicator, value, edition=OLD)
    assert result.value == expected
    assert result.concentration == Decimal(str(value))


# --- above the tables -------------------------------------------------------------------


def test_so2_hour_above_800_in_2012_takes_the_24_hour_sub_index() -> None:
    at_800 = sub_index(SO2_1H, 800, edition=OLD)
    assert (at_800.value, at_800.rule) == (200, None)
    above = sub_index(SO2_1H, Decimal("800.01"), edition=OLD, companion=300)
    assert (above.value, above.rule) == (124, Rule.SO2_1H_FROM_24H)
    assert above.via is not None and above.via.indicator == SO2_24H
    assert above.reported_as == SO2_24H
    with pytest.raises(CompanionRequired) as refused:
        sub_index(SO2_1H, 900, edition=OLD)
    assert isinstance(refused.value, ValueError)
    assert refused.value.pollutant == "SO2_1h"
    assert "SO2_24h" in str(refused.value)


def test_so2_hour_above_800_in_2026_is_200() -> None:
    for value in (Decimal("800.01"), 900, 5000):
        result = sub_index(SO2_1H, value, edition=NEW, companion=2000)
        assert (result.value, result.rule, result.via) == (200, Rule.SO2_1H_FIXED_200, None)


def test_o3_8_hours_above_800_in_2012_takes_the_1_hour_sub_index() -> None:
    assert sub_index(O3_8H, 800, edition=OLD).value == 300
    above = sub_index(O3_8H, 850, edition=OLD, companion=900)
    assert (above.value, above.rule, above.reported_as) == (350, Rule.O3_8H_FROM_1H, O3_1H)
    with pytest.raises(CompanionRequired):
        sub_index(O3_8H, 850, edition=OLD)


def test_o3_8_hours_above_800_in_2026_is_300() -> None:
    result = sub_index(O3_8H, 850, edition=NEW)
    assert (result.value, result.rule) == (300, Rule.O3_8H_FIXED_300)


@pytest.mark.parametrize(
    ("edition", "indicator", "value"),
    [
        (OLD, PM2_5_24H, Decimal("500.01")),
        (NEW, PM2_5_1H, 900),
        (OLD, PM10_24H, 601),
        (OLD, SO2_24H, 3000),
        (OLD, NO2_24H, 941),
        (OLD, NO2_1H, 4000),
        (OLD, CO_24H, Decimal("60.1")),
        (OLD, CO_1H, 151),
        (NEW, O3_1H, 1201),
    ],
)
def test_above_the_top_breakpoint_is_reported_as_500(
    edition: Edition, indicator: Indicator, value: int | Decimal
) -> None:
    result = sub_index(indicator, value, edition=edition)
    assert (result.value, result.rule, result.exact) == (500, Rule.ABOVE_SCALE, None)


def test_2012_has_no_hourly_particle_columns_and_no_edition_has_daily_ozone() -> None:
    with pytest.raises(UnsupportedIndicator):
        sub_index(PM2_5_1H, 50, edition=OLD)
    with pytest.raises(UnsupportedIndicator):
        sub_index(PM10_1H, 50, edition=OLD)
    with pytest.raises(UnsupportedIndicator):
        sub_index(Indicator(Pollutant.O3, Period.DAY), 50, edition=NEW)
    with pytest.raises(UnsupportedIndicator):
        breakpoints(PM2_5_1H, OLD)


# --- the index --------------------------------------------------------------------------

DAILY_EXAMPLE: dict[Indicator, int | Decimal] = {
    PM2_5_24H: 80,
    PM10_24H: 140,
    SO2_24H: 10,
    NO2_24H: 50,
    CO_24H: Decimal("1.2"),
    O3_8H: 120,
}


def test_the_references_daily_example_under_2026() -> None:
    result = assess(DAILY_EXAMPLE, edition=NEW)
    values = {s.indicator: s.value for s in result.sub_indices}
    assert values == {
        PM2_5_24H: 119,
        PM10_24H: 108,
        SO2_24H: 10,
        NO2_24H: 63,
        CO_24H: 30,
        O3_8H: 67,
    }
    assert result.aqi == 119
    assert result.primary_pollutants == (PM2_5_24H,)
    assert [p.label_zh for p in result.primary_pollutants] == ["细颗粒物"]
    assert [p.label_code for p in result.primary_pollutants] == ["PM2.5"]
    assert result.exceeding_pollutants == (PM2_5_24H, PM10_24H)
    assert result.category is not None
    assert (result.category.level, result.category.name_zh, result.category.rgb_hex) == (
        3,
        "轻度污染",
        "#FF7E00",
    )


def test_the_references_daily_example_under_2012() -> None:
    result = assess(DAILY_EXAMPLE, edition=OLD)
    assert result.aqi == 107
    assert result.primary_pollutants == (PM2_5_24H,)
    assert result.exceeding_pollutants == (PM2_5_24H,)
    assert result.category is not None and result.category.name_zh == "轻度污染"


def test_tied_primary_pollutants_are_all_listed() -> None:
    two = assess({PM2_5_24H: 60, PM10_24H: 120, NO2_24H: 10}, edition=NEW)
    assert (two.aqi, two.primary_pollutants) == (100, (PM2_5_24H, PM10_24H))
    assert [p.label_zh for p in two.primary_pollutants] == ["细颗粒物", "可吸入颗粒物"]
    assert two.exceeding_pollutants == ()
    three = assess({NO2_24H: 80, PM10_24H: 150, PM2_5_24H: 75, SO2_24H: 5}, edition=OLD)
    assert three.primary_pollutants == (PM2_5_24H, PM10_24H, NO2_24H)
    # Rounding up makes ties: 101.25 and 101.5 both report 102.
    rounded = assess({PM2_5_24H: 76, PM10_24H: 153}, edition=OLD)
    assert (rounded.aqi, rounded.primary_pollutants) == (102, (PM2_5_24H, PM10_24H))
    assert rounded.exceeding_pollutants == (PM2_5_24H, PM10_24H)


def test_no_primary_pollutant_up_to_50() -> None:
    at_50 = assess({PM2_5_24H: 35, O3_8H: 100}, edition=OLD)
    assert (at_50.aqi, at_50.primary_pollutants) == (50, ())
    assert at_50.category is not None and at_50.category.name_zh == "优"
    at_51 = assess({PM2_5_24H: Decimal("35.1"), O3_8H: Decimal(100)}, edition=OLD)
    assert (at_51.aqi, at_51.primary_pollutants) == (51, (PM2_5_24H,))


def test_ozone_is_named_with_its_period() -> None:
    eight = assess({O3_8H: 180, O3_1H: 180, PM2_5_24H: 10}, edition=OLD)
    assert eight.primary_pollutants == (O3_8H,)
    assert [(p.label_zh, p.label_code) for p in eight.primary_pollutants] == [
        ("臭氧8小时", "O3_8h")
    ]
    one = assess({O3_8H: 100, O3_1H: 350}, edition=OLD)
    assert [(p.label_zh, p.label_code) for p in one.primary_pollutants] == [("臭氧1小时", "O3_1h")]


def test_2012_o3_8h_above_800_is_not_counted_twice_beside_o3_1h() -> None:
    result = assess({O3_8H: 850, O3_1H: 900, PM2_5_24H: 20}, edition=OLD)
    assert result.aqi == 350
    assert result.primary_pollutants == (O3_1H,)
    assert result.exceeding_pollutants == (O3_1H,)
    eight = result.sub_index_of(O3_8H)
    assert eight is not None and eight.rule is Rule.O3_8H_FROM_1H


def test_2012_so2_hour_above_800_uses_a_companion() -> None:
    result = assess(
        {SO2_1H: 900, NO2_1H: 50, PM2_5_24H: 20}, edition=OLD, companions={SO2_24H: 300}
    )
    assert (result.aqi, result.primary_pollutants) == (124, (SO2_24H,))
    assert [p.label_zh for p in result.primary_pollutants] == ["二氧化硫"]
    with pytest.raises(CompanionRequired):
        assess({SO2_1H: 900}, edition=OLD)
    in_2026 = assess({SO2_1H: 900}, edition=NEW)
    assert (in_2026.aqi, in_2026.primary_pollutants) == (200, (SO2_1H,))


def test_empty_set_has_no_index() -> None:
    result = assess({}, edition=NEW)
    assert (result.aqi, result.category, result.primary_pollutants) == (None, None, ())


def test_indicators_by_code_and_duplicates() -> None:
    result = assess({"PM2.5_24h": 80, "pm10_24h": 140}, edition=NEW)
    assert result.aqi == 119
    with pytest.raises(AirQualityInputError):
        assess({"PM2.5_24h": 80, "PM25_24h": 80}, edition=NEW)
    one = sub_index(PM2_5_24H, 80, edition=NEW)
    with pytest.raises(AirQualityInputError, match="twice"):
        combine([one, one], edition=NEW)


# --- categories -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aqi", "level", "name", "colour", "rgb", "cmyk"),
    [
        (0, 1, "优", "绿色", "#00E400", (40, 0, 100, 0)),
        (50, 1, "优", "绿色", "#00E400", (40, 0, 100, 0)),
        (51, 2, "良", "黄色", "#FFFF00", (0, 0, 100, 0)),
        (100, 2, "良", "黄色", "#FFFF00", (0, 0, 100, 0)),
        (101, 3, "轻度污染", "橙色", "#FF7E00", (0, 52, 100, 0)),
        (150, 3, "轻度污染", "橙色", "#FF7E00", (0, 52, 100, 0)),
        (151, 4, "中度污染", "红色", "#FF0000", (0, 100, 100, 0)),
        (200, 4, "中度污染", "红色", "#FF0000", (0, 100, 100, 0)),
        (201, 5, "重度污染", "紫色", "#99004C", (10, 100, 40, 30)),
        (300, 5, "重度污染", "紫色", "#99004C", (10, 100, 40, 30)),
        (301, 6, "严重污染", "褐红色", "#7E0023", (30, 100, 100, 30)),
        (500, 6, "严重污染", "褐红色", "#7E0023", (30, 100, 100, 30)),
    ],
)
def test_categories_and_colours(
    aqi: int, level: int, name: str, colour: str, rgb: str, cmyk: tuple[int, ...]
) -> None:
    category = category_for(aqi)
    assert (category.level, category.name_zh, category.colour_zh) == (level, name, colour)
    assert (category.rgb_hex, category.cmyk) == (rgb, cmyk)
    assert category.level_zh == "一二三四五六"[level - 1] + "级"
    assert category.health_effect and category.advice


def test_categories_cover_the_scale_without_gaps() -> None:
    assert [c.level for c in CATEGORIES] == [1, 2, 3, 4, 5, 6]
    for lower, upper in pairwise(CATEGORIES):
        assert lower.aqi_high is not None and upper.aqi_low == lower.aqi_high + 1


@pytest.mark.parametrize("bad", [-1, 1.5, "100", None, True])
def test_category_refuses_what_is_not_an_aqi(bad: object) -> None:
    with pytest.raises(AirQualityInputError):
        category_for(bad)  # type: ignore[arg-type]


# --- editions ---------------------------------------------------------------------------


def test_edition_switches_at_midnight_shanghai_on_1_march_2026() -> None:
    switch = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert edition_for(switch) is NEW
    assert edition_for(switch - timedelta(microseconds=1)) is OLD
    assert edition_for(datetime(2026, 3, 1, tzinfo=CITY_TZ)) is NEW
    assert edition_for(datetime(2026, 2, 28, 23, 59, tzinfo=CITY_TZ)) is OLD
    assert edition_for(date(2026, 2, 28)) is OLD
    assert edition_for(date(2026, 3, 1)) is NEW
    assert edition_for(date(2013, 1, 1)) is OLD
    with pytest.raises(AirQualityInputError, match="timezone"):
        edition_for(datetime(2026, 3, 1))
    with pytest.raises(AirQualityInputError):
        edition_for("2026-03-01")  # type: ignore[arg-type]


def test_the_same_day_under_both_editions() -> None:
    day = {PM2_5_24H: 70}
    before = assess(day, edition=edition_for(date(2026, 2, 28)))
    after = assess(day, edition=edition_for(date(2026, 3, 1)))
    assert (before.aqi, after.aqi) == (94, 110)  # 50 + 50·35/40 = 93.75; 100 + 50·10/55
    assert before.category is not None and before.category.name_zh == "良"
    assert after.category is not None and after.category.name_zh == "轻度污染"


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (-1, "negative"),
        (Decimal("-0.1"), "negative"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("sNaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        ("75", "number"),
        (None, "number"),
        (True, "number"),
        ([75], "number"),
    ],
)
def test_bad_concentrations_name_the_indicator_and_the_problem(value: object, problem: str) -> None:
    with pytest.raises(InvalidConcentration) as refused:
        sub_index(PM2_5_24H, value, edition=NEW)  # type: ignore[arg-type]
    assert isinstance(refused.value, ValueError)
    assert refused.value.pollutant == "PM2.5_24h"
    assert problem in refused.value.problem
    assert str(refused.value).startswith("PM2.5_24h: ")


def test_negative_zero_is_zero() -> None:
    result = sub_index(PM2_5_24H, -0.0, edition=NEW)
    assert (result.value, str(result.concentration)) == (0, "0.0")


@pytest.mark.parametrize("code", ["PM1", "benzene", "", "O3_2h", "PM2.5", "NOx_1h", 42])
def test_unknown_indicators(code: object) -> None:
    with pytest.raises(UnknownPollutant):
        sub_index(code, 10, edition=NEW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("PM2.5", Pollutant.PM2_5),
        ("pm25", Pollutant.PM2_5),
        ("PM2_5", Pollutant.PM2_5),
        ("PM₂.₅", Pollutant.PM2_5),
        ("细颗粒物", Pollutant.PM2_5),
        ("可吸入颗粒物", Pollutant.PM10),
        ("so2", Pollutant.SO2),
        ("NO₂", Pollutant.NO2),
        ("一氧化碳", Pollutant.CO),
        ("臭氧", Pollutant.O3),
    ],
)
def test_pollutant_codes(code: str, expected: Pollutant) -> None:
    assert pollutant_from(code) is expected
    assert indicator_from(f"{code}_1h") == Indicator(expected, Period.HOUR)


@pytest.mark.parametrize(
    ("indicator", "unit"),
    [
        (PM2_5_24H, "mg/m³"),
        (CO_24H, "µg/m³"),
        (CO_1H, "ug/m3"),
        (NO2_1H, "ppb"),
        (O3_8H, "ppm"),
        (SO2_24H, 5),
    ],
)
def test_wrong_units(indicator: Indicator, unit: object) -> None:
    with pytest.raises(WrongUnit) as refused:
        sub_index(indicator, 10, edition=NEW, unit=unit)  # type: ignore[arg-type]
    assert refused.value.pollutant == indicator.pollutant.value


@pytest.mark.parametrize(
    ("indicator", "unit"),
    [
        (PM2_5_24H, "µg/m³"),
        (PM2_5_24H, "μg/m³"),  # Greek mu
        (PM10_24H, "ug/m3"),
        (O3_8H, "µg/m^3"),
        (CO_24H, "mg/m³"),
        (CO_1H, "mg/m3"),
    ],
)
def test_the_tables_units_in_any_spelling(indicator: Indicator, unit: str) -> None:
    assert sub_index(indicator, 10, edition=NEW, unit=unit).value >= 0


def test_units_are_checked_in_assess_too() -> None:
    with pytest.raises(WrongUnit):
        assess({CO_24H: 1200}, edition=NEW, units={CO_24H: "µg/m³"})


# --- properties -------------------------------------------------------------------------

PLAIN = [
    (edition, indicator)
    for edition, tables in TABLES.items()
    for indicator in tables
    # 2012's stand-in rules make these depend on a second value above 800.
    if not (edition is OLD and indicator in (SO2_1H, O3_8H))
]
concentrations = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False)


@FAST
@given(st.sampled_from(PLAIN), concentrations, concentrations)
def test_sub_index_never_falls_as_concentration_rises(
    case: tuple[Edition, Indicator], a: Decimal, b: Decimal
) -> None:
    edition, indicator = case
    low, high = sorted((a, b))
    lo = sub_index(indicator, low, edition=edition)
    hi = sub_index(indicator, high, edition=edition)
    assert 0 <= lo.value <= hi.value <= 500
    if lo.exact is not None:
        assert lo.value == math.ceil(lo.exact) and lo.value - 1 < lo.exact <= lo.value


@FAST
@given(st.decimals(min_value=0, max_value=700, places=2, allow_nan=False))
def test_2026_particles_never_read_lower_than_2012(value: Decimal) -> None:
    for indicator in (PM2_5_24H, PM10_24H):
        old = sub_index(indicator, value, edition=OLD).value
        new = sub_index(indicator, value, edition=NEW).value
        assert new >= old


daily_sets = st.dictionaries(
    st.sampled_from([PM2_5_24H, PM10_24H, SO2_24H, NO2_24H, CO_24H, O3_8H, O3_1H]),
    st.decimals(min_value=0, max_value=790, places=1, allow_nan=False),
    min_size=1,
)


@FAST
@given(daily_sets, st.sampled_from([OLD, NEW]))
def test_aqi_is_the_largest_sub_index_and_category_matches(
    values: dict[Indicator, Decimal], edition: Edition
) -> None:
    result = assess(values, edition=edition)
    subs = {s.indicator: s.value for s in result.sub_indices}
    assert result.aqi == max(subs.values())
    assert result.category is not None
    assert result.category.aqi_low <= result.aqi
    assert result.category.aqi_high is None or result.aqi <= result.category.aqi_high
    if result.aqi > 50:
        assert result.primary_pollutants
        assert all(subs[p] == result.aqi for p in result.primary_pollutants)
        assert {i for i, v in subs.items() if v == result.aqi} == set(result.primary_pollutants)
    else:
        assert result.primary_pollutants == ()
    assert set(result.exceeding_pollutants) == {i for i, v in subs.items() if v > 100}
