"""The ambient air quality index (环境空气质量指数, AQI) of HJ 633, both editions.

HJ 633-2012《环境空气质量指数（AQI）技术规定（试行）》 applies to data before 2026-03-01
00:00 Asia/Shanghai and HJ 633-2026《环境空气质量指数（AQI）技术规定》 from then on, so a
value keeps the index it was published with. The breakpoint tables are data below; the
arithmetic is exact (``Fraction``), so a concentration on a breakpoint gives that
breakpoint's index and never one more from a float error.

Per indicator (污染物项目 and averaging period) the sub-index (空气质量分指数, IAQI) is the
linear interpolation between the two breakpoints around the concentration, rounded up to an
integer (向上进位取整). AQI is the largest sub-index; when it is above 50 the indicators with
that sub-index are the primary pollutants (首要污染物), all of them when tied; indicators
with a sub-index above 100 are the exceedance pollutants (超标污染物).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType

from smartcity.core.clock import CITY_TZ
from smartcity.core.i18n import N_

Number = int | float | Decimal
"""A concentration as callers give it: µg/m³, or mg/m³ for CO. Floats are read by their
shortest decimal form (75.1 is 75.1, not 75.09999…)."""


# --- errors -----------------------------------------------------------------------------


class AirQualityInputError(ValueError):
    """Input the index cannot use. ``pollutant`` names the pollutant or indicator (when known)
    and ``problem`` says what is wrong, so a caller can show both next to the value."""

    def __init__(self, problem: str, *, pollutant: str | None = None) -> None:
        self.pollutant = pollutant
        self.problem = problem
        super().__init__(f"{pollutant}: {problem}" if pollutant else problem)


class UnknownPollutant(AirQualityInputError):
    """Not one of the six pollutants of HJ 633, or an unknown averaging period."""


class InvalidConcentration(AirQualityInputError):
    """Not a number, not finite, or negative."""


class WrongUnit(AirQualityInputError):
    """The value is not in the unit of the breakpoint tables (µg/m³; mg/m³ for CO)."""


class UnsupportedIndicator(AirQualityInputError):
    """The edition has no breakpoints for this pollutant and period (e.g. a 1-hour PM2.5
    sub-index under HJ 633-2012, or a 24-hour ozone mean)."""


class CompanionRequired(AirQualityInputError):
    """HJ 633-2012 reports this indicator through another one above 800 µg/m³ (SO2 1 h
    through the 24 h mean, O3 8 h through the 1 h mean), and that value was not given."""


# --- editions ---------------------------------------------------------------------------


class Edition(StrEnum):
    """The edition of the technical regulation that the data falls under."""

    HJ_633_2012 = "HJ 633-2012"
    HJ_633_2026 = "HJ 633-2026"


EDITION_2026_START = datetime(2026, 3, 1, tzinfo=CITY_TZ)
"""HJ 633-2026 took effect at 2026-03-01 00:00 Asia/Shanghai (2026-02-28T16:00Z)."""


def edition_for(moment: date | datetime) -> Edition:
    """The edition for data of ``moment``: an aware instant (the start of the averaging
    period) or a calendar day in Asia/Shanghai (a daily report's day)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise AirQualityInputError(
                f"the time of the data needs a timezone (got naive {moment.isoformat()})"
            )
        return Edition.HJ_633_2026 if moment >= EDITION_2026_START else Edition.HJ_633_2012
    if isinstance(moment, date):
        return Edition.HJ_633_2026 if moment >= EDITION_2026_START.date() else Edition.HJ_633_2012
    raise AirQualityInputError(f"the time of the data must be a date or datetime, not {moment!r}")


# --- pollutants and indicators ----------------------------------------------------------


class Pollutant(StrEnum):
    """The six pollutants of the index, by their codes."""

    PM2_5 = "PM2.5"
    PM10 = "PM10"
    SO2 = "SO2"
    NO2 = "NO2"
    CO = "CO"
    O3 = "O3"

    @property
    def name_zh(self) -> str:
        """细颗粒物, 可吸入颗粒物, 二氧化硫, 二氧化氮, 一氧化碳, 臭氧."""
        return _POLLUTANT_NAMES[self]

    @property
    def name_en(self) -> str:
        """fine particulate matter, ozone...: the English names of the standard's terms."""
        return _POLLUTANT_NAMES_EN[self]

    @property
    def unit(self) -> str:
        return "mg/m³" if self is Pollutant.CO else "µg/m³"


_POLLUTANT_NAMES = {
    Pollutant.PM2_5: "细颗粒物",
    Pollutant.PM10: "可吸入颗粒物",
    Pollutant.SO2: "二氧化硫",
    Pollutant.NO2: "二氧化氮",
    Pollutant.CO: "一氧化碳",
    Pollutant.O3: "臭氧",
}
_POLLUTANT_NAMES_EN = {
    Pollutant.PM2_5: "Fine particulate matter",
    Pollutant.PM10: "Inhalable particulate matter",
    Pollutant.SO2: "Sulphur dioxide",
    Pollutant.NO2: "Nitrogen dioxide",
    Pollutant.CO: "Carbon monoxide",
    Pollutant.O3: "Ozone",
}
_POLLUTANT_ALIASES = {p.value.replace(".", "").upper(): p for p in Pollutant} | {
    name: p for p, name in _POLLUTANT_NAMES.items()
}
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def pollutant_from(code: Pollutant | str) -> Pollutant:
    """A pollutant from its code ("PM2.5", "pm25", "PM2_5", "SO₂") or Chinese name."""
    if isinstance(code, Pollutant):
        return code
    if not isinstance(code, str):
        raise UnknownPollutant(f"{code!r} is not a pollutant code")
    key = code.translate(_SUBSCRIPTS).strip().upper()
    for sep in (".", "_", " ", "-"):
        key = key.replace(sep, "")
    found = _POLLUTANT_ALIASES.get(key) or _POLLUTANT_ALIASES.get(code.strip())
    if found is None:
        raise UnknownPollutant(
            "unknown pollutant; expected one of PM2.5, PM10, SO2, NO2, CO, O3",
            pollutant=code,
        )
    return found


class Period(StrEnum):
    """Averaging period (平均时间)."""

    HOUR = "1h"
    EIGHT_HOURS = "8h"
    DAY = "24h"

    @property
    def name_zh(self) -> str:
        return {"1h": "1小时", "8h": "8小时", "24h": "24小时"}[self.value]

    @property
    def name_en(self) -> str:
        return {"1h": "1-hour", "8h": "8-hour", "24h": "24-hour"}[self.value]


@dataclass(frozen=True)
class Indicator:
    """A pollutant averaged over a period (污染物项目及平均时间), one column of the tables."""

    pollutant: Pollutant
    period: Period

    @property
    def code(self) -> str:
        """e.g. ``PM2.5_24h``, ``O3_8h``."""
        return f"{self.pollutant.value}_{self.period.value}"

    @property
    def label_zh(self) -> str:
        """How a primary pollutant is named: ozone with its period (臭氧8小时), the others by
        the pollutant's name (细颗粒物)."""
        if self.pollutant is Pollutant.O3:
            return f"臭氧{self.period.name_zh}"
        return self.pollutant.name_zh

    @property
    def label_en(self) -> str:
        """The English of ``label_zh``: Ozone (8-hour), Fine particulate matter."""
        if self.pollutant is Pollutant.O3:
            return f"{self.pollutant.name_en} ({self.period.name_en})"
        return self.pollutant.name_en

    @property
    def label_code(self) -> str:
        """The code beside the Chinese name: ``O3_8h`` / ``O3_1h`` for ozone, else PM2.5…"""
        if self.pollutant is Pollutant.O3:
            return self.code
        return self.pollutant.value

    def __str__(self) -> str:
        return self.code


SO2_24H = Indicator(Pollutant.SO2, Period.DAY)
SO2_1H = Indicator(Pollutant.SO2, Period.HOUR)
NO2_24H = Indicator(Pollutant.NO2, Period.DAY)
NO2_1H = Indicator(Pollutant.NO2, Period.HOUR)
PM10_24H = Indicator(Pollutant.PM10, Period.DAY)
PM10_1H = Indicator(Pollutant.PM10, Period.HOUR)
CO_24H = Indicator(Pollutant.CO, Period.DAY)
CO_1H = Indicator(Pollutant.CO, Period.HOUR)
O3_1H = Indicator(Pollutant.O3, Period.HOUR)
O3_8H = Indicator(Pollutant.O3, Period.EIGHT_HOURS)
PM2_5_24H = Indicator(Pollutant.PM2_5, Period.DAY)
PM2_5_1H = Indicator(Pollutant.PM2_5, Period.HOUR)

INDICATORS: tuple[Indicator, ...] = (
    PM2_5_24H,
    PM2_5_1H,
    PM10_24H,
    PM10_1H,
    SO2_24H,
    SO2_1H,
    NO2_24H,
    NO2_1H,
    CO_24H,
    CO_1H,
    O3_8H,
    O3_1H,
)
"""Every indicator, in the order reports list them (particles first, as the city reads)."""
_ORDER = {indicator: i for i, indicator in enumerate(INDICATORS)}


def indicator_from(code: Indicator | str) -> Indicator:
    """An indicator from its code: ``PM2.5_24h``, ``pm25_1h``, ``O3_8h``…"""
    if isinstance(code, Indicator):
        return code
    if not isinstance(code, str) or "_" not in code:
        raise UnknownPollutant(
            "unknown indicator; expected a code like PM2.5_24h or O3_8h", pollutant=str(code)
        )
    pollutant_part, period_part = code.rsplit("_", 1)
    pollutant = pollutant_from(pollutant_part)
    try:
        period = Period(period_part.strip().lower())
    except ValueError:
        raise UnknownPollutant(
            f"unknown averaging period {period_part!r}; expected 1h, 8h or 24h", pollutant=code
        ) from None
    return Indicator(pollutant, period)


# --- the breakpoint tables (HJ 633 表1) --------------------------------------------------

IAQI_LEVELS: tuple[int, ...] = (0, 50, 100, 150, 200, 300, 400, 500)
"""The sub-index at each breakpoint; a column's n-th concentration pairs with the n-th."""

# Concentrations at IAQI 0, 50, 100, 150, 200, 300, 400, 500 (µg/m³; CO mg/m³). SO2 1 h stops
# at 800 (IAQI 200) and O3 8 h at 800 (IAQI 300): above those the rules in sub_index apply.
_TABLE_2012: dict[Indicator, tuple[int, ...]] = {
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
# 2026: the IAQI-100 breakpoint of PM10 drops from 150 to 120 and of PM2.5 from 75 to 60;
# real-time reports use 1-hour particle means against the same particle columns.
_TABLE_2026: dict[Indicator, tuple[int, ...]] = {
    **_TABLE_2012,
    PM10_24H: (0, 50, 120, 250, 350, 420, 500, 600),
    PM2_5_24H: (0, 35, 60, 115, 150, 250, 350, 500),
}
_TABLE_2026[PM10_1H] = _TABLE_2026[PM10_24H]
_TABLE_2026[PM2_5_1H] = _TABLE_2026[PM2_5_24H]

BREAKPOINTS: Mapping[Edition, Mapping[Indicator, tuple[int, ...]]] = MappingProxyType(
    {
        Edition.HJ_633_2012: MappingProxyType(_TABLE_2012),
        Edition.HJ_633_2026: MappingProxyType(_TABLE_2026),
    }
)

# Above 800 µg/m³ these two columns end; HJ 633-2012 reports them through a stand-in
# indicator, HJ 633-2026 gives a fixed sub-index.
_STAND_IN_2012 = {SO2_1H: SO2_24H, O3_8H: O3_1H}
_FIXED_2026 = {SO2_1H: 200, O3_8H: 300}


def breakpoints(indicator: Indicator | str, edition: Edition) -> tuple[tuple[int, int], ...]:
    """The (concentration, IAQI) pairs of one column of an edition's table."""
    indicator = indicator_from(indicator)
    table = BREAKPOINTS[Edition(edition)].get(indicator)
    if table is None:
        raise UnsupportedIndicator(
            f"{Edition(edition).value} has no breakpoints for this indicator",
            pollutant=indicator.code,
        )
    return tuple(zip(table, IAQI_LEVELS, strict=False))


# --- sub-indices ------------------------------------------------------------------------


class Rule(StrEnum):
    """A rule of the standard that replaced the plain interpolation."""

    ABOVE_SCALE = "above_scale"
    SO2_1H_FROM_24H = "so2_1h_from_24h"
    O3_8H_FROM_1H = "o3_8h_from_1h"
    SO2_1H_FIXED_200 = "so2_1h_fixed_200"
    O3_8H_FIXED_300 = "o3_8h_fixed_300"


RULE_TEXT: Mapping[Rule, str] = MappingProxyType(
    {
        Rule.ABOVE_SCALE: N_("Above the top of the table: reported as 500"),
        Rule.SO2_1H_FROM_24H: N_(
            "SO2 1-hour mean above 800 µg/m³: reported by the 24-hour sub-index (HJ 633-2012)"
        ),
        Rule.O3_8H_FROM_1H: N_(
            "O3 8-hour mean above 800 µg/m³: reported by the 1-hour sub-index (HJ 633-2012)"
        ),
        Rule.SO2_1H_FIXED_200: N_("SO2 1-hour mean above 800 µg/m³: sub-index 200 (HJ 633-2026)"),
        Rule.O3_8H_FIXED_300: N_("O3 8-hour mean above 800 µg/m³: sub-index 300 (HJ 633-2026)"),
    }
)
"""English msgids (translated by the catalog) explaining each rule."""


@dataclass(frozen=True)
class SubIndex:
    """The air quality sub-index (空气质量分指数, IAQI) of one indicator."""

    indicator: Indicator
    concentration: Decimal
    value: int
    exact: Fraction | None
    """The interpolated value before rounding up; None where a rule set the value."""
    rule: Rule | None = None
    via: SubIndex | None = None
    """HJ 633-2012 above 800: the stand-in indicator's sub-index that gives ``value``."""

    @property
    def reported_as(self) -> Indicator:
        """The indicator the value belongs to (the stand-in's, when a 2012 rule applied)."""
        return self.via.indicator if self.via is not None else self.indicator


def concentration_value(value: object, pollutant: str | None = None) -> Decimal:
    """A concentration as an exact non-negative Decimal, or InvalidConcentration."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidConcentration(
            f"concentration must be a number, not {type(value).__name__} {value!r}",
            pollutant=pollutant,
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidConcentration(
                f"concentration must be finite (got {value!r})", pollutant=pollutant
            )
        decimal = Decimal(repr(value))
    elif isinstance(value, int):
        decimal = Decimal(value)
    else:
        if not value.is_finite():
            raise InvalidConcentration(
                f"concentration must be finite (got {value})", pollutant=pollutant
            )
        decimal = value
    if decimal < 0:
        raise InvalidConcentration(
            f"concentration must not be negative (got {decimal})", pollutant=pollutant
        )
    return decimal + 0  # normalises -0 to 0


def check_unit(pollutant: Pollutant, unit: str | None) -> None:
    """Refuse a unit other than the tables' (µg/m³, or mg/m³ for CO). None means "as the
    tables". UCUM spellings (ug/m3, mg/m3) and both micro signs are accepted."""
    if unit is None:
        return
    if not isinstance(unit, str):
        raise WrongUnit(f"unit must be text, not {unit!r}", pollutant=pollutant.value)
    normal = unit.strip().replace(" ", "").replace("^3", "3").replace("³", "3")
    normal = normal.replace("μ", "u").replace("µ", "u").lower()
    expected = "mg/m3" if pollutant is Pollutant.CO else "ug/m3"
    if normal != expected:
        raise WrongUnit(
            f"concentration must be in {pollutant.unit}, not {unit!r}", pollutant=pollutant.value
        )


def _interpolate(table: tuple[int, ...], concentration: Fraction) -> Fraction | None:
    """IAQI_P = (IAQI_Hi − IAQI_Lo) / (BP_Hi − BP_Lo) · (C_P − BP_Lo) + IAQI_Lo, on the
    segment whose upper breakpoint is the first at or above C_P; None above the table."""
    for i in range(1, len(table)):
        bp_lo, bp_hi = table[i - 1], table[i]
        if concentration <= bp_hi:
            iaqi_lo, iaqi_hi = IAQI_LEVELS[i - 1], IAQI_LEVELS[i]
            return Fraction(iaqi_hi - iaqi_lo, bp_hi - bp_lo) * (concentration - bp_lo) + iaqi_lo
    return None


def sub_index(
    indicator: Indicator | str,
    concentration: Number,
    *,
    edition: Edition,
    unit: str | None = None,
    companion: Number | None = None,
) -> SubIndex:
    """The sub-index of ``indicator`` at ``concentration`` under ``edition``.

    Above 800 µg/m³, SO2 1 h and O3 8 h follow the edition's rule: HJ 633-2012 reports them
    by the sub-index of ``companion`` (the SO2 24 h mean, the O3 1 h mean), which must then be
    given; HJ 633-2026 fixes them at 200 and 300. Any other concentration above the top of
    its column has no interpolation and is reported as 500 (``Rule.ABOVE_SCALE``).
    """
    edition = Edition(edition)
    indicator = indicator_from(indicator)
    table = BREAKPOINTS[edition].get(indicator)
    if table is None:
        raise UnsupportedIndicator(
            f"{edition.value} has no breakpoints for this indicator", pollutant=indicator.code
        )
    check_unit(indicator.pollutant, unit)
    decimal = concentration_value(concentration, indicator.code)
    exact_concentration = Fraction(decimal)
    exact = _interpolate(table, exact_concentration)
    if exact is not None:
        return SubIndex(indicator, decimal, math.ceil(exact), exact)
    if indicator in _STAND_IN_2012 and edition is Edition.HJ_633_2012:
        stand_in = _STAND_IN_2012[indicator]
        if companion is None:
            raise CompanionRequired(
                f"above {table[-1]} {indicator.pollutant.unit} HJ 633-2012 reports this by the "
                f"{stand_in.code} sub-index; give the {stand_in.code} concentration",
                pollutant=indicator.code,
            )
        via = sub_index(stand_in, companion, edition=edition, unit=unit)
        rule = Rule.SO2_1H_FROM_24H if indicator == SO2_1H else Rule.O3_8H_FROM_1H
        return SubIndex(indicator, decimal, via.value, None, rule, via)
    if indicator in _FIXED_2026 and edition is Edition.HJ_633_2026:
        rule = Rule.SO2_1H_FIXED_200 if indicator == SO2_1H else Rule.O3_8H_FIXED_300
        return SubIndex(indicator, decimal, _FIXED_2026[indicator], None, rule)
    return SubIndex(indicator, decimal, IAQI_LEVELS[len(table) - 1], None, Rule.ABOVE_SCALE)


# --- categories (HJ 633 表2 and 附录A) ----------------------------------------------------


@dataclass(frozen=True)
class Category:
    """An AQI level (空气质量指数级别) with its category (类别) and colour (表示颜色).

    ``name_zh`` and ``colour_zh`` are the standard's terms; ``label``, ``health_effect``
    and ``advice`` are English msgids for the catalog. ``colour_en`` is a plain English name
    (not a msgid: "Red" and "Yellow" already mean the supervision cards 红牌/黄牌). The
    health wording is the platform's own summary of the standard's guidance, not its text.
    """

    level: int
    level_zh: str
    name_zh: str
    label: str
    colour_zh: str
    colour_en: str
    rgb: tuple[int, int, int]
    cmyk: tuple[int, int, int, int]
    aqi_low: int
    aqi_high: int | None
    health_effect: str
    advice: str

    @property
    def rgb_hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


CATEGORIES: tuple[Category, ...] = (
    Category(
        1,
        "一级",
        "优",
        N_("Excellent"),
        "绿色",
        "Green",
        (0, 228, 0),
        (40, 0, 100, 0),
        0,
        50,
        N_("The air is clean; pollution is of little or no concern to health."),
        N_("Everyone can go about outdoor activities as usual."),
    ),
    Category(
        2,
        "二级",
        "良",
        N_("Good"),
        "黄色",
        "Yellow",
        (255, 255, 0),
        (0, 0, 100, 0),
        51,
        100,
        N_("The air is acceptable; a very few unusually sensitive people may feel it."),
        N_("Unusually sensitive people should cut down on outdoor activity."),
    ),
    Category(
        3,
        "三级",
        "轻度污染",
        N_("Lightly polluted"),
        "橙色",
        "Orange",
        (255, 126, 0),
        (0, 52, 100, 0),
        101,
        150,
        N_("Sensitive people may feel slightly worse; healthy people may notice irritation."),
        N_(
            "Children, older people and people with heart or lung disease should cut down "
            "on long or strenuous outdoor exertion."
        ),
    ),
    Category(
        4,
        "四级",
        "中度污染",
        N_("Moderately polluted"),
        "红色",
        "Red",
        (255, 0, 0),
        (0, 100, 100, 0),
        151,
        200,
        N_("Sensitive people feel worse still; the heart and lungs of healthy people may suffer."),
        N_(
            "Sensitive people should avoid long or strenuous outdoor exertion; everyone else "
            "should cut down on it, outdoor exercise above all."
        ),
    ),
    Category(
        5,
        "五级",
        "重度污染",
        N_("Heavily polluted"),
        "紫色",
        "Purple",
        (153, 0, 76),
        (10, 100, 40, 30),
        201,
        300,
        N_(
            "People with heart or lung disease feel markedly worse and tire sooner; healthy "
            "people commonly have symptoms."
        ),
        N_(
            "Sensitive people should stay indoors and rest; everyone else should cut down on "
            "outdoor activity."
        ),
    ),
    Category(
        6,
        "六级",
        "严重污染",
        N_("Severely polluted"),
        "褐红色",
        "Maroon",
        (126, 0, 35),
        (30, 100, 100, 30),
        301,
        None,
        N_("Healthy people tire sooner and have marked symptoms; some illnesses may set in early."),
        N_(
            "Sensitive people should stay indoors and avoid exertion; everyone else should "
            "avoid outdoor activity."
        ),
    ),
)
"""The six categories; the same in both editions."""


def category_for(aqi: int) -> Category:
    """The category of an AQI value (0–50 优 … above 300 严重污染)."""
    if isinstance(aqi, bool) or not isinstance(aqi, int):
        raise AirQualityInputError(f"AQI must be an integer, not {aqi!r}")
    if aqi < 0:
        raise AirQualityInputError(f"AQI must not be negative (got {aqi})")
    for category in CATEGORIES:
        if category.aqi_high is None or aqi <= category.aqi_high:
            return category
    raise AssertionError("unreachable: the last category is open-ended")


# --- the index --------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """AQI of a set of sub-indices: the index, its category, primary and exceedance
    pollutants. ``aqi`` is None when no sub-index was given."""

    edition: Edition
    sub_indices: tuple[SubIndex, ...]
    aqi: int | None
    category: Category | None
    primary_pollutants: tuple[Indicator, ...]
    exceeding_pollutants: tuple[Indicator, ...]

    def sub_index_of(self, indicator: Indicator | str) -> SubIndex | None:
        wanted = indicator_from(indicator)
        return next((s for s in self.sub_indices if s.indicator == wanted), None)


def combine(sub_indices: Iterable[SubIndex], *, edition: Edition) -> Assessment:
    """AQI = max(IAQI); primary pollutants when AQI > 50, every tied one; exceedance where
    IAQI > 100.

    A sub-index that a 2012 rule reported through an indicator that is itself in the set
    (O3 8 h through O3 1 h in a daily report) adds nothing new, so it is not counted twice.
    """
    ordered = sorted(sub_indices, key=lambda s: _ORDER[s.indicator])
    seen = [s.indicator for s in ordered]
    if len(set(seen)) != len(seen):
        duplicate = next(i for i in seen if seen.count(i) > 1)
        raise AirQualityInputError("indicator given twice", pollutant=duplicate.code)
    present = set(seen)
    counted = [s for s in ordered if s.via is None or s.via.indicator not in present]
    if not counted:
        return Assessment(Edition(edition), tuple(ordered), None, None, (), ())
    aqi = max(s.value for s in counted)

    def unique(items: Iterable[Indicator]) -> tuple[Indicator, ...]:
        return tuple(sorted(set(items), key=_ORDER.__getitem__))

    primary = unique(s.reported_as for s in counted if s.value == aqi) if aqi > 50 else ()
    exceeding = unique(s.reported_as for s in counted if s.value > 100)
    return Assessment(Edition(edition), tuple(ordered), aqi, category_for(aqi), primary, exceeding)


def assess(
    concentrations: Mapping[Indicator, Number] | Mapping[str, Number],
    *,
    edition: Edition,
    companions: Mapping[Indicator, Number] | Mapping[str, Number] | None = None,
    units: Mapping[Indicator, str] | Mapping[str, str] | None = None,
) -> Assessment:
    """The AQI of concentrations by indicator, e.g. a day's
    ``{PM2_5_24H: 80, PM10_24H: 140, SO2_24H: 10, NO2_24H: 50, CO_24H: 1.2, O3_8H: 120}``.

    ``companions`` holds stand-in values that count only through the HJ 633-2012 rules above
    800 (an SO2 24 h mean for a real-time report); an indicator in ``concentrations`` is
    also used as a stand-in. ``units`` optionally states each value's unit, checked.
    """
    edition = Edition(edition)
    values = {indicator_from(k): v for k, v in concentrations.items()}
    if len(values) != len(concentrations):
        raise AirQualityInputError("an indicator is given twice under different codes")
    stand_ins = {indicator_from(k): v for k, v in (companions or {}).items()} | values
    unit_of = {indicator_from(k): u for k, u in (units or {}).items()}
    subs = [
        sub_index(
            indicator,
            value,
            edition=edition,
            unit=unit_of.get(indicator),
            companion=(
                stand_ins.get(_STAND_IN_2012[indicator]) if indicator in _STAND_IN_2012 else None
            ),
        )
        for indicator, value in values.items()
    ]
    return combine(subs, edition=edition)
