"""Deny by default: every route of the app refuses anonymous callers and callers of the wrong
kind, unless it is declared public. New modules are covered by construction."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from smartcity.core.models import PrincipalKind
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from tests.core import factories

ALL_KINDS = [k.value for k in PrincipalKind]


def _dependency_calls(route: APIRoute) -> list[Any]:
    calls = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is not None:
            calls.append(dependant.call)
        stack.extend(dependant.dependencies)
    return calls


def guard_of(route: APIRoute) -> tuple[bool, frozenset[str] | None]:
    """(public?, admitted kinds or None). Routes with neither are a failure of this test."""
    calls = _dependency_calls(route)
    is_public = any(getattr(c, "__smartcity_public__", False) for c in calls)
    kinds = [getattr(c, "__smartcity_kinds__", None) for c in calls]
    admitted = [k for k in kinds if k is not None]
    return is_public, (admitted[0] if admitted else None)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: str(uuid.uuid4()) if "id" in m.group() else "x", path)


def api_routes(app: Any) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as branches; the
    routers carry no include-time prefix or dependencies here, so their routes are complete)."""
    found: list[APIRoute] = []
    stack = list(app.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            stack.extend(route.original_router.routes)
    return found


def test_every_route_is_public_or_guarded(app: Any) -> None:
    assert len(api_routes(app)) > 20
    unguarded = []
    for route in api_routes(app):
        is_public, kinds = guard_of(route)
        if not is_public and kinds is None:
            unguarded.append(f"{sorted(route.methods)} {route.path}")
    assert unguarded == [], "routes with no principal check and no public marker"


def test_mounts_are_static_only(app: Any) -> None:
    mounts = [r.path for r in app.routes if isinstance(r, Mount)]
    assert set(mounts) <= {"/static", "/static/apidocs"}


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
async def test_anonymous_is_refused_everywhere(app: Any, client: Any, accept: str) -> None:
    checked = 0
    for route in api_routes(app):
        is_public, _kinds = guard_of(route)
        if is_public:
            continue
        for method in route.methods - {"HEAD"}:
            response = await client.request(
                method, concrete(route.path), headers={"accept": accept}
            )
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login"), route.path
            else:
                assert response.status_code == 401, (method, route.path, response.text)
            checked += 1
    assert checked > 10


async def test_wrong_kind_is_refused_everywhere(app: Any, client: Any, session: Any) -> None:
    tokens: dict[str, str] = {}
    settings = get_settings()
    for kind in ALL_KINDS:
        if kind in ("system", "device"):
            continue  # machine kinds use keys; their refusal is the same code path as tokens
        account = await factories.create_account(session, kind=kind)
        tokens[kind] = issue_access_token(settings, account, amr=["pwd", "otp"])
    await session.commit()
    checked = 0
    for route in api_routes(app):
        is_public, kinds = guard_of(route)
        if is_public or not kinds:
            continue
        outsiders = [k for k in tokens if k not in kinds]
        for kind in outsiders:
            for method in route.methods - {"HEAD"}:
                response = await client.request(
                    method,
                    concrete(route.path),
                    headers={
                        "Authorization": f"Bearer {tokens[kind]}",
                        "accept": "application/json",
                    },
                )
                assert response.status_code == 403, (kind, method, route.path, response.text)
                checked += 1
    assert checked > 10


async def test_unknown_route_is_a_problem(client: Any) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/not-found"
    assert "/api/v1/no-such-thing" in body["detail"]


async def test_unknown_page_is_a_page(client: Any) -> None:
    response = await client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
