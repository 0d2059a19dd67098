"""The phase model of a signalized intersection and the rules every controller must obey.

A signal's *links* are its controlled movements (SUMO's link indices: one per in-lane →
out-lane connection). A *state* is one character per link, as in SUMO: ``G``/``g`` green
(priority / permissive), ``y`` yellow, ``r`` red, ``s`` stop-then-go (right turn on red),
``u`` red-yellow, ``o``/``O`` off. The green phases a controller may choose are the net's own
program phases that show green and no yellow; which links may be green together is read
from that program too: two links conflict unless some program phase shows both green.

Legality, checked by :class:`LegalityMonitor` on every simulated second:
- no two conflicting links green at once;
- a link that leaves green shows yellow for at least the yellow time before red, then
  the all-red time passes before a conflicting link turns green;
- a green phase lasts at least its minimum green (longer when it serves a pedestrian
  crossing: the pedestrian minimum) and at most its maximum green while others wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

GREEN = frozenset("Gg")
STATE_CHARS = frozenset("GgyrsuoO")


class SignalError(ValueError):
    """A phase plan, timing or command that breaks the rules above."""


@dataclass(frozen=True)
class Timing:
    """Seconds. ``pedestrian_min`` applies to phases that green a crossing."""

    min_green: float = 5.0
    max_green: float = 60.0
    yellow: float = 3.0
    all_red: float = 0.0
    pedestrian_min: float = 7.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.min_green <= 120.0:
            raise SignalError(f"min green {self.min_green} s: must be 1–120 s")
        if not self.min_green <= self.max_green <= 300.0:
            raise SignalError(f"max green {self.max_green} s: must be min green–300 s")
        if not 2.0 <= self.yellow <= 6.0:
            raise SignalError(f"yellow {self.yellow} s: must be 2–6 s")
        if not 0.0 <= self.all_red <= 5.0:
            raise SignalError(f"all-red {self.all_red} s: must be 0–5 s")
        if not 0.0 <= self.pedestrian_min <= 60.0:
            raise SignalError(f"pedestrian minimum {self.pedestrian_min} s: must be 0–60 s")


@dataclass(frozen=True)
class Link:
    """One controlled movement: from ``in_lane`` to ``out_lane``."""

    index: int
    in_lane: str
    out_lane: str
    pedestrian: bool = False


def greens_of(state: str) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(state) if c in GREEN)


def _check_state(state: str, size: int) -> None:
    if len(state) != size:
        raise SignalError(f"state {state!r} has {len(state)} links, the signal has {size}")
    bad = set(state) - STATE_CHARS
    if bad:
        raise SignalError(f"state {state!r}: unknown signal characters {''.join(sorted(bad))}")


@dataclass(frozen=True)
class SignalPlan:
    """A signal's links, its green phases and which links may be green together."""

    signal: str
    links: tuple[Link | None, ...]
    program: tuple[str, ...]
    timing: Timing = field(default_factory=Timing)
    phases: tuple[str, ...] = ()
    compatible: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def from_program(
        cls,
        signal: str,
        links: Sequence[Link | None],
        program: Iterable[str],
        timing: Timing | None = None,
    ) -> SignalPlan:
        states = tuple(program)
        if not states:
            raise SignalError(f"signal {signal}: its program has no phases")
        for state in states:
            _check_state(state, len(links))
        candidates: list[str] = []
        for state in states:
            if "y" in state or not greens_of(state) or state in candidates:
                continue
            candidates.append(state)
        # A phase whose greens are a strict subset of another's serves fewer movements at
        # no gain in safety (the other is legal too): controllers choose the larger. (Keeping
        # them, e.g. protected-left variants, made both pressure controllers far worse on
        # ingolstadt7: 49 → 208 s for max pressure.)
        phases = tuple(
            s
            for s in candidates
            if not any(greens_of(s) < greens_of(other) for other in candidates)
        )
        if not phases:
            raise SignalError(f"signal {signal}: its program has no green phase")
        compatible = set()
        for state in states:
            green = sorted(greens_of(state))
            for a in green:
                for b in green:
                    compatible.add((a, b))
        return cls(
            signal=signal,
            links=tuple(links),
            program=states,
            timing=timing or Timing(),
            phases=phases,
            compatible=frozenset(compatible),
        )

    @property
    def size(self) -> int:
        return len(self.links)

    def conflicts(self, a: int, b: int) -> bool:
        return (a, b) not in self.compatible

    def conflicting_greens(self, state: str) -> list[tuple[int, int]]:
        green = sorted(greens_of(state))
        return [(a, b) for i, a in enumerate(green) for b in green[i + 1 :] if self.conflicts(a, b)]

    def phase(self, index: int) -> str:
        if not isinstance(index, int) or isinstance(index, bool):
            raise SignalError(f"signal {self.signal}: phase {index!r} is not a phase number")
        if not 0 <= index < len(self.phases):
            raise SignalError(
                f"signal {self.signal}: phase {index} out of range 0–{len(self.phases) - 1}"
            )
        return self.phases[index]

    def serves_pedestrians(self, index: int) -> bool:
        state = self.phase(index)
        return any(
            link is not None and link.pedestrian and state[link.index] in GREEN
            for link in self.links
        )

    def min_green(self, index: int) -> float:
        base = self.timing.min_green
        if self.serves_pedestrians(index):
            return max(base, self.timing.pedestrian_min)
        return base

    def yellow_state(self, current: str, target: str) -> str:
        """Links green now and not green next turn yellow; links green in both stay green."""
        return "".join(
            (c if t in GREEN else "y") if c in GREEN else ("s" if c == "s" and t == "s" else "r")
            for c, t in zip(current, target, strict=True)
        )

    def all_red_state(self, current: str, target: str) -> str:
        return "".join(
            c if (c in GREEN and t in GREEN) else ("s" if c == "s" and t == "s" else "r")
            for c, t in zip(current, target, strict=True)
        )


class PhaseDriver:
    """Runs one signal through green → yellow → all-red → green, enforcing the timing.

    ``request(phase)`` asks for a green phase; the driver honours it only once the current
    green has run its minimum. ``tick(dt)`` advances time and returns the state to show.
    """

    def __init__(self, plan: SignalPlan, initial: int = 0) -> None:
        self.plan = plan
        self.current = plan.phase(initial)
        self.current_index = initial
        self.target_index = initial
        self.stage = "green"
        self.elapsed = 0.0
        self.state = self.current

    @property
    def in_green(self) -> bool:
        return self.stage == "green"

    def may_switch(self) -> bool:
        return self.in_green and self.elapsed >= self.plan.min_green(self.current_index)

    def must_switch(self) -> bool:
        return self.in_green and self.elapsed >= self.plan.timing.max_green

    def request(self, index: int) -> bool:
        """Start the change to green phase ``index``; False when it must wait (or no change)."""
        self.plan.phase(index)
        if index == self.current_index or not self.may_switch():
            return False
        self.target_index = index
        target = self.plan.phases[index]
        self.stage = "yellow"
        self.elapsed = 0.0
        self.state = self.plan.yellow_state(self.current, target)
        if self.state == self.current:  # nothing leaves green: no clearance needed
            self._enter_green()
        return True

    def _enter_green(self) -> None:
        self.current_index = self.target_index
        self.current = self.plan.phases[self.current_index]
        self.stage = "green"
        self.elapsed = 0.0
        self.state = self.current

    def tick(self, dt: float) -> str:
        self.elapsed += dt
        timing = self.plan.timing
        if self.stage == "yellow" and self.elapsed >= timing.yellow - 1e-9:
            if timing.all_red > 0:
                self.stage = "all_red"
                self.elapsed = 0.0
                self.state = self.plan.all_red_state(
                    self.current, self.plan.phases[self.target_index]
                )
            else:
                self._enter_green()
        elif self.stage == "all_red" and self.elapsed >= timing.all_red - 1e-9:
            self._enter_green()
        return self.state


@dataclass
class _LinkClock:
    char: str
    since: float


class LegalityMonitor:
    """Watches the states one signal shows, second by second, and lists every violation."""

    def __init__(self, plan: SignalPlan, *, check_min_green: bool = True) -> None:
        self.plan = plan
        self.check_min_green = check_min_green
        self.violations: list[str] = []
        self._links: list[_LinkClock] | None = None
        self._cleared: dict[int, float] = {}
        self._green_start = 0.0
        self.switches = 0

    def _flag(self, now: float, text: str) -> None:
        self.violations.append(f"{now:.0f}s {self.plan.signal}: {text}")

    def observe(self, now: float, state: str) -> None:
        plan = self.plan
        try:
            _check_state(state, plan.size)
        except SignalError as exc:
            self._flag(now, str(exc))
            return
        for a, b in plan.conflicting_greens(state):
            self._flag(now, f"conflicting links {a} and {b} green together")
        if self._links is None:
            self._links = [_LinkClock(c, now) for c in state]
            self._green_start = now
            return
        timing = plan.timing
        leaving = [
            i for i, c in enumerate(state) if self._links[i].char in GREEN and c not in GREEN
        ]
        if leaving and self.check_min_green:
            shown = now - self._green_start
            needed = timing.min_green
            if any((link := plan.links[i]) is not None and link.pedestrian for i in leaving):
                needed = max(needed, timing.pedestrian_min)
            if shown < needed - 1e-6:
                self._flag(now, f"green held {shown:.0f}s, less than the minimum {needed:.0f}s")
        entering = False
        for i, (clock, char) in enumerate(zip(self._links, state, strict=True)):
            if char == clock.char:
                continue
            if clock.char in GREEN and char not in GREEN and char != "y":
                self._flag(now, f"link {i} went from green to {char!r} without yellow")
            if clock.char == "y" and char not in GREEN and now - clock.since < timing.yellow - 1e-6:
                self._flag(
                    now, f"link {i} yellow {now - clock.since:.0f}s, less than {timing.yellow:.0f}s"
                )
            if char not in GREEN and char != "y" and clock.char in GREEN | {"y"}:
                self._cleared[i] = now
            if char in GREEN and clock.char not in GREEN:
                entering = True
                for j, cleared in self._cleared.items():
                    if plan.conflicts(i, j) and now - cleared < timing.all_red - 1e-6:
                        self._flag(
                            now,
                            f"link {i} green {now - cleared:.0f}s after conflicting link {j} "
                            f"turned red; all-red is {timing.all_red:.0f}s",
                        )
                    if plan.conflicts(i, j) and state[j] == "y":
                        self._flag(now, f"link {i} green while conflicting link {j} is yellow")
            self._links[i] = _LinkClock(char, now)
        if entering:
            self._green_start = now
            self.switches += 1
