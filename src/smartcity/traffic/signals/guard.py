"""The gridlock guard: spill-back detection and forced clearance.

With teleporting off (as in RESCO), a green toward a lane that is already full sends no
vehicle anywhere and, on short links, can lock a corridor for good. The guard:
- marks an out-lane *blocked* when its vehicles fill it (space taken ≥ ``full_share`` of its
  length) and they stand; controllers give such movements no pressure;
- marks a signal *stalled* when vehicles wait on its in-lanes yet none has crossed it for
  ``stall_seconds``; the controller must then force a clearance: the phase that serves the
  longest queue whose out-lanes are not blocked, held for its minimum green.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from smartcity.traffic.signals.phases import GREEN, SignalPlan

VEHICLE_SPACE_M = 7.5  # a car's length plus its standstill gap


class Traffic(Protocol):
    """What controllers and the guard read about lanes at the current simulated second."""

    def halting(self, lane: str) -> int: ...

    def vehicles(self, lane: str) -> int: ...

    def approaching(self, lane: str, within_m: float) -> int: ...

    def length(self, lane: str) -> float: ...

    def passed(self, lane: str) -> int:
        """Vehicles that left ``lane`` in the last simulated second."""
        ...


@dataclass
class GridlockGuard:
    full_share: float = 0.85
    stall_seconds: float = 90.0
    _last_progress: dict[str, float] = field(default_factory=dict)
    clearances: int = 0

    def blocked(self, traffic: Traffic, lane: str) -> bool:
        length = traffic.length(lane)
        if length <= 0:
            return False
        standing = traffic.halting(lane)
        return standing > 0 and traffic.vehicles(lane) * VEHICLE_SPACE_M >= self.full_share * length

    def stalled(self, now: float, plan: SignalPlan, traffic: Traffic) -> bool:
        in_lanes = {link.in_lane for link in plan.links if link is not None}
        waiting = sum(traffic.halting(lane) for lane in in_lanes)
        moved = sum(traffic.passed(lane) for lane in in_lanes)
        last = self._last_progress.setdefault(plan.signal, now)
        if moved > 0 or waiting == 0:
            self._last_progress[plan.signal] = now
            return False
        return now - last >= self.stall_seconds

    def clearance_phase(self, plan: SignalPlan, traffic: Traffic) -> int:
        """The phase with the most standing vehicles toward lanes that can take them."""
        best, best_score = 0, -1.0
        for index, state in enumerate(plan.phases):
            lanes = {
                link.in_lane
                for link in plan.links
                if link is not None
                and state[link.index] in GREEN
                and not self.blocked(traffic, link.out_lane)
            }
            score = float(sum(traffic.halting(lane) for lane in lanes))
            if score > best_score:
                best, best_score = index, score
        return best

    def cleared(self, now: float, plan: SignalPlan) -> None:
        self._last_progress[plan.signal] = now
        self.clearances += 1
