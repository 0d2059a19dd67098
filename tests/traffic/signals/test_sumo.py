"""The SUMO bridge: a short run of a RESCO scenario under every controller, every signal's
state checked each simulated second; the delay metric; bad scenario and controller names."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcity.traffic.signals import sumo

REASON = sumo.available()
needs_sumo = pytest.mark.skipif(REASON is not None, reason=f"traffic-sim extra: {REASON}")


@needs_sumo
@pytest.mark.parametrize("controller", ["fixed", "max-pressure", "adaptive"])
def test_every_controller_switches_legally(controller: str) -> None:
    result = sumo.run("cologne1", controller, seed=1, duration=400, check=True)
    assert result.violations == []
    assert result.switches >= 4  # the monitor saw real phase changes
    assert result.trips > 100 and result.delay > 0
    assert not result.gridlock


@needs_sumo
def test_the_pressure_controllers_command_the_signals() -> None:
    # fixed time runs the net's 76 s cycle; the adaptive controller moves off it
    fixed = sumo.run("cologne1", "fixed", seed=2, duration=300)
    ours = sumo.run("cologne1", "adaptive", seed=2, duration=300)
    assert fixed.delay != ours.delay


def test_resco_delay_counts_unfinished_and_never_inserted_trips(tmp_path: Path) -> None:
    tripinfo = tmp_path / "tripinfo.xml"
    tripinfo.write_text(
        "<tripinfos>"
        '<tripinfo id="a" depart="10" arrival="50" timeLoss="4" departDelay="1"/>'
        '<tripinfo id="b" depart="20" arrival="-1" timeLoss="30" departDelay="5"/>'
        "</tripinfos>"
    )
    delay, trips, unfinished = sumo.resco_delay(tripinfo, 100, {"a": 9, "b": 15, "c": 40})
    # a: 5; b (still driving): 35; c (never inserted): 100 - 40 = 60
    assert (trips, unfinished) == (3, 2)
    assert delay == pytest.approx((5 + 35 + 60) / 3)


def test_bad_names_and_ranges_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'atlantis'; one of cologne1"):
        sumo.run("atlantis", "adaptive")
    with pytest.raises(ValueError, match="unknown controller 'greedy'"):
        sumo.run("cologne1", "greedy")
    with pytest.raises(ValueError, match="seed -1"):
        sumo.run("cologne1", "fixed", seed=-1)
