"""What the modules owning a case type add to the engine: transition hooks, run inside a
transition's transaction, panels on the staff case page and panels on the supervision board.

A hook does what must happen together with the step or not at all, e.g. issuing the licence
when an application is approved; what may follow later (notifications to other systems)
belongs on the bus. A hook that raises undoes the step.

Modules declare hooks (``OnTransition``) and panels (``CasePanel``) in their ``MODULE.extends``;
``core.module.install`` hands them to ``install_hooks`` / ``install_panels`` (the case engine's
extension points), which replace what was installed before. Importing a file registers nothing.
Hooks run in the order their ``after``/``before`` names say, else in ``modules()`` order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.module import ModuleError


class CaseRecord(Protocol):
    """What a hook, a panel or a domain reads of a case (the engine's row satisfies it; a
    domain never imports the engine's models)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def number(self) -> str: ...
    @property
    def case_type(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def department_id(self) -> uuid.UUID: ...
    @property
    def applicant_account_id(self) -> uuid.UUID | None: ...
    @property
    def assignee_account_id(self) -> uuid.UUID | None: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def opened_at(self) -> dt.datetime: ...
    @property
    def closed_at(self) -> dt.datetime | None: ...
    @property
    def statutory_due_at(self) -> dt.datetime: ...
    @property
    def promised_due_at(self) -> dt.datetime | None: ...
    @property
    def step_due_at(self) -> dt.datetime | None: ...
    @property
    def statutory_warn_at(self) -> dt.datetime: ...
    @property
    def promised_warn_at(self) -> dt.datetime | None: ...
    @property
    def step_warn_at(self) -> dt.datetime | None: ...
    @property
    def paused_at(self) -> dt.datetime | None: ...
    @property
    def statutory_warning(self) -> str: ...
    @property
    def promised_warning(self) -> str: ...
    @property
    def step_warning(self) -> str: ...
    @property
    def handled_workdays(self) -> int | None: ...
    @property
    def on_time(self) -> bool | None: ...


class CaseEventRecord(Protocol):
    """One line of a case's timeline (办件日志), as a domain reads it."""

    @property
    def seq(self) -> int: ...
    @property
    def case_id(self) -> uuid.UUID: ...
    @property
    def at(self) -> dt.datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def from_state(self) -> str: ...
    @property
    def to_state(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


class CaseRatingRecord(Protocol):
    """The applicant's rating of a finished case (好差评), as a domain reads it."""

    @property
    def case_id(self) -> uuid.UUID: ...
    @property
    def score(self) -> int: ...
    @property
    def comment(self) -> str: ...
    @property
    def rated_at(self) -> dt.datetime: ...


@dataclass(frozen=True)
class StepTaken:
    """What a hook is told: the step's name, the states and the fields it was taken with."""

    name: str
    from_state: str
    to_state: str
    fields: Mapping[str, Any]


TransitionHook = Callable[[AsyncSession, Principal, CaseRecord, StepTaken], Awaitable[None]]


@dataclass(frozen=True)
class OnTransition:
    """Run ``run`` after every step of case types whose name starts with ``case_type_prefix``.
    ``name`` is unique across the platform; ``after``/``before`` name hooks this one must run
    after or before (e.g. the applicant's notice after the licence is issued)."""

    name: str
    case_type_prefix: str
    run: TransitionHook
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()


_HOOKS: list[OnTransition] = []


def order_hooks(declared: Sequence[OnTransition]) -> list[OnTransition]:
    """The hooks in an order that keeps every ``after``/``before``, ties in declared order;
    ModuleError on a duplicate or unknown name, or a cycle."""
    by_name: dict[str, OnTransition] = {}
    for hook in declared:
        if hook.name in by_name:
            raise ModuleError(f"transition hook {hook.name!r} is declared twice")
        by_name[hook.name] = hook
    position = {name: i for i, name in enumerate(by_name)}
    needs: dict[str, set[str]] = {name: set() for name in by_name}
    for hook in declared:
        for other in (*hook.after, *hook.before):
            if other not in by_name:
                raise ModuleError(
                    f"transition hook {hook.name!r} is ordered against unknown hook {other!r}"
                )
        needs[hook.name].update(hook.after)
        for other in hook.before:
            needs[other].add(hook.name)
    ordered: list[OnTransition] = []
    placed: set[str] = set()
    while len(ordered) < len(by_name):
        ready = [n for n in by_name if n not in placed and needs[n] <= placed]
        if not ready:
            stuck = sorted(n for n in by_name if n not in placed)
            raise ModuleError(f"transition hooks ordered in a cycle: {', '.join(stuck)}")
        first = min(ready, key=position.__getitem__)
        ordered.append(by_name[first])
        placed.add(first)
    return ordered


def install_hooks(declared: Sequence[OnTransition]) -> None:
    """The case engine's extension point for transition hooks (see core.module.install)."""
    _HOOKS[:] = order_hooks(declared)


def installed_hooks() -> list[OnTransition]:
    return list(_HOOKS)


def hooks_for(case_type: str) -> list[TransitionHook]:
    return [hook.run for hook in _HOOKS if case_type.startswith(hook.case_type_prefix)]


@dataclass(frozen=True)
class Panel:
    """A part a domain adds to the staff case page, e.g. the application's form and
    materials: a template under the domain's templates and what it needs."""

    title: str
    template: str
    context: Mapping[str, Any]


PanelBuilder = Callable[[AsyncSession, Principal, CaseRecord], Awaitable[Panel | None]]


@dataclass(frozen=True)
class CasePanel:
    """Show what ``build`` makes on the staff page of cases whose type starts with the prefix
    (``build`` answers None to show nothing for a case)."""

    case_type_prefix: str
    build: PanelBuilder


_PANELS: list[CasePanel] = []


def install_panels(declared: Sequence[CasePanel]) -> None:
    """The case engine's extension point for case panels (see core.module.install)."""
    _PANELS[:] = list(declared)


def installed_panels() -> list[CasePanel]:
    return list(_PANELS)


def panels_for(case_type: str) -> list[PanelBuilder]:
    return [p.build for p in _PANELS if case_type.startswith(p.case_type_prefix)]


ReadHook = Callable[[AsyncSession, Principal, Sequence[CaseRecord]], Awaitable[None]]


@dataclass(frozen=True)
class OnRead:
    """Run ``run`` whenever the case engine's API hands cases whose type starts with the
    prefix, their ``data`` included, to a caller: the domain that put personal data there
    (the service hall's prefilled fields) logs the read where the person sees it, as its
    pages do when they show the same data."""

    case_type_prefix: str
    run: ReadHook


_READ_HOOKS: list[OnRead] = []


def install_read_hooks(declared: Sequence[OnRead]) -> None:
    """The case engine's extension point for read hooks (see core.module.install)."""
    _READ_HOOKS[:] = list(declared)


def installed_read_hooks() -> list[OnRead]:
    return list(_READ_HOOKS)


async def run_read_hooks(
    session: AsyncSession, principal: Principal, cases: Sequence[CaseRecord]
) -> None:
    """Hand each read hook the cases of its type prefix (one call per hook, not per case)."""
    for hook in _READ_HOOKS:
        mine = [c for c in cases if c.case_type.startswith(hook.case_type_prefix)]
        if mine:
            await hook.run(session, principal, mine)


@dataclass(frozen=True)
class BoardRange:
    """What the supervision board shows when a domain's board panel is drawn: the instants of
    its range of months and the department chosen (its code), if any."""

    start: dt.datetime
    end: dt.datetime
    department_code: str | None


BoardBuilder = Callable[[AsyncSession, Principal, BoardRange], Awaitable[Panel | None]]


@dataclass(frozen=True)
class BoardPanel:
    """A domain's own figures on the supervision board (/supervision), after the engine's:
    ``render`` makes the panel for the board's range, or None to show nothing to this
    reader. ``name`` is unique across the platform."""

    name: str
    render: BoardBuilder


_BOARD_PANELS: list[BoardPanel] = []


def install_board_panels(declared: Sequence[BoardPanel]) -> None:
    """The case engine's extension point for board panels (see core.module.install)."""
    names = [p.name for p in declared]
    if len(set(names)) != len(names):
        raise ModuleError(f"a board panel is declared twice: {sorted(names)}")
    _BOARD_PANELS[:] = list(declared)


def installed_board_panels() -> list[BoardPanel]:
    return list(_BOARD_PANELS)
