"""The congestion index (交通运行指数, TPI) and the level (拥堵等级): pure functions.

- The travel-time ratio ``TTI = T / T_ff = v_ff / v`` (at least 1: a car faster than free
  flow does not make the road better than free).
- ``tpi(tti)``: piecewise linear through 1.0→0, 1.2→2, 1.5→4, 1.8→6, 2.1→8 (the Beijing
  extra-time bands: +20 %, +50 %, +80 %, +110 % travel time); above 2.1 the last slope
  continues, 2 points per 0.3 of TTI, so 10 (the cap) is reached at TTI 2.4.
- ``level(tpi)``: [0, 2) 畅通, [2, 4) 基本畅通, [4, 6) 轻度拥堵, [6, 8) 中度拥堵, [8, 10]
  严重拥堵 (lower edge inclusive).
- ``weighted_tpi``: the network index, the VKT-weighted (vehicle-km travelled: flow × length)
  mean of the segments' travel-time ratios, mapped to the TPI. Weighting the TTI rather than
  the TPI keeps the map's non-linearity out of the mean.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from smartcity.traffic.types import (
    LEVEL_LOWER_EDGES,
    TPI_MAX,
    TPI_POINTS,
    TPI_SLOPE_ABOVE,
    Level,
)


def travel_time_ratio(free_flow_kmh: float, speed_kmh: float) -> float:
    """v_ff / v, at least 1; a standing queue (speed 0) is the cap's ratio."""
    if free_flow_kmh <= 0:
        raise ValueError("the free-flow speed must be positive")
    if speed_kmh <= 0:
        return cap_ratio()
    return max(1.0, free_flow_kmh / speed_kmh)


def cap_ratio() -> float:
    """The TTI at which the TPI reaches its cap (2.4)."""
    last_tti, last_tpi = TPI_POINTS[-1]
    return last_tti + (TPI_MAX - last_tpi) / TPI_SLOPE_ABOVE


def tpi(tti: float) -> float:
    """The 0-10 index of a travel-time ratio."""
    if tti != tti:  # NaN
        raise ValueError("the travel-time ratio is not a number")
    first_tti, _ = TPI_POINTS[0]
    if tti <= first_tti:
        return 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(TPI_POINTS):
        if tti <= x1:
            return y0 + (tti - x0) * (y1 - y0) / (x1 - x0)
    last_tti, last_tpi = TPI_POINTS[-1]
    return min(TPI_MAX, last_tpi + (tti - last_tti) * TPI_SLOPE_ABOVE)


def level(index: float) -> Level:
    """The congestion level of a TPI."""
    for edge, name in LEVEL_LOWER_EDGES:
        if index >= edge:
            return name
    return "smooth"


def weighted_tpi(rows: Iterable[tuple[float, float]]) -> float | None:
    """The TPI of the VKT-weighted mean TTI of (tti, vkt) rows; rows of no traffic weigh
    nothing; None when nothing weighs."""
    total = weight = 0.0
    for tti, vkt in rows:
        if vkt > 0:
            total += tti * vkt
            weight += vkt
    if weight <= 0:
        return None
    return tpi(total / weight)
