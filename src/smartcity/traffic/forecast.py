"""Short-term forecasts (短时预测) of a segment's speed and TPI 15, 30 and 60 minutes ahead.

Two baselines and one model, on 5-minute speeds:

- **historical average** (HA): the training days' mean speed at the same weekday type
  (working day / weekend) and 5-minute slot of the day;
- **last value**: the speed now, for every horizon;
- **model**: ridge regression, per horizon, of the speed's departure from HA at t+h on the
  departures of the last six slots and the HA at t+h (so it learns how fast a jam fades back
  to the usual profile).

``evaluate`` scores all three by MAE and MAPE per horizon on held-out days. METR-LA and
PEMS-BAY cannot be downloaded here and SUMO is not installed in this environment, so the
evaluation telemetry is **synthetic** (``synthetic_speeds``): per segment a free-flow speed,
morning and evening peaks on working days, a milder afternoon on weekends, a day-to-day
factor, AR(1) noise and random incidents (a 40 % drop for 30-60 minutes). The split is by
day: the first days train, the last ``test_days`` are held out. A model is used only if it
beats both baselines on MAE at every horizon; otherwise the platform serves the better
baseline and says so (``choice``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from smartcity.traffic.types import TPI_MAX, TPI_POINTS, TPI_SLOPE_ABOVE

STEP_MINUTES = 5
SLOTS = 24 * 60 // STEP_MINUTES  # 288 a day
HORIZONS = (3, 6, 12)  # steps: 15, 30, 60 minutes
LAGS = 6
RIDGE = 1.0

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Series:
    """Speeds (km/h) per segment and 5-minute step, from ``start`` (a city midnight)."""

    speeds: Array  # shape (segments, steps)
    free_flow: Array  # shape (segments,)
    start: datetime
    weekend: npt.NDArray[np.bool_]  # per day


def synthetic_speeds(
    segments: int = 20, days: int = 28, seed: int = 7, start: datetime | None = None
) -> Series:
    """A documented synthetic month of 5-minute speeds (see the module docstring)."""
    rng = np.random.default_rng(seed)
    start = start or datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
    hours = (np.arange(SLOTS) * STEP_MINUTES) / 60.0
    weekday_shape = 0.45 * np.exp(-(((hours - 8.0) / 1.0) ** 2)) + 0.5 * np.exp(
        -(((hours - 18.0) / 1.2) ** 2)
    )
    weekend_shape = 0.2 * np.exp(-(((hours - 14.0) / 3.0) ** 2))
    free = rng.uniform(45, 90, segments)
    weekend = np.array([(start + timedelta(days=d)).weekday() >= 5 for d in range(days)])
    speeds = np.empty((segments, days * SLOTS))
    for s in range(segments):
        severity = rng.uniform(0.6, 1.3)
        shocks = rng.normal(0, 1.6, days * SLOTS).tolist()
        noise = np.empty(days * SLOTS)
        level = 0.0
        for i, shock in enumerate(shocks):  # AR(1), phi 0.95 per 5 minutes
            level = 0.95 * level + shock
            noise[i] = level
        for d in range(days):
            shape = weekend_shape if weekend[d] else weekday_shape
            factor = severity * rng.normal(1.0, 0.15)
            day = free[s] * (1 - np.clip(shape * factor, 0, 0.85))
            if rng.random() < 0.3:
                at = rng.integers(6 * 12, 22 * 12)
                length = rng.integers(6, 13)
                day[at : at + length] *= 0.6
            speeds[s, d * SLOTS : (d + 1) * SLOTS] = day
        speeds[s] = np.clip(speeds[s] + noise, 3.0, free[s] * 1.1)
    return Series(speeds, free, start, weekend)


def _day_type(series: Series) -> npt.NDArray[np.int_]:
    """Per step, 0 (working day) or 1 (weekend)."""
    return np.repeat(series.weekend.astype(int), SLOTS)


def historical_average(series: Series, train_days: int) -> Array:
    """Per segment, day type and slot: the mean speed of the training days; shape
    (segments, 2, SLOTS); a day type without a training day takes the other's."""
    segs = series.speeds.shape[0]
    days = series.speeds[:, : train_days * SLOTS].reshape(segs, train_days, SLOTS)
    kinds = series.weekend[:train_days]
    out = np.empty((segs, 2, SLOTS))
    for kind in (0, 1):
        chosen = days[:, kinds == bool(kind), :]
        if chosen.shape[1] == 0:
            chosen = days
        out[:, kind, :] = chosen.mean(axis=1)
    return out


def _ha_at(ha: Array, series: Series) -> Array:
    """HA for every step of the series (segments, steps)."""
    kinds = _day_type(series)
    slots = np.tile(np.arange(SLOTS), len(series.weekend))
    return ha[:, kinds, slots]


def _design(dep: Array, ha_steps: Array, t: npt.NDArray[np.int_], h: int) -> Array:
    """Features at times t for horizon h: LAGS departures, HA at t+h, 1."""
    cols = [dep[:, t - k] for k in range(LAGS)]
    cols.append(ha_steps[:, t + h])
    cols.append(np.ones_like(dep[:, t]))
    return np.stack([c.ravel() for c in cols], axis=1)


@dataclass(frozen=True)
class Scores:
    mae: float
    mape: float  # percent


@dataclass(frozen=True)
class Evaluation:
    horizons_min: tuple[int, ...]
    speed: dict[str, list[Scores]]  # method -> per horizon
    tpi_mae: dict[str, list[float]]
    choice: str
    reason: str
    train_days: int
    test_days: int
    segments: int
    synthetic: bool


def _scores(pred: Array, true: Array) -> Scores:
    err = np.abs(pred - true)
    return Scores(float(err.mean()), float((err / np.maximum(true, 1.0)).mean() * 100))


def _tpi_of(speeds: Array, free: Array) -> Array:
    """index.tpi over arrays: the same bands (np.interp) and the same slope above 2.1."""
    tti = np.maximum(1.0, free[:, None] / np.maximum(speeds, 1e-9))
    xs = [p[0] for p in TPI_POINTS]
    ys = [p[1] for p in TPI_POINTS]
    above = np.minimum(TPI_MAX, ys[-1] + (tti - xs[-1]) * TPI_SLOPE_ABOVE)
    return np.asarray(np.where(tti <= xs[-1], np.interp(tti, xs, ys), above), dtype=np.float64)


def fit_ridge(x: Array, y: Array, alpha: float = RIDGE) -> Array:
    reg = alpha * np.eye(x.shape[1])
    reg[-1, -1] = 0.0  # no penalty on the intercept
    return np.asarray(np.linalg.solve(x.T @ x + reg, x.T @ y), dtype=np.float64)


def evaluate(series: Series, test_days: int = 7, *, synthetic: bool = True) -> Evaluation:
    """MAE and MAPE per horizon of HA, last value and the model on the held-out days."""
    total_days = len(series.weekend)
    train_days = total_days - test_days
    if train_days < 7 or test_days < 1:
        raise ValueError("need at least 7 training days and 1 held-out day")
    ha = historical_average(series, train_days)
    ha_steps = _ha_at(ha, series)
    dep = series.speeds - ha_steps
    split = train_days * SLOTS
    n = series.speeds.shape[1]
    methods = ("historical_average", "last_value", "model")
    speed: dict[str, list[Scores]] = {m: [] for m in methods}
    tpis: dict[str, list[float]] = {m: [] for m in methods}
    for h in HORIZONS:
        train_t = np.arange(LAGS, split - h)
        test_t = np.arange(split, n - h)
        coef = fit_ridge(_design(dep, ha_steps, train_t, h), dep[:, train_t + h].ravel())
        true = series.speeds[:, test_t + h]
        preds = {
            "historical_average": ha_steps[:, test_t + h],
            "last_value": series.speeds[:, test_t],
            "model": np.clip(
                (_design(dep, ha_steps, test_t, h) @ coef).reshape(true.shape)
                + ha_steps[:, test_t + h],
                0.0,
                None,
            ),
        }
        true_tpi = _tpi_of(true, series.free_flow)
        for name, pred in preds.items():
            speed[name].append(_scores(pred, true))
            tpis[name].append(float(np.abs(_tpi_of(pred, series.free_flow) - true_tpi).mean()))
    choice, reason = choose(speed)
    return Evaluation(
        tuple(h * STEP_MINUTES for h in HORIZONS),
        speed,
        tpis,
        choice,
        reason,
        train_days,
        test_days,
        series.speeds.shape[0],
        synthetic,
    )


def choose(speed: dict[str, list[Scores]]) -> tuple[str, str]:
    """The model if it beats both baselines on MAE at every horizon, else the better
    baseline (lower mean MAE over the horizons), with the reason."""
    model = speed["model"]
    ha, last = speed["historical_average"], speed["last_value"]
    beaten = [i for i, s in enumerate(model) if not (s.mae < ha[i].mae and s.mae < last[i].mae)]
    if not beaten:
        return "model", "the model beats both baselines at every horizon"
    mean_ha = sum(s.mae for s in ha) / len(ha)
    mean_last = sum(s.mae for s in last) / len(last)
    best = "historical_average" if mean_ha <= mean_last else "last_value"
    minutes = ", ".join(str(HORIZONS[i] * STEP_MINUTES) for i in beaten)
    return best, f"the model does not beat both baselines at {minutes} min; serving {best}"


_evaluation: Evaluation | None = None
_coefs: dict[int, Array] | None = None


def served() -> tuple[Evaluation, dict[int, Array]]:
    """The evaluation on the synthetic month (computed once per process) and the model's
    coefficients per horizon fitted on all its days."""
    global _evaluation, _coefs
    if _evaluation is None or _coefs is None:
        series = synthetic_speeds()
        _evaluation = evaluate(series)
        ha_steps = _ha_at(historical_average(series, len(series.weekend)), series)
        dep = series.speeds - ha_steps
        n = series.speeds.shape[1]
        _coefs = {
            h: fit_ridge(
                _design(dep, ha_steps, np.arange(LAGS, n - h), h),
                dep[:, np.arange(LAGS, n - h) + h].ravel(),
            )
            for h in HORIZONS
        }
    return _evaluation, _coefs


def ready() -> Evaluation | None:
    """The evaluation when it has been made (pages do not wait for it)."""
    return _evaluation if _coefs is not None else None


async def warm(runtime: object) -> None:
    """The Module task: evaluate once at start-up, off the event loop (about a second)."""
    import asyncio

    await asyncio.to_thread(served)


def forecast_segment(
    recent: list[float],
    usual_now: list[float],
    usual_ahead: dict[int, float],
    method: str,
    coefs: dict[int, Array],
) -> dict[int, float]:
    """Speeds ahead per horizon (steps) for one segment: ``recent`` its last LAGS 5-minute
    speeds (oldest first), ``usual_now`` its usual (HA) speeds at those slots, and
    ``usual_ahead`` its usual speed at each horizon."""
    out: dict[int, float] = {}
    for h in HORIZONS:
        if method == "last_value":
            out[h] = recent[-1]
        elif method == "historical_average":
            out[h] = usual_ahead[h]
        else:
            dep = [recent[-1 - k] - usual_now[-1 - k] for k in range(LAGS)]
            x = np.array([*dep, usual_ahead[h], 1.0])
            out[h] = max(0.0, float(x @ coefs[h]) + usual_ahead[h])
    return out
