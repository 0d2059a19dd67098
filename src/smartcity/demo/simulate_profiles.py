"""Value profiles of the simulated city (模拟数据曲线): what an air station, a traffic detector
or a water meter of Shenzhen would plausibly report at a given time.

Every value is a pure function of (seed, series key, time): no state, so the demo's back-filled
history and the live feed agree, tests are exact, and two runs with the same seed give the same
city. Each profile is a diurnal curve (rush hours, O3 peaking in the afternoon, particles higher
at night and in winter), slow "weather" that drifts over hours, a little noise, and pollution
episodes (污染过程) in which PM2.5 climbs past 115 µg/m³ for a few hours in one district.
Values are clamped to plausible ranges.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType

from smartcity.core.clock import CITY_TZ
from smartcity.core.ids import SHENZHEN_DISTRICTS
from smartcity.environment.aqi import Pollutant
from smartcity.environment.stations import POLLUTANT_DEFINITIONS, POLLUTANT_UCUM
from smartcity.sensing.contract import OM_COUNT, OM_MEASUREMENT

_DEF = "https://smartcity.invalid/def/"
VEHICLE_COUNT = f"{_DEF}traffic/vehicleCount"
MEAN_SPEED = f"{_DEF}traffic/meanSpeed"
WATER_FLOW = f"{_DEF}water/flowRate"
WATER_PRESSURE = f"{_DEF}water/pressure"

DEFAULT_SEED = 20261124


@dataclass(frozen=True)
class Episode:
    """A pollution episode: PM2.5 rises towards ``peak`` µg/m³ in one district between
    ``start`` and ``end`` (ramping up over the first quarter, down over the last)."""

    district_code: str
    start: datetime
    end: datetime
    peak: float

    def level(self, at: datetime) -> float:
        """0 outside, 1 on the plateau, linear on the ramps."""
        if not self.start < at < self.end:
            return 0.0
        span = (self.end - self.start).total_seconds()
        ramp = span / 4
        into = (at - self.start).total_seconds()
        left = (self.end - at).total_seconds()
        return min(1.0, into / ramp, left / ramp)


@dataclass(frozen=True)
class Series:
    """One simulated Datastream as the generators see it."""

    key: str  # stable: the noise of this series, e.g. "440304-AQ01/PM2.5"
    district_code: str
    scale: float = 1.0  # lanes of a detector, nominal flow of a meter, ...


@dataclass(frozen=True)
class Context:
    seed: int
    episodes: tuple[Episode, ...] = ()


Generator = Callable[[Context, Series, datetime], float]


@dataclass(frozen=True)
class Profile:
    """An ObservedProperty the simulator can produce, with the Datastream's unit and type."""

    key: str
    definition: str
    name: str  # the ObservedProperty's name
    title: str  # short Chinese label, for Datastream names
    description: str  # Chinese: what operators read
    unit: dict[str, str]
    observation_type: str
    low: float
    high: float
    digits: int  # decimals kept; 0 with OM_CountObservation gives integers
    generate: Generator
    over_interval: bool = False  # a count or mean over the reporting interval

    def value(self, context: Context, series: Series, at: datetime) -> float | int:
        raw = self.generate(context, series, at)
        clamped = min(self.high, max(self.low, raw))
        if self.observation_type == OM_COUNT:
            return round(clamped)
        return round(clamped, self.digits)


# --- deterministic randomness ------------------------------------------------------------------


_MASK = 2**64 - 1


def _mix(z: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash of an integer."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@lru_cache(maxsize=65536)
def _text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def unit(*parts: str | int) -> float:
    """A uniform number in [0, 1) fixed by ``parts`` (tens of thousands per second are
    needed for the demo's history, hence integer mixing rather than a hash per call)."""
    h = 0
    for part in parts:
        h = _mix(h ^ (_text_hash(part) if isinstance(part, str) else part & _MASK))
    return h / 2**64


def normal(*parts: str | int) -> float:
    """A standard normal number fixed by ``parts``."""
    # Box-Muller on the two 32-bit halves of one hash; 1 - u keeps the logarithm's argument
    # above 0.
    h = int(unit(*parts) * 2**64)
    u1, u2 = 1 - (h >> 32) / 2**32, (h & 0xFFFFFFFF) / 2**32
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def smooth(seed: int, key: str, at: datetime, period_s: float) -> float:
    """Slow noise in [-1, 1]: random knots every ``period_s`` seconds, cosine-interpolated,
    so consecutive readings drift instead of jumping (weather, a station's own bias)."""
    t = at.timestamp() / period_s
    k = math.floor(t)
    a, b = _knot(seed, key, k), _knot(seed, key, k + 1)
    w = (1 - math.cos(math.pi * (t - k))) / 2
    return a * (1 - w) + b * w


@lru_cache(maxsize=65536)
def _knot(seed: int, key: str, k: int) -> float:
    # Neighbouring readings share knots (and the demo's streams share instants): cached.
    return unit(seed, key, k) * 2 - 1


@lru_cache(maxsize=65536)
def _local(at: datetime) -> tuple[float, int, bool]:
    """(hour of the day, month index 0-11, weekend) on the city's clock."""
    local = at.astimezone(CITY_TZ)
    hour = local.hour + local.minute / 60 + local.second / 3600
    return hour, local.month - 1, local.weekday() >= 5


def _hour(at: datetime) -> float:
    return _local(at)[0]


def _bump(h: float, centre: float, width: float) -> float:
    d = min(abs(h - centre), 24 - abs(h - centre))
    return math.exp(-((d / width) ** 2) / 2)


def _weekend(at: datetime) -> bool:
    return _local(at)[2]


def rush(at: datetime) -> float:
    """Morning and evening rush hours (早晚高峰), about 0..1; weaker at weekends."""
    h = _hour(at)
    level = _bump(h, 8.3, 1.0) + 0.9 * _bump(h, 18.3, 1.3)
    return level * (0.35 if _weekend(at) else 1.0)


def daylight_activity(at: datetime) -> float:
    """0 in the small hours, 1 from mid-morning to late evening."""
    h = _hour(at)
    rise = 1 / (1 + math.exp(-(h - 6.5) * 1.5))
    fall = 1 / (1 + math.exp((h - 23.0) * 1.2))
    return rise * fall


# --- episodes ----------------------------------------------------------------------------------

EPISODE_DAY_PROBABILITY = 0.3  # one district has an episode on about one day in three
_DISTRICT_CODES = tuple(d.code for d in SHENZHEN_DISTRICTS)


@lru_cache(maxsize=1024)
def scheduled_episode(seed: int, day: date) -> Episode | None:
    """The episode starting on a city day, if any: evenings with a stagnant boundary layer."""
    if unit(seed, "episode", day.toordinal()) >= EPISODE_DAY_PROBABILITY:
        return None
    district = _DISTRICT_CODES[int(unit(seed, "episode-district", day.toordinal()) * 10) % 10]
    start_local = datetime(day.year, day.month, day.day, 18, tzinfo=CITY_TZ) + timedelta(
        hours=unit(seed, "episode-start", day.toordinal()) * 6
    )
    hours = 4 + unit(seed, "episode-hours", day.toordinal()) * 5
    peak = 125 + unit(seed, "episode-peak", day.toordinal()) * 55
    return Episode(district, start_local, start_local + timedelta(hours=hours), peak)


def episode_level(context: Context, district_code: str, at: datetime) -> tuple[float, float]:
    """(level 0..1, peak µg/m³) of the strongest episode over a district at ``at``."""
    day = at.astimezone(CITY_TZ).date()
    scheduled = (
        scheduled_episode(context.seed, day - timedelta(days=1)),
        scheduled_episode(context.seed, day),
    )
    candidates = [e for e in scheduled if e is not None] + list(context.episodes)
    best = (0.0, 0.0)
    for episode in candidates:
        if episode.district_code != district_code:
            continue
        level = episode.level(at)
        if level > best[0]:
            best = (level, episode.peak)
    return best


# --- air (空气质量) -------------------------------------------------------------------------------

# Particles are highest in winter (northerly air from the Pearl River Delta), lowest in the
# monsoon; O3 peaks in autumn. Factors by month.
PM_SEASON = (1.7, 1.5, 1.3, 1.0, 0.8, 0.6, 0.55, 0.6, 0.8, 1.1, 1.4, 1.6)
O3_SEASON = (0.7, 0.7, 0.8, 0.95, 1.0, 0.9, 0.9, 1.0, 1.3, 1.35, 1.0, 0.8)
# Western industrial districts a little dirtier, the coast cleaner.
PM_DISTRICT = {"440306": 1.15, "440311": 1.15, "440309": 1.1, "440308": 0.8, "4403DP": 0.7}


def _month(at: datetime) -> int:
    return _local(at)[1]


def _weather(context: Context, series: Series, at: datetime) -> float:
    """District-wide weather (6 h knots) and the station's own drift (1 h knots)."""
    regional = smooth(context.seed, f"weather/{series.district_code}", at, 6 * 3600)
    local = smooth(context.seed, f"drift/{series.key.split('/')[0]}", at, 3600)
    return 0.35 * regional + 0.1 * local


def _pm25_base(context: Context, series: Series, at: datetime) -> float:
    h = _hour(at)
    diurnal = 1 + 0.25 * math.cos(2 * math.pi * (h - 0.5) / 24) + 0.12 * rush(at)
    factor = PM_SEASON[_month(at)] * PM_DISTRICT.get(series.district_code, 1.0)
    return 19 * factor * diurnal * (1 + _weather(context, series, at))


def _noise(context: Context, series: Series, at: datetime, size: float) -> float:
    return size * normal(context.seed, series.key, int(at.timestamp()))


def pm25(context: Context, series: Series, at: datetime) -> float:
    base = _pm25_base(context, series, at)
    level, peak = episode_level(context, series.district_code, at)
    value = base + level * max(0.0, peak - base)
    return value + _noise(context, series, at, 1.5)


def pm10(context: Context, series: Series, at: datetime) -> float:
    ratio = 1.55 + 0.15 * smooth(context.seed, series.key, at, 3 * 3600)
    return pm25(context, series, at) * ratio + 4 + _noise(context, series, at, 2.0)


def no2(context: Context, series: Series, at: datetime) -> float:
    level, _peak = episode_level(context, series.district_code, at)
    base = 20 * PM_DISTRICT.get(series.district_code, 1.0) * (1 + 0.8 * rush(at))
    return base * (1 + _weather(context, series, at)) + 25 * level + _noise(context, series, at, 2)


def so2(context: Context, series: Series, at: datetime) -> float:
    return 6 * (1 + 0.8 * _weather(context, series, at)) + _noise(context, series, at, 0.6)


def co(context: Context, series: Series, at: datetime) -> float:
    level, _peak = episode_level(context, series.district_code, at)
    base = 0.5 * math.sqrt(PM_SEASON[_month(at)]) * (1 + 0.5 * rush(at))
    return (
        base * (1 + _weather(context, series, at))
        + 0.45 * level
        + _noise(context, series, at, 0.03)
    )


def o3(context: Context, series: Series, at: datetime) -> float:
    h = _hour(at)
    sun: float = max(0.0, math.sin(math.pi * (h - 8.5) / 12)) ** 1.5  # peaks about 14:30
    regional = smooth(context.seed, f"weather/{series.district_code}", at, 6 * 3600)
    photochemistry = 110 * O3_SEASON[_month(at)] * sun * (1 + 0.3 * regional)
    titration = 8 * rush(at)  # NO from traffic eats O3 at rush hour
    return 28 + photochemistry - titration + _noise(context, series, at, 3)


def _air_unit(pollutant: Pollutant) -> dict[str, str]:
    symbol, code = POLLUTANT_UCUM[pollutant]
    name = "milligram per cubic metre" if pollutant is Pollutant.CO else "microgram per cubic metre"
    return {"name": name, "symbol": symbol, "definition": f"ucum:{code}"}


_AIR: dict[Pollutant, tuple[Generator, float, float, int]] = {
    Pollutant.PM2_5: (pm25, 1, 500, 1),
    Pollutant.PM10: (pm10, 2, 600, 1),
    Pollutant.SO2: (so2, 1, 80, 1),
    Pollutant.NO2: (no2, 2, 250, 1),
    Pollutant.CO: (co, 0.1, 6, 2),
    Pollutant.O3: (o3, 2, 320, 1),
}

# --- traffic (交通) ------------------------------------------------------------------------------


def traffic_load(at: datetime) -> float:
    """Demand on a road, about 0.08 in the small hours to 1 at the rush peaks."""
    return 0.08 + 0.5 * daylight_activity(at) + 0.45 * rush(at)


def vehicle_count(context: Context, series: Series, at: datetime) -> float:
    """Vehicles passing in one minute over all lanes."""
    lanes = series.scale
    mean = 20 * lanes * traffic_load(at) * (1 + 0.1 * smooth(context.seed, series.key, at, 1800))
    return mean + math.sqrt(max(mean, 1.0)) * normal(context.seed, series.key, int(at.timestamp()))


def mean_speed(context: Context, series: Series, at: datetime) -> float:
    """Mean speed in km/h: free flow at night, congested at the rush peaks."""
    free_flow = 62.0
    congestion = max(0.0, traffic_load(at) - 0.55) / 0.45
    drift = 1 + 0.06 * smooth(context.seed, series.key, at, 1800)
    return free_flow * (1 - 0.6 * congestion) * drift + _noise(context, series, at, 2.5)


# --- water (供水) -------------------------------------------------------------------------------


def water_demand(at: datetime) -> float:
    """Household demand, about 0.3 at night to 1.2 at the evening peak."""
    h = _hour(at)
    return (
        0.3
        + 0.3 * daylight_activity(at)
        + 0.5 * _bump(h, 7.5, 1.2)
        + 0.3 * _bump(h, 12.0, 1.2)
        + 0.55 * _bump(h, 19.5, 1.6)
    )


def water_flow(context: Context, series: Series, at: datetime) -> float:
    """Flow through a district meter, m³/h; ``scale`` is its nominal flow."""
    drift = 1 + 0.08 * smooth(context.seed, series.key, at, 3600)
    return series.scale * water_demand(at) * drift + _noise(
        context, series, at, series.scale * 0.02
    )


def water_pressure(context: Context, series: Series, at: datetime) -> float:
    """Pressure at the meter, MPa: drops as demand rises."""
    offset = 0.03 * (unit(context.seed, series.key, "offset") * 2 - 1)
    return 0.44 + offset - 0.12 * water_demand(at) + _noise(context, series, at, 0.004)


# --- the catalogue -----------------------------------------------------------------------------


def _profiles() -> dict[str, Profile]:
    out: dict[str, Profile] = {}
    for pollutant, (fn, low, high, digits) in _AIR.items():
        definition = POLLUTANT_DEFINITIONS[pollutant]
        out[definition] = Profile(
            key=pollutant.value,
            definition=definition,
            name=pollutant.value,
            title=pollutant.value,
            description=f"{pollutant.name_zh}浓度",
            unit=_air_unit(pollutant),
            observation_type=OM_MEASUREMENT,
            low=low,
            high=high,
            digits=digits,
            generate=fn,
        )
    out[VEHICLE_COUNT] = Profile(
        key="vehicleCount",
        definition=VEHICLE_COUNT,
        name="Vehicle count",
        title="车流量",
        description="每个上报周期内通过断面的机动车数量",
        unit={"name": "vehicle", "symbol": "辆", "definition": "ucum:{vehicle}"},
        observation_type=OM_COUNT,
        low=0,
        high=600,
        digits=0,
        generate=vehicle_count,
        over_interval=True,
    )
    out[MEAN_SPEED] = Profile(
        key="meanSpeed",
        definition=MEAN_SPEED,
        name="Mean speed",
        title="平均车速",
        description="上报周期内通过车辆的平均车速",
        unit={"name": "kilometre per hour", "symbol": "km/h", "definition": "ucum:km/h"},
        observation_type=OM_MEASUREMENT,
        low=3,
        high=120,
        digits=1,
        generate=mean_speed,
        over_interval=True,
    )
    out[WATER_FLOW] = Profile(
        key="flowRate",
        definition=WATER_FLOW,
        name="Water flow rate",
        title="瞬时流量",
        description="供水管道瞬时流量",
        unit={"name": "cubic metre per hour", "symbol": "m³/h", "definition": "ucum:m3/h"},
        observation_type=OM_MEASUREMENT,
        low=0,
        high=5000,
        digits=1,
        generate=water_flow,
    )
    out[WATER_PRESSURE] = Profile(
        key="pressure",
        definition=WATER_PRESSURE,
        name="Water pressure",
        title="管网压力",
        description="供水管网压力",
        unit={"name": "megapascal", "symbol": "MPa", "definition": "ucum:MPa"},
        observation_type=OM_MEASUREMENT,
        low=0.1,
        high=0.8,
        digits=3,
        generate=water_pressure,
    )
    return out


PROFILES: MappingProxyType[str, Profile] = MappingProxyType(_profiles())
