"""The route index (core/routeindex.py) finds the same route FastAPI's own dispatch would,
for every route of the platform, and leaves what it cannot match in full to FastAPI."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute
from starlette.routing import Match

from smartcity.core.routeindex import RouteIndex, first_segment


def sample_paths(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route in the app with each parameter filled in."""
    found: list[tuple[str, str]] = []

    def walk(routes: Any, prefix: str = "") -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:
                walk(original.routes, prefix + str(route.include_context.prefix or ""))
                continue
            path = getattr(route, "path", None)
            if not isinstance(path, str):
                continue
            concrete = re.sub(r"\{[^}:]+(:path)?\}", "1", prefix + path)
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                found.append((method, concrete))

    walk(app.router.routes)
    return found


def first_full(routes: Any, method: str, path: str) -> Any:
    for route in routes:
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
        match, _child = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def test_the_index_picks_the_route_fastapi_would(app: Any) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    samples = sample_paths(app)
    assert len(samples) > 200
    for method, path in [*samples, ("GET", "/no/such/page"), ("GET", "/"), ("POST", "/air")]:
        expected = first_full(app.router.routes, method, path)
        got = first_full(index.candidates(path), method, path)
        assert got is expected, (method, path)


def test_first_segments() -> None:
    assert first_segment("/air/stations/{id}") == "air"
    assert first_segment("/") == ""
    assert first_segment("/{code}") is None


async def test_what_the_index_cannot_match_goes_to_fastapi(client: httpx.AsyncClient) -> None:
    # 404 and 405 come from FastAPI's own dispatch, as problem+json.
    missing = await client.get("/no/such/page")
    assert missing.status_code == 404
    wrong_method = await client.delete("/api/v1/me")
    assert wrong_method.status_code == 405
    assert (await client.get("/air")).status_code == 200


def test_routes_added_later_are_found(app: Any) -> None:
    index = app.router.middleware_stack
    assert first_full(index.candidates("/late-page"), "GET", "/late-page") is None

    async def late() -> dict[str, str]:
        return {}

    app.router.routes.append(APIRoute("/late-page", late))
    assert first_full(index.candidates("/late-page"), "GET", "/late-page") is not None
