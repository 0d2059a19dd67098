"""Input bounds at the edge (core/limits.py): every integer parameter of every route refuses
2**64 and -1 with a 4xx problem, and JSON nested too deep is a 400 before any parser runs."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel

from smartcity.core.errors import PROBLEM_JSON, install_problem_handlers
from smartcity.core.limits import (
    INT64_MAX,
    JsonDepthLimit,
    bound_integer_parameters,
    json_depth,
    lowest_allowed,
    route_dependants,
)
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from tests.core import factories
from tests.problems import assert_problem

HUGE = 2**64


def integer_parameters(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, parameter) for every integer parameter in the OpenAPI document."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                types = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
                if "integer" in types:
                    found.append((method, path, parameter))
    return found


def request_for(path: str, parameter: dict[str, Any], value: int) -> tuple[str, dict[str, str]]:
    """The URL and query that send ``value`` in ``parameter``, other path parts filled in."""
    params: dict[str, str] = {}
    if parameter["in"] == "path":
        path = path.replace("{" + parameter["name"] + "}", str(value))
    elif parameter["in"] == "query":
        params[parameter["name"]] = str(value)
    return re.sub(r"\{[^}]+\}", "1", path), params


@pytest.fixture
async def tokens(session: Any) -> dict[str, str | None]:
    callers: dict[str, str | None] = {"anonymous": None}
    for kind in ("admin", "citizen", "staff"):
        account = await factories.create_account(session, kind=kind)
        callers[kind] = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    await session.commit()
    return callers


REFUSALS = {"/problems/invalid-input", "/problems/unauthenticated", "/problems/forbidden"}


@pytest.mark.parametrize("value", [HUGE, -1])
async def test_every_integer_parameter_refuses_out_of_range_values(
    app: Any, client: httpx.AsyncClient, tokens: dict[str, str | None], value: int
) -> None:
    parameters = integer_parameters(app.openapi())
    assert len(parameters) > 40  # the document really lists them (27 of them were 500s)
    for method, path, parameter in parameters:
        url, params = request_for(path, parameter, value)
        body = {} if method in ("post", "put", "patch") else None
        types = {}
        for who, token in tokens.items():
            headers = {"accept": "application/json"}
            if token:
                headers["authorization"] = f"Bearer {token}"
            response = await client.request(method, url, params=params, json=body, headers=headers)
            where = (who, method, path, parameter["name"], response.text[:200])
            assert response.status_code < 500, where
            assert response.headers["content-type"].startswith(PROBLEM_JSON), where
            types[who] = response.json()["type"]
        # Refused by every caller; by those the route admits, as invalid input.
        assert set(types.values()) <= REFUSALS, (method, path, types)
        assert "/problems/invalid-input" in types.values(), (method, path, types)


def test_every_integer_parameter_is_bounded_in_the_document(app: Any) -> None:
    for method, path, parameter in integer_parameters(app.openapi()):
        schema = parameter["schema"]
        integer = next(s for s in [schema, *schema.get("anyOf", [])] if s.get("type") == "integer")
        where = (method, path, parameter["name"])
        assert integer.get("maximum", INT64_MAX + 1) <= INT64_MAX, where
        assert "minimum" in integer, where
        if parameter["name"].endswith("_id"):
            assert integer["minimum"] >= 1, where


async def test_huge_station_id_is_invalid_input_not_a_server_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/api/v1/environment/air/stations/{HUGE}")
    assert_problem(response, 422, "invalid-input")
    assert response.json()["type"] == "/problems/invalid-input"
    assert response.json()["errors"][0]["field"] == "station_id"


async def test_largest_int64_id_reaches_the_database_and_is_not_found(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/api/v1/environment/air/stations/{INT64_MAX}")
    assert_problem(response, 404, "not-found")
    assert response.json()["type"] == "/problems/not-found"


@pytest.mark.parametrize(
    ("name", "lowest"),
    [("offset", 0), ("limit", 0), ("after", 0), ("station_id", 1), ("id", 1), ("year", -(2**63))],
)
def test_lowest_allowed_value_follows_the_parameter_name(name: str, lowest: int) -> None:
    assert lowest_allowed(name) == lowest


async def test_explicit_bounds_win_and_the_walk_is_idempotent() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int, shift: int = Query(default=0, ge=-5, le=5)) -> dict[str, int]:
        return {"thing_id": thing_id, "shift": shift}

    assert bound_integer_parameters(app) == 1
    assert bound_integer_parameters(app) == 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/things/7?shift=-5")).json() == {"thing_id": 7, "shift": -5}
        assert_problem(await client.get("/things/7?shift=-6"), 422, "invalid-input")
        assert_problem(await client.get("/things/0"), 422, "invalid-input")
        assert (await client.get(f"/things/{INT64_MAX}")).status_code == 200


# ---------------------------------------------------------------- JSON depth


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"1", 0),
        (b'"[[[["', 0),
        (b'{"a": [1, {"b": "}}}"}]}', 3),
        (b'["\\"[[[", [[]]]', 3),
        (b'"never closed [[[[[[', 0),
        (b"[[[[", 4),
        (b'{"a": "\\\\", "b": [1]}', 2),  # an escaped backslash does not escape the quote
        (b"[[],[[]],{}]", 3),
    ],
)
def test_json_depth_counts_brackets_outside_strings(body: bytes, depth: int) -> None:
    assert json_depth(body, 1000) == depth


def test_json_depth_of_a_deep_document() -> None:
    assert json_depth(_dumps_deep(nested(300)), 1000) == 300
    assert json_depth(_dumps_deep(nested(300)), 64) == 65  # counting stops past the limit


def test_json_depth_is_linear_on_hostile_quotes() -> None:
    # Unclosed strings after escaped quotes would make a naive string regex quadratic.
    assert json_depth(b'\\"' * 2_000_000, 64) == 0


async def test_depth_limit_passes_shallow_bodies_and_disconnects_through() -> None:
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=JsonDepthLimit(app, max_depth=3))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.post("/", content=b"[[[1]]]")).status_code == 204
        deep = await client.post("/", content=b"[[[[1]]]]")
        # Forms are never scanned: their brackets mean nothing.
        form = await client.post("/", data={"a": "[[[[[["})
    assert seen == [b"[[[1]]]", b"a=%5B%5B%5B%5B%5B%5B"]
    assert_problem(deep, 400, "json-too-deep")
    assert deep.json()["type"] == "/problems/json-too-deep"
    assert form.status_code == 204


@pytest.fixture
async def sensing_writer(session: Any) -> dict[str, str]:
    admin = await factories.create_account(session, kind="admin")
    await session.commit()
    token = issue_access_token(get_settings(), admin, amr=["pwd", "otp"])
    return {"authorization": f"Bearer {token}", "content-type": "application/json"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sta/v1.1/Things", {"name": "deep", "description": "d", "properties": nested(1000)}),
        (
            "/sta/v1.1/Observations",
            {"result": 1, "parameters": nested(300), "Datastream": {"@iot.id": 1}},
        ),
        ("/api/v1/sensing/rules", {"name": "r", "kind": "threshold", "params": nested(200)}),
    ],
)
async def test_deep_json_is_refused_with_a_problem_naming_it(
    client: httpx.AsyncClient, sensing_writer: dict[str, str], path: str, body: Any
) -> None:
    # orjson refuses to write past 254 levels; the body is built by hand past that.
    content = _dumps_deep(body)
    response = await client.post(path, content=content, headers=sensing_writer)
    assert_problem(response, 400, "json-too-deep")
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["type"] == "/problems/json-too-deep"
    assert problem["max_depth"] == get_settings().max_json_depth
    assert "levels deep" in problem["detail"]
    assert str(get_settings().max_json_depth) in problem["detail"]


async def test_json_at_the_limit_is_not_refused_for_its_depth(
    client: httpx.AsyncClient, sensing_writer: dict[str, str]
) -> None:
    limit = get_settings().max_json_depth
    body = {"name": "shallow", "description": "d", "properties": nested(limit - 1)}
    content = _dumps_deep(body)
    response = await client.post("/sta/v1.1/Things", content=content, headers=sensing_writer)
    assert response.status_code == 201, response.text


def _dumps_deep(value: Any) -> bytes:
    """JSON for any depth (orjson and the stdlib both stop at a few hundred levels)."""
    parts: list[bytes] = []
    stack: list[Any] = [value]
    while stack:  # LIFO: what comes out first is pushed last
        item = stack.pop()
        if isinstance(item, bytes):
            parts.append(item)
        elif isinstance(item, dict):
            stack.append(b"}")
            for index, (key, child) in reversed(list(enumerate(item.items()))):
                stack += [child, orjson.dumps(key) + b":"] + ([b","] if index else [])
            stack.append(b"{")
        elif isinstance(item, list):
            stack.append(b"]")
            for index, child in reversed(list(enumerate(item))):
                stack += [child] + ([b","] if index else [])
            stack.append(b"[")
        else:
            parts.append(orjson.dumps(item))
    return b"".join(parts)


def test_deep_bodies_are_written_as_json() -> None:
    value = {"a": [1, {"b": [2, 3]}, "x"], "c": None}
    assert orjson.loads(_dumps_deep(value)) == value


# ---------------------------------------------------------------- integers in bodies

# Integer body fields that are checked by their service before they reach a column, with
# where: everything else must carry bounds (core.limits.RowId / Int64, or its own ge/le).
CHECKED_BY_SERVICE = {
    "smartcity.cases.schemas.RatingInput.score": "cases.service.events.rate: 1 to 5",
    "smartcity.services.schemas.RatingInput.score": "cases.service.events.rate: 1 to 5",
}


def _is_int(annotation: Any) -> bool:
    return annotation is int or (
        typing.get_origin(annotation) in (typing.Union, types.UnionType)
        and int in typing.get_args(annotation)
        and float not in typing.get_args(annotation)  # int | float: a number for JSON
    )


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def test_every_integer_in_a_request_body_is_bounded(app: Any) -> None:
    seen: set[type[BaseModel]] = set()
    stack = [
        model
        for dependant in route_dependants(app)
        for field in dependant.body_params
        for model in _models(field.field_info.annotation)
    ]
    unbounded = []
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            stack.extend(_models(field.annotation))
            if not _is_int(field.annotation):
                continue
            where = f"{model.__module__}.{model.__name__}.{name}"
            has_lower = any(getattr(m, "ge", None) is not None for m in field.metadata)
            has_upper = any(getattr(m, "le", None) is not None for m in field.metadata)
            if not (has_lower and has_upper) and where not in CHECKED_BY_SERVICE:
                unbounded.append(where)
    assert len(seen) > 20
    assert unbounded == []


async def test_a_rule_for_a_huge_datastream_id_is_invalid_input(
    client: httpx.AsyncClient, sensing_writer: dict[str, str]
) -> None:
    body = {"name": "r", "kind": "threshold", "params": {"above": 1}, "datastream_id": HUGE}
    response = await client.post("/api/v1/sensing/rules", json=body, headers=sensing_writer)
    assert_problem(response, 422, "invalid-input")
    assert response.json()["type"] == "/problems/invalid-input"
    assert response.json()["errors"][0]["field"] == "datastream_id"
