"""Finding a request's route by its first path segment (路由索引).

FastAPI tries the app's routes in order until one matches, descending into every included
router on the way; with the platform's few hundred routes that was about a third of the CPU
time of a cached public page (bench/public_pages.py). A path can only match routes whose
first segment is its own (``/air/...`` never matches ``/api/...``) or a parameter, so the
index keeps, per first segment, the app's routes that could match it, in the app's order,
and tries only those. Whatever they do not match in full (a 404, a 405, a redirect to the
slash-less path, a websocket, the lifespan) goes to FastAPI's own dispatch, which tries them
all as before, so which route answers never changes, only how fast it is found.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

try:  # FastAPI's own steps after a match; without them, the index stays out of the way.
    from fastapi.routing import (  # type: ignore[attr-defined]
        _apply_router_form_limits,
        _route_selected,
        _update_scope,
    )
    from starlette._utils import get_route_path

    USABLE = True
except ImportError:  # pragma: no cover - a FastAPI without these keeps its own dispatch
    USABLE = False

ANY = None  # a route whose first segment is a parameter, or of a kind the index cannot read


def first_segment(path: str) -> str | None:
    """``/air/stations/{id}`` → ``air``; None for a parameter (``/{code}``)."""
    head = path.lstrip("/").split("/", 1)[0]
    return None if "{" in head else head


def _segments(route: Any, prefix: str = "") -> set[str | None]:
    """The first segments a route (or every route of an included router) can match."""
    original = getattr(route, "original_router", None)
    if original is not None:  # an included router: its prefix and its own routes
        context = getattr(route, "include_context", None)
        inner = prefix + str(getattr(context, "prefix", "") or "")
        found: set[str | None] = set()
        for child in original.routes:
            found |= _segments(child, inner)
        return found or {ANY}
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return {ANY}
    return {first_segment(prefix + path) if (prefix + path).startswith("/") else ANY}


class RouteIndex:
    """The app router's dispatch, trying only the routes a path's first segment can match."""

    def __init__(self, app: FastAPI) -> None:
        self.router = app.router
        self.fallback: ASGIApp = app.router.middleware_stack
        self._built_for: tuple[int, int] | None = None
        self._buckets: dict[str, list[BaseRoute]] = {}
        self._any: list[BaseRoute] = []

    def _build(self) -> None:
        routes = list(self.router.routes)
        per_route = [(route, _segments(route)) for route in routes]
        names = {s for _r, segs in per_route for s in segs if s is not None}
        self._buckets = {
            name: [r for r, segs in per_route if name in segs or ANY in segs] for name in names
        }
        self._any = [r for r, segs in per_route if ANY in segs]
        self._built_for = (id(self.router.routes), len(self.router.routes))

    def candidates(self, path: str) -> Iterable[BaseRoute]:
        if self._built_for != (id(self.router.routes), len(self.router.routes)):
            self._build()
        head = path.lstrip("/").split("/", 1)[0]
        return self._buckets.get(head, self._any)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not USABLE:
            await self.fallback(scope, receive, send)
            return
        candidates = self.candidates(get_route_path(scope))
        _apply_router_form_limits(scope, self.router.form_limits)
        scope.setdefault("router", self.router)
        for route in candidates:
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                _update_scope(scope, child_scope)
                _route_selected(
                    scope=scope,
                    path=getattr(route, "path_format", None),
                    mount=isinstance(route, Mount),
                )
                await route.handle(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def install(app: FastAPI) -> None:
    """Put the index in front of the app router's dispatch (once all routes are added; it
    rebuilds itself when routes are added later)."""
    if USABLE and not isinstance(app.router.middleware_stack, RouteIndex):
        app.router.middleware_stack = RouteIndex(app)
