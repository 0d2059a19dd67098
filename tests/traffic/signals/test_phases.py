"""The phase model: green phases and conflicts read from a program, the driver's timing,
and the legality monitor catching each kind of illegal switch."""

from __future__ import annotations

import pytest

from smartcity.traffic.signals.phases import (
    LegalityMonitor,
    Link,
    PhaseDriver,
    SignalError,
    SignalPlan,
    Timing,
)

# Four links: 0,1 north-south, 2,3 east-west; 0 also green with 2's phase as a filter.
PROGRAM = ["GGrr", "yyrr", "rrGG", "rryy", "Grrr"]
LINKS = [Link(i, f"in{i}", f"out{i}") for i in range(4)]


def plan(**timing: float) -> SignalPlan:
    return SignalPlan.from_program("J1", LINKS, PROGRAM, Timing(**timing))


def test_green_phases_and_conflicts_come_from_the_program() -> None:
    p = plan()
    # "Grrr" is a subset of "GGrr": dropped; yellow phases are never green phases
    assert p.phases == ("GGrr", "rrGG")
    assert not p.conflicts(0, 1)
    assert p.conflicts(0, 2)
    assert p.conflicting_greens("GrGr") == [(0, 2)]
    assert p.conflicting_greens("rrGG") == []


def test_bad_programs_and_timings_are_refused() -> None:
    with pytest.raises(SignalError, match="has 3 links"):
        SignalPlan.from_program("J1", LINKS, ["GGr"])
    with pytest.raises(SignalError, match="unknown signal characters"):
        SignalPlan.from_program("J1", LINKS, ["GGxx"])
    with pytest.raises(SignalError, match="no green phase"):
        SignalPlan.from_program("J1", LINKS, ["rrrr", "yyyy"])
    with pytest.raises(SignalError, match="yellow 1"):
        Timing(yellow=1)
    with pytest.raises(SignalError, match="max green"):
        Timing(min_green=30, max_green=10)


def test_phase_out_of_range_is_a_clear_error() -> None:
    p = plan()
    with pytest.raises(SignalError, match="phase 2 out of range 0–1"):
        p.phase(2)
    with pytest.raises(SignalError, match="not a phase number"):
        p.phase(True)
    with pytest.raises(SignalError, match="out of range"):
        PhaseDriver(p).request(-1)


def test_driver_holds_min_green_then_yellow_then_all_red() -> None:
    driver = PhaseDriver(plan(min_green=5, yellow=3, all_red=2))
    monitor = LegalityMonitor(driver.plan)
    states = []
    for second in range(20):
        if second in (2, 6):
            driver.request(1)
        states.append(driver.state)
        monitor.observe(float(second), driver.state)
        driver.tick(1.0)
    # the request at 2 s is refused (min green 5 s); the one at 6 s goes through
    assert states[:6] == ["GGrr"] * 6
    assert states[6:9] == ["yyrr"] * 3
    assert states[9:11] == ["rrrr"] * 2
    assert states[11] == "rrGG"
    assert monitor.violations == []
    assert monitor.switches == 1


def test_monitor_flags_every_kind_of_violation() -> None:
    p = plan(min_green=5, yellow=3, all_red=1)
    cases = {
        "conflicting links 0 and 2": ["GGrr", "GrGr"],
        "without yellow": ["GGrr"] * 6 + ["rrrr"],
        "yellow 1s, less than 3s": ["GGrr"] * 6 + ["yyrr", "rrrr"],
        "less than the minimum 5s": ["GGrr"] * 2 + ["yyrr"] * 3 + ["rrrr", "rrGG"],
        "all-red is 1s": ["GGrr"] * 6 + ["yyrr"] * 3 + ["rrGG"],
    }
    for expected, states in cases.items():
        monitor = LegalityMonitor(p)
        for second, state in enumerate(states):
            monitor.observe(float(second), state)
        assert any(expected in v for v in monitor.violations), (expected, monitor.violations)


def test_pedestrian_phases_hold_the_pedestrian_minimum() -> None:
    links = [*LINKS[:3], Link(3, "walk", "cross", pedestrian=True)]
    p = SignalPlan.from_program("J2", links, PROGRAM, Timing(min_green=5, pedestrian_min=12))
    assert p.min_green(1) == 12 and p.min_green(0) == 5
    driver = PhaseDriver(p, initial=1)
    for _ in range(6):
        driver.tick(1.0)
    assert not driver.request(0)  # 6 s < 12 s for the crossing
    for _ in range(6):
        driver.tick(1.0)
    assert driver.request(0)
