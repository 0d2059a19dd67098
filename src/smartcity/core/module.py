"""The module descriptor that app.py reads: adding a module is adding one line there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

if TYPE_CHECKING:
    import typer
    from sqlalchemy.ext.asyncio import AsyncSession

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
