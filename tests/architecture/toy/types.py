"""The toy domain's case type: a permit (玩具许可) the department grants or refuses."""

from __future__ import annotations

from smartcity.cases.contract import CaseType, Limits, State, Transition

NAME = "toy.permit"
# the ObservedProperty of the toy's river gauges (its sensing rule watches it)
WATER_LEVEL = "https://smartcity.invalid/op/toy-water-level"
DEPARTMENT = frozenset({"department"})

PERMIT = CaseType(
    name=NAME,
    title="玩具许可",
    prefix="TY",
    states=(
        State("submitted", "申请"),
        State("granted", "准予", "final"),
        State("refused", "不予", "final"),
    ),
    initial="submitted",
    transitions=(
        Transition("grant", "准予", ("submitted",), "granted", DEPARTMENT),
        Transition("refuse", "不予", ("submitted",), "refused", DEPARTMENT, ("reason",)),
    ),
    limits=Limits(statutory_days=5),
)
