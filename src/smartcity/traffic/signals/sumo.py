"""The SUMO bridge: RESCO scenarios, a libsumo run with a controller, RESCO's delay metric.

Needs the ``traffic-sim`` extra (eclipse-sumo, libsumo, sumolib, traci and sumo-rl, whose
package data holds the eight RESCO scenarios). ``SUMO_HOME`` is set here from the
``sumo`` package, not read from the environment. libsumo runs one simulation per process:
:func:`run` closes it before returning, so runs follow one another.

Runs use RESCO's flags with an explicit seed instead of ``--random`` (so a table can be
reproduced): ``--seed N --time-to-teleport -1 --tripinfo-output F
--tripinfo-output.write-unfinished`` over the scenario's window.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartcity.traffic.signals.controllers import Controller, make_controller
from smartcity.traffic.signals.phases import LegalityMonitor, Link, PhaseDriver, SignalPlan


class SimulationUnavailable(RuntimeError):
    """The traffic-sim extra is not installed."""


@dataclass(frozen=True)
class Scenario:
    name: str
    begin: int
    end: int
    step: float  # RESCO's decision step (s)
    yellow: float  # RESCO's yellow (s)
    config: str = ""  # file name of the .sumocfg in the scenario's folder


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("cologne1", 25200, 28800, 10, 3),
        Scenario("cologne3", 25200, 28800, 10, 3),
        Scenario("cologne8", 25200, 28800, 10, 3),
        Scenario("ingolstadt1", 57600, 61200, 10, 3),
        Scenario("ingolstadt7", 57600, 61200, 10, 3),
        Scenario("ingolstadt21", 57600, 61200, 10, 3),
        Scenario("grid4x4", 0, 3600, 10, 3),
        Scenario("arterial4x4", 0, 3600, 5, 2),
    )
}

# Gridlock in a run: vehicles in the network, nine in ten of them standing, and nobody
# arriving, for this long.
GRIDLOCK_SECONDS = 300


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}") from None


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SimulationUnavailable(
            f"the Python package {package!r} is missing: pip install 'smartcity[traffic-sim]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def sumo_home() -> Path:
    """Set SUMO_HOME from the installed ``sumo`` package (pip does not set it)."""
    home = _package_dir("sumo")
    os.environ["SUMO_HOME"] = str(home)
    return home


def scenario_config(name: str) -> Path:
    """The .sumocfg of a RESCO scenario as shipped in sumo-rl's package data."""
    spec = scenario(name)
    folder = _package_dir("sumo_rl") / "nets" / "RESCO" / spec.name
    config = folder / (spec.config or f"{spec.name}.sumocfg")
    if not config.is_file():
        raise SimulationUnavailable(f"{config} is missing from the sumo-rl package")
    return config


def _libsumo() -> Any:
    sumo_home()
    try:
        import libsumo
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SimulationUnavailable(f"libsumo: {exc}") from exc
    return libsumo


def available() -> str | None:
    """None when simulations can run, else the reason they cannot."""
    try:
        _libsumo()
        scenario_config("grid4x4")
    except SimulationUnavailable as exc:
        return str(exc)
    return None


def sumo_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eclipse-sumo")
    except PackageNotFoundError:
        return "not installed"


def scheduled_departures(config: Path, begin: float, end: float) -> dict[str, float]:
    """Vehicle id → scheduled departure of the ``<vehicle>`` and ``<trip>`` elements of the
    scenario's route files departing within [begin, end). (RESCO's own code looks at
    ``<vehicle>`` tags only; the Cologne scenarios use ``<trip>``, so we count both.)"""
    routes = ET.parse(config).find("input/route-files")  # noqa: S314 - files of the installed sumo-rl package or SUMO's own output
    if routes is None:
        return {}
    scheduled: dict[str, float] = {}
    for name in routes.get("value", "").split(","):
        for _, element in ET.iterparse(config.parent / name.strip(), events=("end",)):  # noqa: S314 - files of the installed sumo-rl package or SUMO's own output
            if element.tag in ("vehicle", "trip"):
                try:
                    depart = float(element.get("depart", ""))
                except ValueError:
                    depart = begin
                if begin <= depart < end:
                    scheduled[element.get("id", "")] = depart
            if element.tag in ("vehicle", "trip", "flow"):
                element.clear()
    return scheduled


def resco_delay(
    tripinfo: Path, end: float, scheduled: dict[str, float] | None = None
) -> tuple[float, int, int]:
    """RESCO's delay: mean over trips of timeLoss + departDelay, unfinished trips counted
    (written by ``--tripinfo-output.write-unfinished``); a scheduled vehicle that was never
    inserted adds (end − its scheduled departure). Returns (delay, trips, unfinished)."""
    total, trips, unfinished = 0.0, 0, 0
    seen: set[str] = set()
    for _, element in ET.iterparse(tripinfo, events=("end",)):  # noqa: S314 - files of the installed sumo-rl package or SUMO's own output
        if element.tag != "tripinfo":
            continue
        seen.add(element.get("id", ""))
        total += float(element.get("timeLoss", "0")) + float(element.get("departDelay", "0"))
        if float(element.get("arrival", "-1")) < 0:
            unfinished += 1
        trips += 1
        element.clear()
    for vehicle, depart in (scheduled or {}).items():
        if vehicle not in seen:
            total += max(end - depart, 0.0)
            trips += 1
            unfinished += 1
    return (total / trips if trips else 0.0), trips, unfinished


class LaneReader:
    """:class:`~smartcity.traffic.signals.guard.Traffic` over libsumo, cached per second."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lengths: dict[str, float] = {}
        self._now = -1.0
        self._cache: dict[tuple[str, str], int] = {}
        self._ids: dict[str, frozenset[str]] = {}
        self._previous: dict[str, frozenset[str]] = {}

    def advance(self, now: float) -> None:
        self._now = now
        self._cache = {}
        self._previous = self._ids
        self._ids = {}

    def halting(self, lane: str) -> int:
        key = ("h", lane)
        if key not in self._cache:
            self._cache[key] = int(self._conn.lane.getLastStepHaltingNumber(lane))
        return self._cache[key]

    def vehicles(self, lane: str) -> int:
        key = ("n", lane)
        if key not in self._cache:
            self._cache[key] = int(self._conn.lane.getLastStepVehicleNumber(lane))
        return self._cache[key]

    def length(self, lane: str) -> float:
        if lane not in self._lengths:
            self._lengths[lane] = float(self._conn.lane.getLength(lane))
        return self._lengths[lane]

    def _vehicle_ids(self, lane: str) -> frozenset[str]:
        if lane not in self._ids:
            self._ids[lane] = frozenset(self._conn.lane.getLastStepVehicleIDs(lane))
        return self._ids[lane]

    def approaching(self, lane: str, within_m: float) -> int:
        key = (f"a{within_m:.0f}", lane)
        if key not in self._cache:
            if self.vehicles(lane) == self.halting(lane):
                self._cache[key] = 0
            else:
                start = self.length(lane) - within_m
                vehicle = self._conn.vehicle
                self._cache[key] = sum(
                    1
                    for v in self._vehicle_ids(lane)
                    if vehicle.getSpeed(v) > 0.1 and vehicle.getLanePosition(v) >= start
                )
        return self._cache[key]

    def passed(self, lane: str) -> int:
        now = self._vehicle_ids(lane)
        before = self._previous.get(lane)
        if before is None:
            return 0
        return len(before - now)


def read_plans(
    conn: Any, step: float, yellow: float, controller: Controller
) -> dict[str, SignalPlan]:
    plans: dict[str, SignalPlan] = {}
    timing = controller.timing(step, yellow)
    pedestrian_lanes: dict[str, bool] = {}

    def is_pedestrian(lane: str) -> bool:
        if lane not in pedestrian_lanes:
            pedestrian_lanes[lane] = tuple(conn.lane.getAllowed(lane)) == ("pedestrian",)
        return pedestrian_lanes[lane]

    for signal in conn.trafficlight.getIDList():
        links: list[Link | None] = []
        for index, connections in enumerate(conn.trafficlight.getControlledLinks(signal)):
            if not connections:
                links.append(None)
                continue
            in_lane, out_lane, _via = connections[0]
            links.append(
                Link(index, in_lane, out_lane, is_pedestrian(in_lane) or is_pedestrian(out_lane))
            )
        logic = conn.trafficlight.getAllProgramLogics(signal)[0]
        program = [phase.state for phase in logic.phases]
        plans[signal] = SignalPlan.from_program(signal, links, program, timing)
    return plans


@dataclass
class RunResult:
    scenario: str
    controller: str
    seed: int
    delay: float
    trips: int
    unfinished: int
    gridlock: bool
    wall_seconds: float
    switches: int = 0
    violations: list[str] = field(default_factory=list)
    clearances: int = 0


StepHook = Callable[[float, Any], None]


def run(
    scenario_name: str,
    controller_name: str,
    seed: int = 1,
    *,
    duration: float | None = None,
    check: bool = False,
    on_second: StepHook | None = None,
) -> RunResult:
    """One run; ``duration`` shortens the window (from its beginning), ``check`` watches
    every signal's states with a :class:`LegalityMonitor`, ``on_second(now, conn)`` is
    called after every simulated second (e.g. to stream detectors)."""
    spec = scenario(scenario_name)
    if not 0 <= seed <= 2**31 - 1:
        raise ValueError(f"seed {seed}: must be 0–2147483647")
    controller = make_controller(controller_name, spec.step)
    config = scenario_config(scenario_name)
    conn = _libsumo()
    end = spec.end if duration is None else min(spec.end, spec.begin + duration)
    if end <= spec.begin:
        raise ValueError(f"duration {duration}: must be positive")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smartcity-sumo-") as folder:
        tripinfo = Path(folder) / "tripinfo.xml"
        conn.start(
            [
                "sumo",
                "-c",
                str(config),
                "--begin",
                str(spec.begin),
                "--end",
                str(end),
                "--seed",
                str(seed),
                "--time-to-teleport",
                "-1",
                "--tripinfo-output",
                str(tripinfo),
                "--tripinfo-output.write-unfinished",
                "--no-step-log",
                "--no-warnings",
                "--duration-log.disable",
            ]
        )
        try:
            plans = read_plans(conn, spec.step, spec.yellow, controller)
            reader = LaneReader(conn)
            drivers = {s: PhaseDriver(p) for s, p in plans.items()} if controller.drives else {}
            monitors = (
                {s: LegalityMonitor(p, check_min_green=controller.drives) for s, p in plans.items()}
                if check
                else {}
            )
            shown: dict[str, str] = {}
            stall = arrived = 0
            gridlock = False
            now = float(spec.begin)
            while now < end:
                reader.advance(now)
                for signal, driver in drivers.items():
                    if driver.in_green:
                        wanted = controller.choose(now, plans[signal], driver, reader)
                        if wanted != driver.current_index:
                            driver.request(wanted)
                    if shown.get(signal) != driver.state:
                        conn.trafficlight.setRedYellowGreenState(signal, driver.state)
                        shown[signal] = driver.state
                conn.simulationStep()
                now += 1.0
                for driver in drivers.values():
                    driver.tick(1.0)
                for signal, monitor in monitors.items():
                    monitor.observe(now, conn.trafficlight.getRedYellowGreenState(signal))
                arrived += conn.simulation.getArrivedNumber()
                if round(now - spec.begin) % 30 == 0:
                    ids = conn.vehicle.getIDList()
                    standing = sum(1 for v in ids if conn.vehicle.getSpeed(v) < 0.1)
                    locked = len(ids) > 0 and arrived == 0 and standing >= 0.9 * len(ids)
                    stall = stall + 30 if locked else 0
                    arrived = 0
                    gridlock = gridlock or stall >= GRIDLOCK_SECONDS
                if on_second is not None:
                    on_second(now, conn)
        finally:
            conn.close()
        scheduled = scheduled_departures(config, spec.begin, end)
        delay, trips, unfinished = resco_delay(tripinfo, end, scheduled)
    switches = sum(m.switches for m in monitors.values())
    violations = [v for m in monitors.values() for v in m.violations]
    guard = getattr(controller, "guard", None)
    return RunResult(
        scenario=scenario_name,
        controller=controller_name,
        seed=seed,
        delay=delay,
        trips=trips,
        unfinished=unfinished,
        gridlock=gridlock,
        wall_seconds=time.perf_counter() - started,
        switches=switches,
        violations=violations,
        clearances=guard.clearances if guard is not None else 0,
    )
