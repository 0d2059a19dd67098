"""Declared case types (办件类型): states, transitions, who may take them, and time limits.

A case type is data, not code: the engine (cases.service) runs any installed type. A module
declares its types in ``MODULE.extends``; ``core.module.install`` hands them all to
``install_case_types`` (the engine's extension point), which refuses a definition that could
strand a case or name unknown roles. Importing a file registers nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from smartcity.core.models import PrincipalKind

StateKind = Literal["active", "waiting_applicant", "final"]
STATE_KINDS: frozenset[str] = frozenset({"active", "waiting_applicant", "final"})

# Who may take a transition: principal kinds, the extra roles, and pseudo-roles the engine
# resolves against the case: "department" (staff of the case's current department),
# "assignee" (only the assigned officer), "applicant" (whoever opened it for themselves).
ROLES: frozenset[str] = frozenset({"auditor", "security"})
PSEUDO_ROLES: frozenset[str] = frozenset({"department", "assignee", "applicant"})
VALID_WHO: frozenset[str] = frozenset(k.value for k in PrincipalKind) | ROLES | PSEUDO_ROLES


class CaseTypeError(ValueError):
    """A case type definition that cannot run (办件类型定义错误), raised at start-up."""


@dataclass(frozen=True)
class State:
    """A state (环节) of a case: active, waiting for the applicant (补正, clock paused) or final."""

    name: str
    title: str
    kind: StateKind = "active"


@dataclass(frozen=True)
class Transition:
    """A step (流转) from some states to one state, with who may take it and the fields it needs."""

    name: str
    title: str
    from_states: tuple[str, ...]
    to_state: str
    who: frozenset[str]
    required_fields: tuple[str, ...] = ()
    # A decision against the applicant (不予受理, 不予许可): electronic supervision flags one
    # whose reason is missing or an empty formula (see cases.flags).
    refusal: bool = False
    # A decision that settles the case for the applicant (准予许可, 不予许可, 不予受理): it
    # needs an approval opinion (审批意见) on the timeline, and the pages ask to confirm it.
    decisive: bool = False


@dataclass(frozen=True)
class Limits:
    """Time limits in working days (工作日): 法定时限, 承诺时限 and 环节时限 per state."""

    statutory_days: int | None
    promised_days: int | None = None
    step_days: tuple[tuple[str, int], ...] = ()
    # Yellow warning (黄牌预警) once this share of a limit's working time has passed.
    warning_share: float = 0.8
    # 延期: at most this many working days may be added to a case's limits in all (each
    # extension 1 to this many); None: the type's cases are never extended.
    max_extension_days: int | None = None

    def step_limit(self, state: str) -> int | None:
        return dict(self.step_days).get(state)


@dataclass(frozen=True)
class CaseType:
    """A declared case type (办件类型), e.g. an administrative licence application."""

    name: str
    title: str
    prefix: str  # of case numbers, e.g. "SQ" in SQ-20261009-000001
    states: tuple[State, ...]
    initial: str
    transitions: tuple[Transition, ...]
    limits: Limits
    # How the timeline names the type's own step fields and their coded values (msgids):
    # ``(field, label)`` and ``(field, value, title)``, e.g. 回访's rating "dissatisfied".
    field_labels: tuple[tuple[str, str], ...] = ()
    field_values: tuple[tuple[str, str, str], ...] = ()

    def state(self, name: str) -> State:
        for state in self.states:
            if state.name == name:
                return state
        raise KeyError(name)

    def transition(self, name: str) -> Transition | None:
        return next((t for t in self.transitions if t.name == name), None)

    def outgoing(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if state in t.from_states]


_REGISTRY: dict[str, CaseType] = {}


def _fail(ct: CaseType, message: str) -> CaseTypeError:
    return CaseTypeError(f"case type {ct.name!r}: {message}")


def validate_case_type(ct: CaseType) -> None:
    """Raise CaseTypeError naming the first thing that would make the type unrunnable."""
    names = [s.name for s in ct.states]
    if not ct.states:
        raise _fail(ct, "declares no states")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _fail(ct, f"declares state {duplicates[0]!r} twice")
    for state in ct.states:
        if state.kind not in STATE_KINDS:
            raise _fail(ct, f"state {state.name!r} has unknown kind {state.kind!r}")
    known = set(names)
    if ct.initial not in known:
        raise _fail(ct, f"initial state {ct.initial!r} is not declared")
    transition_names = [t.name for t in ct.transitions]
    for t in ct.transitions:
        if transition_names.count(t.name) > 1:
            raise _fail(ct, f"declares transition {t.name!r} twice")
        if not t.from_states:
            raise _fail(ct, f"transition {t.name!r} starts from no state")
        for source in t.from_states:
            if source not in known:
                raise _fail(ct, f"transition {t.name!r} starts from unknown state {source!r}")
        if t.to_state not in known:
            raise _fail(ct, f"transition {t.name!r} leads to unknown state {t.to_state!r}")
        if not t.who:
            raise _fail(ct, f"transition {t.name!r} names no one who may take it")
        unknown = sorted(set(t.who) - VALID_WHO)
        if unknown:
            raise _fail(
                ct,
                f"transition {t.name!r} names unknown role {unknown[0]!r} "
                f"(known: {', '.join(sorted(VALID_WHO))})",
            )
    for state in ct.states:
        out = ct.outgoing(state.name)
        if state.kind == "final" and out:
            raise _fail(ct, f"final state {state.name!r} has outgoing transition {out[0].name!r}")
        if state.kind != "final" and not out:
            raise _fail(ct, f"state {state.name!r} is not final but has no way out")
    reachable = {ct.initial}
    frontier = [ct.initial]
    while frontier:
        current = frontier.pop()
        for t in ct.outgoing(current):
            if t.to_state not in reachable:
                reachable.add(t.to_state)
                frontier.append(t.to_state)
    for name in names:
        if name not in reachable:
            raise _fail(ct, f"state {name!r} is unreachable from {ct.initial!r}")
    if not any(s.kind == "final" for s in ct.states):
        raise _fail(ct, "has no final state")
    limits = ct.limits
    if limits.statutory_days is None or limits.statutory_days <= 0:
        raise _fail(ct, "has no statutory time limit (法定时限) in working days")
    if limits.promised_days is not None:
        if limits.promised_days <= 0:
            raise _fail(ct, "has a promised limit of zero or fewer working days")
        if limits.promised_days > limits.statutory_days:
            raise _fail(
                ct,
                f"promises {limits.promised_days} working days, more than the statutory "
                f"{limits.statutory_days}",
            )
    if limits.max_extension_days is not None and limits.max_extension_days <= 0:
        raise _fail(ct, "allows extensions of zero or fewer working days")
    for state_name, days in limits.step_days:
        if state_name not in known:
            raise _fail(ct, f"step limit for unknown state {state_name!r}")
        if days <= 0:
            raise _fail(ct, f"step limit for {state_name!r} must be one or more working days")
    if not 0 < limits.warning_share < 1:
        raise _fail(ct, f"warning share {limits.warning_share} must lie between 0 and 1")


def register_case_type(ct: CaseType) -> CaseType:
    """Validate and add one case type to those installed; a second type with the same name
    is an error. ``install_case_types`` is how the platform gets its types; this serves it."""
    validate_case_type(ct)
    existing = _REGISTRY.get(ct.name)
    if existing is not None and existing != ct:
        raise _fail(ct, "is already registered with a different definition")
    _REGISTRY[ct.name] = ct
    return ct


def install_case_types(declared: Sequence[CaseType]) -> None:
    """The case engine's extension point for case types (see core.module.install): exactly
    these types, each validated, replacing what was installed before."""
    previous = dict(_REGISTRY)
    _REGISTRY.clear()
    try:
        for ct in declared:
            register_case_type(ct)
    except CaseTypeError:
        _REGISTRY.clear()
        _REGISTRY.update(previous)
        raise


def get_case_type(name: str) -> CaseType:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"unknown case type {name!r}") from None


def case_types() -> Iterable[CaseType]:
    return tuple(_REGISTRY.values())
