"""The real-controller interface: NTCIP 1202-style phase calls validated before sending."""

from __future__ import annotations

import pytest

from smartcity.traffic.signals.adapter import (
    CommandError,
    PhaseCommand,
    PhaseStatus,
    SignalAdapter,
    send_phase_call,
)


class Cabinet:
    def __init__(self, phases: int) -> None:
        self.count = phases
        self.sent: list[PhaseCommand] = []

    def phases(self, controller: str) -> int:
        return self.count

    def send(self, command: PhaseCommand) -> None:
        self.sent.append(command)

    def status(self, controller: str) -> PhaseStatus:
        return PhaseStatus(controller, frozenset({2, 6}), frozenset(c.phase for c in self.sent))


def test_a_valid_call_reaches_the_controller() -> None:
    cabinet = Cabinet(8)
    assert isinstance(cabinet, SignalAdapter)
    command = send_phase_call(cabinet, "shennan-01", "hold", 2, 20)
    assert cabinet.sent == [command]
    assert cabinet.status("shennan-01").called == frozenset({2})


@pytest.mark.parametrize(
    ("controller", "action", "phase", "seconds", "code", "field"),
    [
        ("shennan-01", "hold", 9, 20, "phase_range", "phase"),
        ("shennan-01", "hold", 0, 20, "phase_range", "phase"),
        ("shennan-01", "call_vehicle", "2", 0, "phase_type", "phase"),
        ("shennan-01", "call_vehicle", True, 0, "phase_type", "phase"),
        ("shennan-01", "skip", 2, 0, "action", "action"),
        ("shennan-01", "hold", 2, 0, "seconds_range", "seconds"),
        ("shennan-01", "hold", 2, 301, "seconds_range", "seconds"),
        ("shennan-01", "omit", 2, 5, "seconds_range", "seconds"),
        ("shennan-01", "hold", 2, 2.5, "seconds_type", "seconds"),
        ("", "omit", 2, 0, "controller_id", "controller"),
        ("a" * 65, "omit", 2, 0, "controller_id", "controller"),
        ("bad id", "omit", 2, 0, "controller_id", "controller"),
    ],
)
def test_commands_out_of_range_are_clear_errors(
    controller: str, action: str, phase: object, seconds: object, code: str, field: str
) -> None:
    cabinet = Cabinet(8)
    with pytest.raises(CommandError) as caught:
        send_phase_call(cabinet, controller, action, phase, seconds)  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.field) == (code, field)
    assert cabinet.sent == []


def test_a_unit_reporting_an_impossible_phase_count_is_refused() -> None:
    with pytest.raises(CommandError) as caught:
        PhaseCommand.validated("u1", "omit", 1, phases=256)
    assert caught.value.code == "phases_range"
