"""The interface to real signal controllers: NTCIP 1202-style phase calls.

NTCIP 1202 (Actuated Signal Controller objects) numbers a controller's phases 1..N (at most
255 per unit; typical cabinets have 8 or 16) and lets a central system place *calls*
(vehicle or pedestrian demand on a phase), *holds* (keep a phase green), *force-offs* (end
a phase's green at the next legal point) and *omits* (skip a phase). The controller keeps
its own min green, yellow and all-red: a central system asks, the cabinet decides when it
is legal. Our controllers therefore speak in these terms to real hardware, through an
:class:`SignalAdapter` (an NTCIP/SNMP client, a vendor API, or the SUMO bridge in tests).

Every command is validated before it leaves: unknown action, phase out of the unit's range,
a hold longer than its max green, a controller id of bad form: each a :class:`CommandError`
with a stable ``code`` and a sentence naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

ACTIONS = ("call_vehicle", "call_pedestrian", "hold", "force_off", "omit")
MAX_PHASES = 255  # NTCIP 1202's maxPhases upper bound
MAX_HOLD_S = 300
_CONTROLLER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:#-]{0,63}$")


class CommandError(ValueError):
    """A phase command the adapter refuses; ``code`` is stable, ``field`` names the input."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class PhaseCommand:
    """One phase call to one controller: ``phase`` is 1-based, as on the cabinet."""

    controller: str
    action: str
    phase: int
    seconds: int = 0  # holds only: how long to hold at most

    @classmethod
    def validated(
        cls, controller: object, action: object, phase: object, seconds: object = 0, *, phases: int
    ) -> PhaseCommand:
        if not isinstance(phases, int) or isinstance(phases, bool) or not 1 <= phases <= MAX_PHASES:
            raise CommandError(
                "phases_range", "phases", f"the unit's phase count must be 1–{MAX_PHASES}"
            )
        if not isinstance(controller, str) or not _CONTROLLER_ID.match(controller):
            raise CommandError(
                "controller_id",
                "controller",
                "controller id: 1–64 letters, digits or _ . : # -, starting with a letter or digit",
            )
        if action not in ACTIONS:
            raise CommandError(
                "action", "action", f"action {action!r}: one of {', '.join(ACTIONS)}"
            )
        if not isinstance(phase, int) or isinstance(phase, bool):
            raise CommandError("phase_type", "phase", f"phase {phase!r}: must be a whole number")
        if not 1 <= phase <= phases:
            raise CommandError(
                "phase_range",
                "phase",
                f"phase {phase} out of range: this unit has phases 1–{phases}",
            )
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise CommandError(
                "seconds_type", "seconds", f"seconds {seconds!r}: must be a whole number"
            )
        if action == "hold":
            if not 1 <= seconds <= MAX_HOLD_S:
                raise CommandError(
                    "seconds_range", "seconds", f"a hold lasts 1–{MAX_HOLD_S} s, not {seconds}"
                )
        elif seconds != 0:
            raise CommandError("seconds_range", "seconds", f"only a hold takes seconds ({action})")
        return cls(controller=controller, action=str(action), phase=phase, seconds=seconds)


@dataclass(frozen=True)
class PhaseStatus:
    """What the controller reports: the phases green now and those with a call on them."""

    controller: str
    green: frozenset[int]
    called: frozenset[int]


@runtime_checkable
class SignalAdapter(Protocol):
    """A real (or simulated) signal controller unit."""

    def phases(self, controller: str) -> int:
        """How many phases the unit runs (1..255)."""
        ...

    def send(self, command: PhaseCommand) -> None:
        """Place the call; the unit applies it at its next legal point."""
        ...

    def status(self, controller: str) -> PhaseStatus: ...


def send_phase_call(
    adapter: SignalAdapter,
    controller: str,
    action: str,
    phase: int,
    seconds: int = 0,
) -> PhaseCommand:
    """Validate against the unit's own phase count, then send."""
    command = PhaseCommand.validated(
        controller, action, phase, seconds, phases=adapter.phases(controller)
    )
    adapter.send(command)
    return command
