"""Real-time and daily air quality reports: statistics, validity rules for missing hours,
rounding, the edition per date, and bad input. Expected values worked by hand."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from smartcity.core import i18n
from smartcity.core.clock import CITY_TZ
from smartcity.environment.aqi import (
    CO_24H,
    O3_1H,
    O3_8H,
    PM2_5_1H,
    PM2_5_24H,
    PM10_24H,
    SO2_1H,
    SO2_24H,
    CompanionRequired,
    Edition,
    InvalidConcentration,
    Pollutant,
    Rule,
    UnknownPollutant,
    WrongUnit,
)
from smartcity.environment.reports import (
    Measure,
    Reason,
    ReportInputError,
    ReportKind,
    daily_report,
    realtime_report,
)

OLD, NEW = Edition.HJ_633_2012, Edition.HJ_633_2026
H = timedelta(hours=1)


@pytest.fixture
def _english_messages() -> Iterator[None]:
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CITY_TZ)


def hours(start: datetime, values: Sequence[object]) -> dict[datetime, Any]:
    return {start + i * H: v for i, v in enumerate(values)}


def constant_day(day: date, **levels: object) -> dict[str, dict[datetime, Any]]:
    codes = {"pm25": "PM2.5", "pm10": "PM10", "so2": "SO2", "no2": "NO2", "co": "CO", "o3": "O3"}
    return {codes[k]: hours(day_start(day), [v] * 24) for k, v in levels.items()}


EXAMPLE = {"pm25": 80, "pm10": 140, "so2": 10, "no2": 50, "co": Decimal("1.2"), "o3": 120}
OLD_DAY, NEW_DAY = date(2025, 6, 1), date(2026, 6, 1)


# --- daily ------------------------------------------------------------------------------


def test_daily_report_of_the_references_example() -> None:
    report = daily_report(NEW_DAY, constant_day(NEW_DAY, **EXAMPLE))
    assert (report.kind, report.edition, report.aqi) == (ReportKind.DAILY, NEW, 119)
    assert report.start == datetime(2026, 6, 1, tzinfo=CITY_TZ)
    assert [p.label_zh for p in report.primary_pollutants] == ["细颗粒物"]
    assert report.category is not None and report.category.rgb_hex == "#FF7E00"
    iaqi = {(f.pollutant, f.measure): f.sub_index.value for f in report.figures if f.sub_index}
    assert iaqi == {
        (Pollutant.PM2_5, Measure.DAY): 119,
        (Pollutant.PM10, Measure.DAY): 108,
        (Pollutant.SO2, Measure.DAY): 10,
        (Pollutant.NO2, Measure.DAY): 63,
        (Pollutant.CO, Measure.DAY): 30,
        (Pollutant.O3, Measure.DAY_MAX_8H): 67,
        (Pollutant.O3, Measure.DAY_MAX_1H): 38,  # 50·120/160 = 37.5
    }
    assert report.missing == ()
    older = daily_report(OLD_DAY, constant_day(OLD_DAY, **EXAMPLE))
    assert (older.edition, older.aqi) == (OLD, 107)


@pytest.mark.parametrize(("present", "valid"), [(24, True), (21, True), (20, True), (19, False)])
def test_a_24_hour_mean_needs_20_hourly_values(present: int, valid: bool) -> None:
    values: list[object] = [50] * present + [None] * (24 - present)
    report = daily_report(OLD_DAY, {"PM10": hours(day_start(OLD_DAY), values)})
    figure = report.figure("PM10", Measure.DAY)
    assert figure is not None
    assert (figure.valid, figure.needed, figure.out_of) == (present, 20, 24)
    if valid:
        assert figure.value == 50 and figure.sub_index is not None
        assert report.aqi == 50
    else:
        assert (figure.value, figure.sub_index, figure.reason) == (None, None, Reason.TOO_FEW_HOURS)
        assert report.aqi is None
        assert figure in report.missing


def test_missing_hours_may_be_absent_or_none_and_other_days_do_not_count() -> None:
    start = day_start(OLD_DAY)
    series = hours(start - 6 * H, [1000] * 6) | hours(start, [40] * 20) | {start + 30 * H: 1000}
    report = daily_report(OLD_DAY, {"NO2": series})
    figure = report.figure(Pollutant.NO2, Measure.DAY)
    assert figure is not None and (figure.value, figure.valid) == (40, 20)


def test_daily_means_are_rounded_half_to_even_before_the_sub_index() -> None:
    start = day_start(OLD_DAY)
    report = daily_report(
        OLD_DAY,
        {
            "PM2.5": hours(start, [74, 75] * 12),  # 74.5 → 74 → 50 + 50·39/40 = 98.75
            "PM10": hours(start, [75, 76] * 12),  # 75.5 → 76
            "CO": hours(start, [Decimal("1.2"), Decimal("1.3")] * 12),  # 1.25 → 1.2
            "SO2": hours(start, [Decimal("1.3"), Decimal("1.4")] * 12),  # 1.35 → 1
        },
    )
    values = {f.pollutant: f.value for f in report.figures if f.measure is Measure.DAY}
    assert values[Pollutant.PM2_5] == 74 and values[Pollutant.PM10] == 76
    assert values[Pollutant.CO] == Decimal("1.2") and values[Pollutant.SO2] == 1
    pm25 = report.figure("PM2.5", Measure.DAY)
    assert pm25 is not None and pm25.sub_index is not None and pm25.sub_index.value == 99
    co = daily_report(OLD_DAY, {"CO": hours(start, [Decimal("1.3"), Decimal("1.4")] * 12)})
    figure = co.figure("CO", Measure.DAY)
    assert figure is not None and figure.value == Decimal("1.4")  # 1.35 → 1.4


def test_ozone_daily_maximum_8_hour_mean() -> None:
    start = day_start(OLD_DAY)
    # Hour i has 10·i: the window of hours k…k+7 averages 10·(k + 3.5); the last one that
    # ends by 24:00 (k = 16) is the largest, 195. The hour before midnight and the hours of
    # the next day do not count.
    series = hours(start, [10 * i for i in range(24)]) | {start - H: 800, start + 24 * H: 800}
    report = daily_report(OLD_DAY, {"O3": series})
    eight = report.figure("O3", Measure.DAY_MAX_8H)
    one = report.figure("O3", Measure.DAY_MAX_1H)
    assert eight is not None and one is not None
    assert (eight.value, eight.valid, eight.out_of) == (195, 17, 17)
    assert eight.sub_index is not None and eight.sub_index.value == 132  # 100 + 50·35/55
    assert one.value == 230 and one.sub_index is not None and one.sub_index.value == 115
    assert report.aqi == 132
    assert [(p.label_zh, p.label_code) for p in report.primary_pollutants] == [
        ("臭氧8小时", "O3_8h")
    ]


@pytest.mark.parametrize(
    ("missing_first", "windows", "valid"),
    [(0, 17, True), (3, 16, True), (5, 14, True), (6, 13, False), (8, 11, False)],
)
def test_daily_maximum_8_hours_needs_14_valid_8_hour_means(
    missing_first: int, windows: int, valid: bool
) -> None:
    # The first hours of the day missing: a window needs 6 of its 8 hours, so windows
    # starting at 00:00 lose validity one by one.
    values: list[object] = [None] * missing_first + [100] * (24 - missing_first)
    report = daily_report(OLD_DAY, {"O3": hours(day_start(OLD_DAY), values)})
    figure = report.figure("O3", Measure.DAY_MAX_8H)
    assert figure is not None
    assert (figure.valid, figure.needed, figure.out_of) == (windows, 14, 17)
    if valid:
        assert figure.value == 100 and figure.sub_index is not None
    else:
        assert (figure.value, figure.reason) == (None, Reason.TOO_FEW_WINDOWS)


def test_too_few_8_hour_means_still_count_when_above_the_limit() -> None:
    start = day_start(OLD_DAY)
    above = [None] * 6 + [100] * 6 + [200] * 8 + [100] * 4  # 13 windows, peak 200 > 160
    report = daily_report(OLD_DAY, {"O3": hours(start, above)})
    figure = report.figure("O3", Measure.DAY_MAX_8H)
    assert figure is not None and (figure.valid, figure.value) == (13, 200)
    at_limit = [None] * 6 + [160] * 18  # 13 windows at 160: not above the limit
    report = daily_report(OLD_DAY, {"O3": hours(start, at_limit)})
    figure = report.figure("O3", Measure.DAY_MAX_8H)
    assert figure is not None and (figure.valid, figure.value) == (13, None)


def test_8_hour_means_average_the_hours_they_have() -> None:
    start = day_start(OLD_DAY)
    # Only hours 16…23 carry ozone, two of them missing: that one window has 6 of 8 hours.
    values: list[object] = [None] * 16 + [100, None, 130, 160, None, 190, 220, 100]
    report = daily_report(OLD_DAY, {"O3": hours(start, values)})
    figure = report.figure("O3", Measure.DAY_MAX_8H)
    assert figure is not None
    # One window only, too few, and its mean (100+130+160+190+220+100)/6 = 150 ≤ 160.
    assert (figure.valid, figure.value) == (1, None)
    values[17] = 700
    report = daily_report(OLD_DAY, {"O3": hours(start, values)})
    figure = report.figure("O3", Measure.DAY_MAX_8H)
    # Now hours 15…22 also make a window (6 hours): 1500/6 = 250, beside 1600/7 = 228.6 for
    # 16…23; two windows, too few, but the larger is above 160 and stands.
    assert figure is not None and (figure.valid, figure.value) == (2, 250)


def test_ozone_daily_maximum_hour_needs_20_hours() -> None:
    start = day_start(OLD_DAY)
    report = daily_report(OLD_DAY, {"O3": hours(start, [None] * 5 + [100] * 19)})
    one = report.figure("O3", Measure.DAY_MAX_1H)
    eight = report.figure("O3", Measure.DAY_MAX_8H)
    assert one is not None and (one.value, one.reason, one.valid) == (
        None,
        Reason.TOO_FEW_HOURS,
        19,
    )
    assert eight is not None and eight.value == 100  # 14 windows: still valid


def test_2012_daily_o3_above_800_reports_the_1_hour_sub_index() -> None:
    report = daily_report(OLD_DAY, constant_day(OLD_DAY, o3=850, pm25=20))
    eight = report.figure("O3", Measure.DAY_MAX_8H)
    assert eight is not None and eight.sub_index is not None
    assert (eight.sub_index.value, eight.sub_index.rule) == (325, Rule.O3_8H_FROM_1H)
    assert report.aqi == 325  # 300 + 100·50/200
    assert report.primary_pollutants == (O3_1H,)
    newer = daily_report(NEW_DAY, constant_day(NEW_DAY, o3=850, pm25=20))
    eight = newer.figure("O3", Measure.DAY_MAX_8H)
    assert eight is not None and eight.sub_index is not None
    assert (eight.sub_index.value, eight.sub_index.rule) == (300, Rule.O3_8H_FIXED_300)
    assert newer.aqi == 325 and newer.primary_pollutants == (O3_1H,)


@pytest.mark.usefixtures("_english_messages")
def test_2012_o3_above_800_without_a_valid_hourly_maximum_has_no_sub_index() -> None:
    start = day_start(OLD_DAY)
    # 18 hours: the 8-hour maximum stands (13 windows but above the limit), the hourly
    # maximum does not, and 2012 needs it above 800.
    report = daily_report(
        OLD_DAY, {"O3": hours(start, [None] * 6 + [850] * 18), "PM2.5": hours(start, [50] * 24)}
    )
    eight = report.figure("O3", Measure.DAY_MAX_8H)
    assert eight is not None and eight.value == 850
    assert (eight.sub_index, eight.reason, eight.stand_in) == (None, Reason.NO_STAND_IN, O3_1H)
    assert eight.explanation() == (
        "Above 800 µg/m³ HJ 633-2012 reports this by O3_1h, which has no valid value"
    )
    assert report.aqi == 69 and report.primary_pollutants == (PM2_5_24H,)
    assert {(f.pollutant, f.measure) for f in report.missing} == {
        (Pollutant.PM10, Measure.DAY),
        (Pollutant.SO2, Measure.DAY),
        (Pollutant.NO2, Measure.DAY),
        (Pollutant.CO, Measure.DAY),
        (Pollutant.O3, Measure.DAY_MAX_8H),
        (Pollutant.O3, Measure.DAY_MAX_1H),
    }


@pytest.mark.usefixtures("_english_messages")
def test_reasons_read_in_english() -> None:
    report = daily_report(OLD_DAY, {"PM10": hours(day_start(OLD_DAY), [50] * 19)})
    figure = report.figure("PM10", Measure.DAY)
    assert figure is not None
    assert figure.explanation() == "Only 19 of 24 hourly values; at least 20 are needed"
    o3 = report.figure("O3", Measure.DAY_MAX_8H)
    assert o3 is not None
    assert o3.explanation() == "Only 0 of 17 valid 8-hour means; at least 14 are needed"
    assert report.figure("PM2.5", "24h") is not None
    full = daily_report(OLD_DAY, constant_day(OLD_DAY, pm10=50))
    figure = full.figure("PM10", Measure.DAY)
    assert figure is not None and figure.explanation() is None


def test_daily_edition_by_the_day() -> None:
    before = daily_report(date(2026, 2, 28), constant_day(date(2026, 2, 28), pm25=70))
    after = daily_report(date(2026, 3, 1), constant_day(date(2026, 3, 1), pm25=70))
    assert (before.edition, before.aqi) == (OLD, 94)
    assert (after.edition, after.aqi) == (NEW, 110)
    forced = daily_report(date(2026, 3, 1), constant_day(date(2026, 3, 1), pm25=70), edition=OLD)
    assert (forced.edition, forced.aqi) == (OLD, 94)


# --- real-time --------------------------------------------------------------------------


def _last_day(hour: datetime, **levels: Sequence[object]) -> dict[str, dict[datetime, Any]]:
    """Series whose last value is at ``hour``; lists are oldest first."""
    codes = {"pm25": "PM2.5", "pm10": "PM10", "so2": "SO2", "no2": "NO2", "co": "CO", "o3": "O3"}
    return {codes[k]: hours(hour - (len(v) - 1) * H, list(v)) for k, v in levels.items()}


OLD_HOUR = datetime(2025, 6, 1, 14, tzinfo=CITY_TZ)
NEW_HOUR = datetime(2026, 6, 1, 14, tzinfo=CITY_TZ)


def test_2012_realtime_counts_particles_by_their_24_hour_moving_mean() -> None:
    series = _last_day(
        OLD_HOUR,
        pm25=[50] * 23 + [200],  # moving mean 1350/24 = 56.25 → 56 → 50 + 50·21/40 = 76.25
        pm10=[60] * 24,
        so2=[10],
        no2=[40],
        co=[Decimal("0.5")],
        o3=[100] * 8,
    )
    report = realtime_report(OLD_HOUR, series)
    assert (report.kind, report.edition, report.start) == (ReportKind.REALTIME, OLD, OLD_HOUR)
    hour = report.figure("PM2.5", Measure.HOUR)
    moving = report.figure("PM2.5", Measure.MOVING_24H)
    assert hour is not None and moving is not None
    assert (hour.value, hour.in_index, hour.sub_index) == (200, False, None)
    assert (moving.value, moving.indicator) == (56, PM2_5_24H)
    assert moving.sub_index is not None and moving.sub_index.value == 77
    assert report.aqi == 77 and report.primary_pollutants == (PM2_5_24H,)
    o3_8h = report.figure("O3", Measure.MOVING_8H)
    assert o3_8h is not None and (o3_8h.value, o3_8h.in_index) == (100, False)
    assert len(report.figures) == 9


def test_2026_realtime_counts_particles_by_their_hourly_mean() -> None:
    series = _last_day(NEW_HOUR, pm25=[50] * 23 + [200], pm10=[60] * 24, so2=[10])
    report = realtime_report(NEW_HOUR, series)
    hour = report.figure("PM2.5", Measure.HOUR)
    moving = report.figure("PM2.5", Measure.MOVING_24H)
    assert hour is not None and moving is not None
    assert hour.indicator == PM2_5_1H and hour.sub_index is not None
    assert hour.sub_index.value == 250  # 200 + 100·50/100
    assert (moving.value, moving.in_index) == (56, False)
    assert report.aqi == 250 and report.primary_pollutants == (PM2_5_1H,)
    assert [p.label_zh for p in report.primary_pollutants] == ["细颗粒物"]
    assert report.category is not None and report.category.name_zh == "重度污染"


@pytest.mark.parametrize(("present", "valid"), [(24, True), (20, True), (19, False)])
def test_24_hour_moving_mean_needs_20_hours(present: int, valid: bool) -> None:
    values: list[object] = [None] * (24 - present) + [70] * present
    report = realtime_report(OLD_HOUR, _last_day(OLD_HOUR, pm10=values))
    figure = report.figure("PM10", Measure.MOVING_24H)
    assert figure is not None and figure.valid == present
    if valid:
        assert figure.value == 70 and figure.sub_index is not None
        assert figure.sub_index.indicator == PM10_24H
    else:
        assert (figure.value, figure.reason) == (None, Reason.TOO_FEW_HOURS)
        assert figure in report.missing


@pytest.mark.parametrize(("present", "valid"), [(8, True), (6, True), (5, False)])
def test_8_hour_moving_mean_needs_6_hours(present: int, valid: bool) -> None:
    values: list[object] = [None] * (8 - present) + [90] * present
    report = realtime_report(NEW_HOUR, _last_day(NEW_HOUR, o3=values))
    figure = report.figure("O3", Measure.MOVING_8H)
    assert figure is not None and (figure.valid, figure.needed, figure.out_of) == (present, 6, 8)
    assert figure.value == (90 if valid else None)


def test_an_hour_without_a_value_has_no_figure() -> None:
    report = realtime_report(NEW_HOUR, _last_day(NEW_HOUR, no2=[40, None], co=[Decimal("0.8")]))
    no2 = report.figure("NO2", Measure.HOUR)
    assert no2 is not None and (no2.value, no2.reason) == (None, Reason.NO_DATA)
    assert report.aqi == 8  # CO 1 h: 50·0.8/5


def test_2012_realtime_so2_above_800_uses_the_24_hour_moving_mean() -> None:
    series = _last_day(OLD_HOUR, so2=[300] * 23 + [900])  # (6900 + 900)/24 = 325
    report = realtime_report(OLD_HOUR, series)
    hour = report.figure("SO2", Measure.HOUR)
    moving = report.figure("SO2", Measure.MOVING_24H)
    assert hour is not None and moving is not None
    assert (moving.value, moving.in_index) == (325, False)
    assert hour.sub_index is not None
    assert (hour.sub_index.value, hour.sub_index.rule) == (127, Rule.SO2_1H_FROM_24H)  # 126.9
    assert report.aqi == 127 and report.primary_pollutants == (SO2_24H,)
    assert [p.label_zh for p in report.primary_pollutants] == ["二氧化硫"]
    # At 800 the hourly column still applies and no 24-hour figure is reported.
    at_800 = realtime_report(OLD_HOUR, _last_day(OLD_HOUR, so2=[800]))
    assert at_800.aqi == 200 and at_800.figure("SO2", Measure.MOVING_24H) is None


def test_2012_realtime_so2_above_800_without_a_24_hour_mean() -> None:
    report = realtime_report(OLD_HOUR, _last_day(OLD_HOUR, so2=[900] * 10, no2=[40]))
    hour = report.figure("SO2", Measure.HOUR)
    assert hour is not None and hour.value == 900
    assert (hour.sub_index, hour.reason, hour.stand_in) == (None, Reason.NO_STAND_IN, SO2_24H)
    assert report.aqi == 20 and report.primary_pollutants == ()


def test_2026_realtime_so2_above_800_is_200() -> None:
    report = realtime_report(NEW_HOUR, _last_day(NEW_HOUR, so2=[5000]))
    hour = report.figure("SO2", Measure.HOUR)
    assert hour is not None and hour.sub_index is not None
    assert (hour.sub_index.value, hour.sub_index.rule) == (200, Rule.SO2_1H_FIXED_200)
    assert report.figure("SO2", Measure.MOVING_24H) is None
    assert report.primary_pollutants == (SO2_1H,)


def test_realtime_edition_switches_at_midnight_shanghai() -> None:
    last_old = datetime(2026, 2, 28, 15, tzinfo=UTC)  # 23:00–24:00 on 28 February
    first_new = datetime(2026, 2, 28, 16, tzinfo=UTC)  # 00:00–01:00 on 1 March
    series = _last_day(first_new, pm25=[70] * 25)
    before = realtime_report(last_old, series)
    after = realtime_report(first_new, series)
    assert (before.edition, before.aqi) == (OLD, 94)  # 24 h moving mean 70 under 2012
    assert (after.edition, after.aqi) == (NEW, 110)  # hourly 70 under 2026
    assert after.start == datetime(2026, 3, 1, tzinfo=CITY_TZ)


def test_units_are_checked() -> None:
    series = _last_day(NEW_HOUR, co=[Decimal("0.8")], pm25=[30])
    report = realtime_report(NEW_HOUR, series, units={"CO": "mg/m3", "PM2.5": "µg/m³"})
    assert report.aqi == 43  # PM2.5 1 h 50·30/35 = 42.9
    with pytest.raises(WrongUnit) as refused:
        realtime_report(NEW_HOUR, series, units={"CO": "µg/m³"})
    assert refused.value.pollutant == "CO"


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "error", "pollutant"),
    [
        ({"PM2.5": {NEW_HOUR: -5}}, InvalidConcentration, "PM2.5"),
        ({"PM2.5": {NEW_HOUR: float("nan")}}, InvalidConcentration, "PM2.5"),
        ({"O3": {NEW_HOUR: "high"}}, InvalidConcentration, "O3"),
        ({"CO": {NEW_HOUR: Decimal("Infinity")}}, InvalidConcentration, "CO"),
        ({"benzene": {NEW_HOUR: 5}}, UnknownPollutant, "benzene"),
        ({"PM2.5": {NEW_HOUR.replace(tzinfo=None): 5}}, ReportInputError, None),
        ({"PM2.5": {NEW_HOUR + timedelta(minutes=30): 5}}, ReportInputError, None),
        ({"PM2.5": {"2026-06-01T14:00+08:00": 5}}, ReportInputError, None),
        ({"PM2.5": [5]}, ReportInputError, "PM2.5"),
        ({"PM2.5": {NEW_HOUR: 5}, "pm25": {NEW_HOUR: 5}}, ReportInputError, "PM2.5"),
    ],
)
def test_bad_series_raise_a_clear_value_error(
    series: dict[str, object], error: type[Exception], pollutant: str | None
) -> None:
    for report in (realtime_report, daily_report):
        moment: Any = NEW_HOUR if report is realtime_report else NEW_DAY
        with pytest.raises(error) as refused:
            report(moment, series)  # type: ignore[arg-type]
        assert isinstance(refused.value, ValueError)
        if pollutant is not None:
            assert getattr(refused.value, "pollutant", None) == pollutant


def test_bad_report_times() -> None:
    with pytest.raises(ReportInputError, match="timezone"):
        realtime_report(datetime(2026, 6, 1, 14), {})
    with pytest.raises(ReportInputError, match="start of an hour"):
        realtime_report(NEW_HOUR + timedelta(seconds=1), {})
    with pytest.raises(ReportInputError, match="date"):
        daily_report(NEW_HOUR, {})
    with pytest.raises(ReportInputError):
        daily_report("2026-06-01", {})  # type: ignore[arg-type]
    with pytest.raises(ReportInputError):
        realtime_report(NEW_HOUR, [("PM2.5", {})])  # type: ignore[arg-type]


def test_an_empty_report_has_no_index() -> None:
    report = realtime_report(NEW_HOUR, {})
    assert (report.aqi, report.category, report.primary_pollutants) == (None, None, ())
    assert len(report.missing) == 6
    assert report.exceeding_pollutants == ()


def test_companion_error_is_a_value_error() -> None:
    assert issubclass(CompanionRequired, ValueError)
    assert issubclass(ReportInputError, ValueError)
    assert CO_24H.code == "CO_24h" and O3_8H.code == "O3_8h"
