"""Hooks the modules owning a case type run inside a transition's transaction.

A hook does what must happen together with the step or not at all, e.g. issuing the licence
when an application is approved; what may follow later (notifications to other systems)
belongs on the bus. A hook that raises undoes the step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal

if TYPE_CHECKING:
    from smartcity.cases.models import Case


@dataclass(frozen=True)
class StepTaken:
    """What a hook is told: the step's name, the states and the fields it was taken with."""

    name: str
    from_state: str
    to_state: str
    fields: Mapping[str, Any]


TransitionHook = Callable[[AsyncSession, Principal, "Case", StepTaken], Awaitable[None]]

_HOOKS: list[tuple[str, TransitionHook]] = []


def on_transition(case_type_prefix: str, hook: TransitionHook) -> TransitionHook:
    """Run ``hook`` after every step of case types whose name starts with the prefix."""
    if (case_type_prefix, hook) not in _HOOKS:
        _HOOKS.append((case_type_prefix, hook))
    return hook


def hooks_for(case_type: str) -> list[TransitionHook]:
    return [hook for prefix, hook in _HOOKS if case_type.startswith(prefix)]


@dataclass(frozen=True)
class Panel:
    """A part a domain adds to the staff case page, e.g. the application's form and
    materials: a template under the domain's templates and what it needs."""

    title: str
    template: str
    context: Mapping[str, Any]


CasePanel = Callable[[AsyncSession, Principal, "Case"], Awaitable[Panel | None]]

_PANELS: list[tuple[str, CasePanel]] = []


def add_case_panel(case_type_prefix: str, panel: CasePanel) -> CasePanel:
    """Show ``panel`` on the staff page of cases whose type starts with the prefix."""
    if (case_type_prefix, panel) not in _PANELS:
        _PANELS.append((case_type_prefix, panel))
    return panel


def panels_for(case_type: str) -> list[CasePanel]:
    return [panel for prefix, panel in _PANELS if case_type.startswith(prefix)]
