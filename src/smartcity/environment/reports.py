"""Real-time (实时报) and daily (日报) air quality reports from hourly concentrations.

Input is, per pollutant, a mapping from the start of each hour (an aware datetime on the
hour) to that hour's mean concentration (1小时平均), None or absent when the hour has no
valid value (缺测). Units are the tables' (µg/m³; CO mg/m³).

Validity (数据统计的有效性规定, GB 3095-2012 §7 表4 and HJ 663-2013): a 24-hour mean needs at
least 20 hourly values, an 8-hour moving mean at least 6 of its 8 hours, and the daily
maximum 8-hour mean at least 14 valid 8-hour means among the 17 that end between 08:00 and
24:00, unless the largest of those it has is above the 8-hour limit (160 µg/m³), which
stands however few there are. A statistic short of its minimum gets no value and says why;
it never gets a number from the hours that happen to be there.

Reported concentrations are rounded as published (数值修约, GB/T 8170 round half to even):
whole µg/m³, and 0.1 mg/m³ for CO. Sub-indices are computed from the rounded figures, as
the published reports show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType

from smartcity.core.clock import CITY_TZ
from smartcity.core.i18n import N_, gettext
from smartcity.environment.aqi import (
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
    Assessment,
    Category,
    CompanionRequired,
    Edition,
    Indicator,
    Number,
    Pollutant,
    SubIndex,
    check_unit,
    combine,
    concentration_value,
    edition_for,
    pollutant_from,
    sub_index,
)

HourlySeries = Mapping[datetime, Number | None]
"""Hourly means of one pollutant keyed by the start of the hour."""

HOUR = timedelta(hours=1)

DAY_MEAN_MIN_HOURS = 20
"""GB 3095-2012 表4: a 24-hour mean needs at least 20 hourly values."""
MOVING_8H_MIN_HOURS = 6
"""GB 3095-2012 表4: an 8-hour mean needs at least 6 hourly values."""
DAY_MAX_8H_WINDOWS = 17
"""The 8-hour means of a day end at 08:00, 09:00, … 24:00 (HJ 663-2013)."""
DAY_MAX_8H_MIN_WINDOWS = 14
"""HJ 663-2013: the daily maximum 8-hour mean needs at least 14 valid 8-hour means…"""
O3_8H_LIMIT = 160
"""…unless it exceeds the GB 3095-2012 grade II 8-hour limit for O3 (µg/m³)."""


class ReportInputError(AirQualityInputError):
    """A report's time or series is malformed (naive time, not on the hour, a pollutant
    given twice)."""


class Measure(StrEnum):
    """The statistic a figure of a report is (统计量)."""

    HOUR = "1h"
    """1小时平均: the hour's own mean."""
    MOVING_8H = "8h_moving"
    """8小时滑动平均: the mean of the hour and the 7 before it."""
    MOVING_24H = "24h_moving"
    """24小时滑动平均: the mean of the hour and the 23 before it."""
    DAY = "24h"
    """24小时平均: the mean of the natural day, 00:00–24:00 Asia/Shanghai."""
    DAY_MAX_8H = "max_8h"
    """日最大8小时滑动平均: the largest 8-hour mean ending 08:00–24:00 of the day."""
    DAY_MAX_1H = "max_1h"
    """日最大1小时平均: the largest hourly mean of the day."""


class Reason(StrEnum):
    """Why a figure has no value, or no sub-index."""

    NO_DATA = "no_data"
    TOO_FEW_HOURS = "too_few_hours"
    TOO_FEW_WINDOWS = "too_few_windows"
    NO_STAND_IN = "no_stand_in"


REASON_TEXT: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.NO_DATA: N_("No valid value for this hour"),
        Reason.TOO_FEW_HOURS: N_(
            "Only %(valid)d of %(out_of)d hourly values; at least %(needed)d are needed"
        ),
        Reason.TOO_FEW_WINDOWS: N_(
            "Only %(valid)d of %(out_of)d valid 8-hour means; at least %(needed)d are needed"
        ),
        Reason.NO_STAND_IN: N_(
            "Above 800 µg/m³ HJ 633-2012 reports this by %(stand_in)s, which has no valid value"
        ),
    }
)
"""English msgids (with %-placeholders) explaining each reason."""


class ReportKind(StrEnum):
    REALTIME = "realtime"
    DAILY = "daily"


@dataclass(frozen=True)
class Figure:
    """One statistic of a report: its value (None when the data do not support one), how
    many inputs it had and needed, and its sub-index when it takes part in the AQI."""

    pollutant: Pollutant
    measure: Measure
    value: Decimal | None
    valid: int
    """Hourly values present (valid 8-hour means for ``DAY_MAX_8H``)."""
    needed: int
    out_of: int
    indicator: Indicator | None
    """The table column it is indexed against; None for figures reported without a
    sub-index (e.g. the particles' 1-hour means in a 2012 real-time report)."""
    sub_index: SubIndex | None = None
    reason: Reason | None = None
    stand_in: Indicator | None = None
    """The indicator a 2012 rule needed and did not have (``Reason.NO_STAND_IN``)."""

    @property
    def in_index(self) -> bool:
        return self.indicator is not None

    def explanation(self) -> str | None:
        """Why the value or sub-index is missing, in the current language."""
        if self.reason is None:
            return None
        params: dict[str, object] = {
            "valid": self.valid,
            "needed": self.needed,
            "out_of": self.out_of,
            "stand_in": self.stand_in.code if self.stand_in else "",
        }
        return gettext(REASON_TEXT[self.reason]) % params


@dataclass(frozen=True)
class AirQualityReport:
    """A real-time report for one hour or a daily report for one day (Asia/Shanghai)."""

    kind: ReportKind
    start: datetime
    """The start of the hour (real-time) or of the day (daily), Asia/Shanghai."""
    edition: Edition
    figures: tuple[Figure, ...]
    assessment: Assessment

    @property
    def aqi(self) -> int | None:
        return self.assessment.aqi

    @property
    def category(self) -> Category | None:
        return self.assessment.category

    @property
    def primary_pollutants(self) -> tuple[Indicator, ...]:
        return self.assessment.primary_pollutants

    @property
    def exceeding_pollutants(self) -> tuple[Indicator, ...]:
        return self.assessment.exceeding_pollutants

    @property
    def missing(self) -> tuple[Figure, ...]:
        """Figures that should count in the AQI and could not."""
        return tuple(f for f in self.figures if f.in_index and f.sub_index is None)

    def figure(self, pollutant: Pollutant | str, measure: Measure | str) -> Figure | None:
        wanted = (pollutant_from(pollutant), Measure(measure))
        return next((f for f in self.figures if (f.pollutant, f.measure) == wanted), None)


# --- input ------------------------------------------------------------------------------

_Series = dict[datetime, Fraction | None]


def _hour_key(moment: object, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise ReportInputError(f"{what} must be a datetime, not {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ReportInputError(f"{what} needs a timezone (got naive {moment.isoformat()})")
    utc = moment.astimezone(UTC)
    if (utc.minute, utc.second, utc.microsecond) != (0, 0, 0):
        raise ReportInputError(f"{what} must be the start of an hour (got {moment.isoformat()})")
    return utc


def _read_series(
    hourly: Mapping[Pollutant, HourlySeries] | Mapping[str, HourlySeries],
    units: Mapping[Pollutant, str] | Mapping[str, str] | None,
) -> dict[Pollutant, _Series]:
    if not isinstance(hourly, Mapping):
        raise ReportInputError(f"hourly values must be a mapping by pollutant, not {hourly!r}")
    unit_of = {pollutant_from(k): u for k, u in (units or {}).items()}
    series: dict[Pollutant, _Series] = {}
    for key, values in hourly.items():
        pollutant = pollutant_from(key)
        if pollutant in series:
            raise ReportInputError("pollutant given twice", pollutant=pollutant.value)
        check_unit(pollutant, unit_of.get(pollutant))
        if not isinstance(values, Mapping):
            raise ReportInputError(
                "hourly values must map the start of each hour to a concentration",
                pollutant=pollutant.value,
            )
        one: _Series = {}
        for moment, value in values.items():
            # Equal instants are equal keys, so a mapping cannot hold an hour twice.
            one[_hour_key(moment, f"{pollutant.value} hour")] = (
                None if value is None else Fraction(concentration_value(value, pollutant.value))
            )
        series[pollutant] = one
    return series


def _published(pollutant: Pollutant, value: Fraction) -> Decimal:
    """GB/T 8170 rounding (half to even) to whole µg/m³, or 0.1 mg/m³ for CO."""
    if pollutant is Pollutant.CO:
        tenths = round(value * 10)
        return Decimal(tenths) / 10
    return Decimal(round(value))


# --- statistics -------------------------------------------------------------------------


def _present(series: _Series, first: datetime, hours: int) -> list[Fraction]:
    found = (series.get(first + i * HOUR) for i in range(hours))
    return [v for v in found if v is not None]


def _mean_figure(
    pollutant: Pollutant,
    measure: Measure,
    series: _Series,
    first: datetime,
    hours: int,
    needed: int,
    indicator: Indicator | None,
) -> Figure:
    values = _present(series, first, hours)
    if len(values) < needed:
        reason = Reason.NO_DATA if hours == 1 else Reason.TOO_FEW_HOURS
        return Figure(pollutant, measure, None, len(values), needed, hours, indicator, None, reason)
    mean = sum(values, Fraction(0)) / len(values)
    return Figure(
        pollutant, measure, _published(pollutant, mean), len(values), needed, hours, indicator
    )


def _day_max_1h(
    pollutant: Pollutant, series: _Series, first: datetime, indicator: Indicator | None
) -> Figure:
    # GB 3095-2012 gives no separate minimum for the daily maximum hour; the platform
    # asks as much of it as of the day's mean (20 of 24 hours).
    values = _present(series, first, 24)
    if len(values) < DAY_MEAN_MIN_HOURS:
        return Figure(
            pollutant,
            Measure.DAY_MAX_1H,
            None,
            len(values),
            DAY_MEAN_MIN_HOURS,
            24,
            indicator,
            None,
            Reason.TOO_FEW_HOURS,
        )
    return Figure(
        pollutant,
        Measure.DAY_MAX_1H,
        _published(pollutant, max(values)),
        len(values),
        DAY_MEAN_MIN_HOURS,
        24,
        indicator,
    )


def _day_max_8h(series: _Series, day_start: datetime, indicator: Indicator | None) -> Figure:
    means: list[Fraction] = []
    for k in range(DAY_MAX_8H_WINDOWS):
        values = _present(series, day_start + k * HOUR, 8)
        if len(values) >= MOVING_8H_MIN_HOURS:
            means.append(sum(values, Fraction(0)) / len(values))
    highest = max(means, default=None)
    valid = len(means)
    if highest is None or (valid < DAY_MAX_8H_MIN_WINDOWS and highest <= O3_8H_LIMIT):
        return Figure(
            Pollutant.O3,
            Measure.DAY_MAX_8H,
            None,
            valid,
            DAY_MAX_8H_MIN_WINDOWS,
            DAY_MAX_8H_WINDOWS,
            indicator,
            None,
            Reason.TOO_FEW_WINDOWS,
        )
    return Figure(
        Pollutant.O3,
        Measure.DAY_MAX_8H,
        _published(Pollutant.O3, highest),
        valid,
        DAY_MAX_8H_MIN_WINDOWS,
        DAY_MAX_8H_WINDOWS,
        indicator,
    )


def _indexed(
    figures: list[Figure],
    edition: Edition,
    stand_ins: Mapping[Indicator, tuple[Indicator, Figure]],
) -> tuple[tuple[Figure, ...], Assessment]:
    """Attach the sub-index to every figure that counts, then combine them. ``stand_ins``
    gives, for an indicator a 2012 rule may report through another, that other indicator
    and its figure."""
    done: list[Figure] = []
    for figure in figures:
        if figure.indicator is None or figure.value is None:
            done.append(figure)
            continue
        stand_in = stand_ins.get(figure.indicator)
        try:
            sub = sub_index(
                figure.indicator,
                figure.value,
                edition=edition,
                companion=stand_in[1].value if stand_in is not None else None,
            )
        except CompanionRequired:
            if stand_in is None:
                raise
            done.append(replace(figure, reason=Reason.NO_STAND_IN, stand_in=stand_in[0]))
            continue
        done.append(replace(figure, sub_index=sub))
    subs = [f.sub_index for f in done if f.sub_index is not None]
    return tuple(done), combine(subs, edition=edition)


# --- the reports ------------------------------------------------------------------------


def realtime_report(
    hour: datetime,
    hourly: Mapping[Pollutant, HourlySeries] | Mapping[str, HourlySeries],
    *,
    units: Mapping[Pollutant, str] | Mapping[str, str] | None = None,
    edition: Edition | None = None,
) -> AirQualityReport:
    """The real-time report (实时报) for the hour starting at ``hour``.

    Figures: the hour's mean of the six pollutants, the O3 8-hour moving mean and the
    particles' 24-hour moving means (the nine items of HJ 633). The AQI counts SO2, NO2,
    CO and O3 by their hourly means and, by edition, the particles by their 24-hour moving
    means (HJ 633-2012, whose particle columns are 24-hour only) or by their hourly means
    (HJ 633-2026). Under HJ 633-2012 an SO2 hour above 800 µg/m³ is reported by the SO2
    24-hour moving mean's sub-index.
    """
    start = _hour_key(hour, "report hour")
    edition = Edition(edition) if edition is not None else edition_for(start)
    series = _read_series(hourly, units)
    empty: _Series = {}

    def of(pollutant: Pollutant) -> _Series:
        return series.get(pollutant, empty)

    old = edition is Edition.HJ_633_2012
    first_8h, first_24h = start - 7 * HOUR, start - 23 * HOUR

    def hour_figure(pollutant: Pollutant, indicator: Indicator | None) -> Figure:
        return _mean_figure(pollutant, Measure.HOUR, of(pollutant), start, 1, 1, indicator)

    def moving_24h(pollutant: Pollutant, indicator: Indicator | None) -> Figure:
        return _mean_figure(
            pollutant,
            Measure.MOVING_24H,
            of(pollutant),
            first_24h,
            24,
            DAY_MEAN_MIN_HOURS,
            indicator,
        )

    figures = [
        hour_figure(Pollutant.PM2_5, None if old else PM2_5_1H),
        moving_24h(Pollutant.PM2_5, PM2_5_24H if old else None),
        hour_figure(Pollutant.PM10, None if old else PM10_1H),
        moving_24h(Pollutant.PM10, PM10_24H if old else None),
        hour_figure(Pollutant.SO2, SO2_1H),
        hour_figure(Pollutant.NO2, NO2_1H),
        hour_figure(Pollutant.CO, CO_1H),
        hour_figure(Pollutant.O3, O3_1H),
        _mean_figure(
            Pollutant.O3,
            Measure.MOVING_8H,
            of(Pollutant.O3),
            first_8h,
            8,
            MOVING_8H_MIN_HOURS,
            None,
        ),
    ]
    stand_ins: dict[Indicator, tuple[Indicator, Figure]] = {}
    so2_hour = figures[4]
    if old and so2_hour.value is not None and so2_hour.value > 800:
        # Only needed, and so only reported, when the 2012 rule above 800 applies.
        so2_day = moving_24h(Pollutant.SO2, None)
        figures.insert(5, so2_day)
        stand_ins[SO2_1H] = (SO2_24H, so2_day)
    done, assessment = _indexed(figures, edition, stand_ins)
    return AirQualityReport(
        ReportKind.REALTIME, start.astimezone(CITY_TZ), edition, done, assessment
    )


def daily_report(
    day: date,
    hourly: Mapping[Pollutant, HourlySeries] | Mapping[str, HourlySeries],
    *,
    units: Mapping[Pollutant, str] | Mapping[str, str] | None = None,
    edition: Edition | None = None,
) -> AirQualityReport:
    """The daily report (日报) for the natural day ``day`` (00:00–24:00 Asia/Shanghai).

    Figures and sub-indices: the 24-hour means of SO2, NO2, CO, PM10 and PM2.5, the O3
    daily maximum 8-hour moving mean and the O3 daily maximum hourly mean (the seven items of
    HJ 633's daily report). Under HJ 633-2012 an O3 8-hour maximum above 800 µg/m³ is
    reported by the O3 1-hour maximum's sub-index.
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        raise ReportInputError(f"the report day must be a date, not {day!r}")
    edition = Edition(edition) if edition is not None else edition_for(day)
    series = _read_series(hourly, units)
    empty: _Series = {}
    start = datetime(day.year, day.month, day.day, tzinfo=CITY_TZ).astimezone(UTC)

    def day_mean(pollutant: Pollutant, indicator: Indicator) -> Figure:
        return _mean_figure(
            pollutant,
            Measure.DAY,
            series.get(pollutant, empty),
            start,
            24,
            DAY_MEAN_MIN_HOURS,
            indicator,
        )

    o3 = series.get(Pollutant.O3, empty)
    o3_max_1h = _day_max_1h(Pollutant.O3, o3, start, O3_1H)
    figures = [
        day_mean(Pollutant.PM2_5, PM2_5_24H),
        day_mean(Pollutant.PM10, PM10_24H),
        day_mean(Pollutant.SO2, SO2_24H),
        day_mean(Pollutant.NO2, NO2_24H),
        day_mean(Pollutant.CO, CO_24H),
        _day_max_8h(o3, start, O3_8H),
        o3_max_1h,
    ]
    done, assessment = _indexed(figures, edition, {O3_8H: (O3_1H, o3_max_1h)})
    return AirQualityReport(ReportKind.DAILY, start.astimezone(CITY_TZ), edition, done, assessment)
