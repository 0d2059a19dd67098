"""The module descriptor that app.py reads: adding a module is adding one line there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from smartcity.core import authz
from smartcity.core.authz import ObjectRule

if TYPE_CHECKING:
    import typer
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.authz import Principal
    from smartcity.core.bus import Event
    from smartcity.core.runtime import Runtime


@dataclass(frozen=True)
class NavItem:
    """A link in the portal header. ``kinds`` empty means everyone, signed in or not."""

    path: str
    label: str  # an English msgid; translated through core.i18n
    kinds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Job:
    """A periodic job with a dotted name, e.g. ``core.sessions.expire``."""

    name: str
    every_seconds: float
    run: Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class Handler:
    """A bus subscription; ``consumer`` names the durable consumer and keys idempotency."""

    consumer: str
    topic: str
    handle: Callable[[AsyncSession, Event], Awaitable[None]]


@dataclass(frozen=True)
class Seeder:
    """Reference data a module needs in every city (divisions, departments, service items):
    idempotent, run by ``smartcity db seed`` and the demo in ``modules()`` order. Returns how
    many rows it made."""

    name: str
    run: Callable[[AsyncSession, Principal], Awaitable[int]]


@dataclass(frozen=True)
class GroupCommand:
    """A command a module adds to another module's CLI group, e.g. the demo's simulator as
    ``smartcity sensing simulate``: the group's owner need not import the module."""

    group: str
    name: str
    run: Callable[..., None]


@dataclass(frozen=True)
class ExtensionPoint:
    """Something a module lets the others add to: case types, transition hooks, case panels,
    sensing rules. ``accepts`` is the frozen declaration type other modules list in their
    ``extends``; ``install`` receives every declaration of that type from all modules, in the
    order of ``modules()``, and replaces whatever it held before (so building a second app in
    the same process gives the same platform). It raises ``ModuleError`` on a declaration it
    cannot take (a duplicate name, a cycle in a hook order)."""

    accepts: type
    install: Callable[[Sequence[Any]], None]


class ModuleError(Exception):
    """The modules as declared do not make a platform: the app refuses to start."""


@dataclass(frozen=True)
class Module:
    name: str
    router: APIRouter | None = None
    pages: APIRouter | None = None
    # action name -> principal kinds or roles that may take it (see core.authz)
    actions: dict[str, frozenset[str]] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    handlers: list[Handler] = field(default_factory=list)
    nav: list[NavItem] = field(default_factory=list)
    cli: typer.Typer | None = None
    # Long-running tasks (e.g. a protocol bridge) the Runtime starts with the relay and jobs
    # and cancels at shutdown; each runs until cancelled.
    tasks: list[Callable[[Runtime], Coroutine[Any, Any, None]]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # object rules of actions: the object must pass the predicate too (see core.authz)
    rules: dict[str, ObjectRule] = field(default_factory=dict)
    # what this module adds to other modules' extension points (declarations they accept)
    extends: tuple[object, ...] = ()
    # what other modules may add to this one
    extension_points: tuple[ExtensionPoint, ...] = ()
    reference_data: tuple[Seeder, ...] = ()
    commands: tuple[GroupCommand, ...] = ()


def install(mods: Sequence[Module]) -> None:
    """Register what the modules declare, in their order: actions and object rules with
    core.authz, then every extension point with the declarations made for it. The only place
    the platform is extended; importing a file registers nothing. Replaces what an earlier
    call installed, so it may run once per app (tests build many)."""
    authz.replace_registrations(
        {action: who for m in mods for action, who in m.actions.items()},
        {action: rule for m in mods for action, rule in m.rules.items()},
    )
    points = [point for m in mods for point in m.extension_points]
    claimed: set[int] = set()
    for point in points:
        declared = [d for m in mods for d in m.extends if isinstance(d, point.accepts)]
        claimed.update(id(d) for d in declared)
        point.install(declared)
    for m in mods:
        for declaration in m.extends:
            if id(declaration) not in claimed:
                raise ModuleError(
                    f"module {m.name!r} declares a {type(declaration).__name__} that no "
                    "module's extension point accepts"
                )
