"""Pluggable signal controllers: fixed time, max pressure, and ours (adaptive pressure).

A controller chooses green phases; a :class:`~smartcity.traffic.signals.phases.PhaseDriver`
per signal turns the choice into legal states (min green, yellow, all-red), so no
controller can break the rules. ``choose`` is asked once per simulated second for every
signal whose driver may switch; it returns the phase wanted (the current one to hold).

- ``fixed``: the network's own signal programs, untouched (the driver is not used).
- ``max-pressure``: Varaiya's rule in its common form (RESCO's baseline): every decision
  step (10 s, 5 s on arterial4x4) the phase with the largest Σ (halting on the in-lane −
  halting on the out-lane) over its green movements; 3 s (2 s) yellow on a change.
- ``adaptive``: ours. Pressure re-evaluated every second after a short minimum green, with
  (1) queues plus the vehicles about to reach the stop line, (2) downstream load as the
  share of the out-lane in use rather than a raw count, (3) no pressure toward a blocked
  (spilled-back) lane, (4) hold the current phase while it still discharges and its
  pressure is close to the best (hysteresis), (5) a max green, and (6) the gridlock guard's
  forced clearance when a signal stalls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from smartcity.traffic.signals.guard import GridlockGuard, Traffic
from smartcity.traffic.signals.phases import GREEN, PhaseDriver, SignalPlan, Timing


class Controller(ABC):
    """A signal controller: each second it names the phase it wants (the driver keeps the
    timings legal); ``drives`` False leaves the network's own program running."""

    name = "base"
    drives = True

    def timing(self, step: float, yellow: float) -> Timing:
        return Timing(min_green=max(step - yellow, 1.0), max_green=300.0, yellow=yellow)

    @abstractmethod
    def choose(
        self, now: float, plan: SignalPlan, driver: PhaseDriver, traffic: Traffic
    ) -> int: ...


class FixedTime(Controller):
    """The network's own programs: nothing to command."""

    name = "fixed"
    drives = False

    def choose(self, now: float, plan: SignalPlan, driver: PhaseDriver, traffic: Traffic) -> int:
        return driver.current_index


@dataclass
class MaxPressure(Controller):
    step: float = 10.0
    name: str = "max-pressure"

    def choose(self, now: float, plan: SignalPlan, driver: PhaseDriver, traffic: Traffic) -> int:
        if round(now) % round(self.step) != 0:
            return driver.current_index
        scores = [
            sum(
                traffic.halting(link.in_lane) - traffic.halting(link.out_lane)
                for link in plan.links
                if link is not None and state[link.index] in GREEN
            )
            for state in plan.phases
        ]
        best = max(scores)
        if scores[driver.current_index] == best:
            return driver.current_index
        return scores.index(best)


@dataclass
class AdaptivePressure(Controller):
    """Ours: see the module's docstring."""

    name: str = "adaptive"
    min_green: float = 7.0
    max_green: float = 45.0
    approach_m: float = 60.0
    approach_weight: float = 0.5
    downstream_weight: float = 1.0
    hold_margin: float = 3.0
    every: float = 1.0
    gap_out: bool = True
    guard: GridlockGuard = field(default_factory=GridlockGuard)

    def timing(self, step: float, yellow: float) -> Timing:
        return Timing(min_green=self.min_green, max_green=self.max_green, yellow=yellow)

    def _in_term(self, traffic: Traffic, lane: str) -> float:
        return traffic.halting(lane) + self.approach_weight * traffic.approaching(
            lane, self.approach_m
        )

    def _out_term(self, traffic: Traffic, lane: str) -> float:
        return float(traffic.halting(lane))

    def phase_scores(self, plan: SignalPlan, traffic: Traffic) -> list[float]:
        scores = []
        for state in plan.phases:
            outs: dict[str, list[str]] = {}
            for link in plan.links:
                if link is None or state[link.index] not in GREEN:
                    continue
                outs.setdefault(link.in_lane, []).append(link.out_lane)
            score = 0.0
            for in_lane, out_lanes in outs.items():
                open_outs = [o for o in out_lanes if not self.guard.blocked(traffic, o)]
                if not open_outs:
                    continue
                share = len(open_outs) / len(out_lanes)
                down = sum(self._out_term(traffic, o) for o in open_outs) / len(open_outs)
                score += share * (self._in_term(traffic, in_lane) - self.downstream_weight * down)
            scores.append(score)
        return scores

    def demand(self, plan: SignalPlan, index: int, traffic: Traffic) -> float:
        state = plan.phases[index]
        lanes = {
            link.in_lane
            for link in plan.links
            if link is not None
            and state[link.index] in GREEN
            and not self.guard.blocked(traffic, link.out_lane)
        }
        return sum(self._in_term(traffic, lane) for lane in lanes)

    def choose(self, now: float, plan: SignalPlan, driver: PhaseDriver, traffic: Traffic) -> int:
        current = driver.current_index
        if self.every > 1 and round(now) % round(self.every) != 0:
            return current
        if self.guard.stalled(now, plan, traffic):
            self.guard.cleared(now, plan)
            forced = self.guard.clearance_phase(plan, traffic)
            if forced != current:
                return forced
        scores = self.phase_scores(plan, traffic)
        ranked = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        best = ranked[0]
        if driver.must_switch():
            others = [i for i in ranked if i != current]
            return others[0] if others and self.demand(plan, others[0], traffic) > 0 else current
        if best == current:
            return current
        if self.demand(plan, current, traffic) <= 0:
            return best
        margin = self.hold_margin
        if self.gap_out and self.queue(plan, current, traffic) == 0:
            margin = 0.0
        if scores[best] > scores[current] + margin:
            return best
        return current

    def queue(self, plan: SignalPlan, index: int, traffic: Traffic) -> int:
        state = plan.phases[index]
        lanes = {
            link.in_lane for link in plan.links if link is not None and state[link.index] in GREEN
        }
        return sum(traffic.halting(lane) for lane in lanes)


CONTROLLERS: dict[str, Callable[[float], Controller]] = {
    "fixed": lambda step: FixedTime(),
    "max-pressure": lambda step: MaxPressure(step=step),
    "adaptive": lambda step: AdaptivePressure(),
}


def make_controller(name: str, step: float) -> Controller:
    try:
        factory = CONTROLLERS[name]
    except KeyError:
        raise ValueError(
            f"unknown controller {name!r}; one of {', '.join(sorted(CONTROLLERS))}"
        ) from None
    return factory(step)
