"""The TPI bands at each edge, the slope above 2.1 and its cap, the levels' edges, the
VKT-weighted network index."""

from __future__ import annotations

import math

import pytest

from smartcity.traffic.index import cap_ratio, level, tpi, travel_time_ratio, weighted_tpi


@pytest.mark.parametrize(
    ("tti", "expected"),
    [
        (0.8, 0.0),
        (1.0, 0.0),
        (1.1, 1.0),
        (1.2, 2.0),
        (1.35, 3.0),
        (1.5, 4.0),
        (1.8, 6.0),
        (2.1, 8.0),
        (2.25, 9.0),  # above 2.1: 2 per 0.3
        (2.4, 10.0),
        (3.0, 10.0),  # capped
        (50.0, 10.0),
    ],
)
def test_tpi_through_the_band_edges(tti: float, expected: float) -> None:
    assert tpi(tti) == pytest.approx(expected)


def test_the_map_is_continuous_and_increasing_at_each_edge() -> None:
    for edge in (1.2, 1.5, 1.8, 2.1, 2.4):
        below, above = tpi(edge - 1e-9), tpi(edge + 1e-9)
        assert below <= tpi(edge) <= above
        assert above - below < 1e-6
    assert cap_ratio() == pytest.approx(2.4)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0.0, "smooth"),
        (1.999, "smooth"),
        (2.0, "basically_smooth"),
        (3.999, "basically_smooth"),
        (4.0, "light"),
        (5.999, "light"),
        (6.0, "moderate"),
        (7.999, "moderate"),
        (8.0, "severe"),
        (10.0, "severe"),
    ],
)
def test_levels_by_tpi_band(index: float, expected: str) -> None:
    assert level(index) == expected


def test_travel_time_ratio() -> None:
    assert travel_time_ratio(60, 30) == 2.0
    assert travel_time_ratio(60, 80) == 1.0  # faster than free flow is free flow
    assert travel_time_ratio(60, 0) == pytest.approx(2.4)  # standing: the cap
    with pytest.raises(ValueError):
        travel_time_ratio(0, 30)
    with pytest.raises(ValueError):
        tpi(math.nan)


def test_network_index_is_vkt_weighted_on_the_ratio() -> None:
    # a long busy smooth road and a short jammed one: the busy one dominates
    assert weighted_tpi([(1.0, 900.0), (2.4, 100.0)]) == pytest.approx(tpi(1.14))
    assert weighted_tpi([(2.1, 5.0)]) == pytest.approx(8.0)
    assert weighted_tpi([(2.0, 0.0)]) is None
    assert weighted_tpi([]) is None


def test_the_forecasts_array_index_is_the_same_map() -> None:
    import numpy as np

    from smartcity.traffic.forecast import _tpi_of

    speeds = np.array([[60.0, 50.0, 40.0, 30.0, 28.0, 25.0, 20.0, 0.0]])
    got = _tpi_of(speeds, np.array([60.0]))[0]
    want = [tpi(travel_time_ratio(60.0, float(v))) for v in speeds[0]]
    assert got.tolist() == pytest.approx(want)
