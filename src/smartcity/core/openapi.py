"""The OpenAPI document describes the errors the app really sends: RFC 9457 problem details
as application/problem+json (core/errors.py), not FastAPI's default HTTPValidationError.

FastAPI documents a 422 of its own shape for every operation with parameters and knows
nothing of the problems raised by dependencies and services. After the document is
generated, every 4xx and 5xx response is given the Problem schema, and the errors that
the platform's own layers can send are added where those layers apply to the route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from smartcity.core.errors import PROBLEM_JSON

PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `type` is stable, `detail` is for people.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "Stable problem type, e.g. /problems/not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The path the request was sent to"},
        "errors": {
            "type": "array",
            "description": "For invalid input: one entry per refused field",
            "items": {"$ref": "#/components/schemas/ProblemFieldError"},
        },
    },
    "required": ["type", "title", "status", "detail"],
    # Problems carry extensions (max_bytes, max_depth, ...), as RFC 9457 allows.
    "additionalProperties": True,
}

FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ProblemFieldError",
    "type": "object",
    "properties": {
        "field": {"type": ["string", "null"], "description": "Dotted path of the field"},
        "line": {"type": "integer", "description": "For uploaded files: the line refused"},
        "entry": {"type": "integer", "description": "For lists: the entry refused"},
        "message": {"type": "string"},
    },
    "required": ["message"],
}

CKAN_ERROR_SCHEMA: dict[str, Any] = {
    "title": "CkanError",
    "description": "CKAN's Action API error envelope",
    "type": "object",
    "properties": {
        "help": {"type": "string"},
        "success": {"const": False},
        "error": {
            "type": "object",
            "properties": {"__type": {"type": "string"}, "message": {"type": "string"}},
            "required": ["__type"],
        },
    },
    "required": ["success", "error"],
}

_DESCRIPTIONS = {
    "400": "Bad request (e.g. /problems/json-too-deep)",
    "401": "Authentication required (/problems/unauthenticated)",
    "403": "Not allowed (/problems/forbidden)",
    "404": "Not found (/problems/not-found)",
    "413": "Request too large (/problems/payload-too-large)",
    "422": "Invalid input (/problems/invalid-input), with one entry per field in `errors`",
    "429": "Too many requests (/problems/too-many-requests); see Retry-After",
}
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


@dataclass(frozen=True)
class _Guards:
    """What the route's dependencies can refuse, read from the markers core/security sets."""

    requires_principal: bool
    reads_principal: bool
    rate_limited: bool


def _guards(dependant: Dependant) -> _Guards:
    from smartcity.core.ratelimit import limit_public
    from smartcity.core.security import optional_principal

    calls: list[Callable[..., Any]] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is not None:
            calls.append(current.call)
        stack.extend(current.dependencies)
    requires = any(getattr(c, "__smartcity_kinds__", None) is not None for c in calls)
    return _Guards(
        requires_principal=requires,
        reads_principal=requires or optional_principal in calls,
        rate_limited=limit_public in calls,
    )


def _route_guards(app: FastAPI) -> dict[tuple[str, str], _Guards]:
    found: dict[tuple[str, str], _Guards] = {}
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        guards = _guards(context.dependant)
        for method in context.methods or ():
            found[(context.path_format or "", method.lower())] = guards
    return found


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }


def _common_errors(operation: dict[str, Any], path: str, guards: _Guards | None) -> list[str]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    # Any service may raise a plain Problem (400) or NotFound for a record the path, the
    # query or the body names.
    codes = ["400"]
    if has_body or parameters:
        codes += ["404", "422"]
    if has_body:
        codes.append("413")
    if guards is not None:
        if guards.reads_principal:
            codes.append("401")
        if guards.requires_principal:
            codes.append("403")
        if guards.rate_limited:
            codes.append("429")
    return codes


def describe_problems(document: dict[str, Any], guards: dict[tuple[str, str], _Guards]) -> None:
    """Rewrite ``document`` in place: every error response is a Problem."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ProblemFieldError"] = FIELD_ERROR_SCHEMA
    schemas["CkanError"] = CKAN_ERROR_SCHEMA
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            if operation.get("x-error-format") == "ckan":
                _describe_ckan_errors(operation, guards.get((path, method)))
                continue
            for code in _common_errors(operation, path, guards.get((path, method))):
                responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code[:1] in ("4", "5"):
                    description = response.get("description") or _DESCRIPTIONS.get(code, "Error")
                    if code == "422":
                        description = _DESCRIPTIONS["422"]
                    responses[code] = _problem_response(description)
            operation["responses"] = dict(sorted(responses.items()))


def _describe_ckan_errors(operation: dict[str, Any], guards: _Guards | None) -> None:
    """CKAN's Action API answers its errors in its own envelope, as CKAN clients expect;
    only the rate limiter in front of it speaks problem details."""
    responses = {k: v for k, v in operation["responses"].items() if k[:1] not in ("4", "5")}
    responses["4XX"] = {
        "description": "CKAN error (Validation Error, Not Found Error, Authorization Error)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CkanError"}}},
    }
    if guards is not None and guards.rate_limited:
        responses["429"] = _problem_response(_DESCRIPTIONS["429"])
    operation["responses"] = responses


def install_problem_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with its errors described as problems."""
    generate = app.openapi
    described: list[dict[str, Any]] = []  # the last one, held so its identity stays its own

    def openapi() -> dict[str, Any]:
        document = generate()
        # FastAPI caches the document and rebuilds it when the routes change: describe each
        # document it builds once.
        if not described or described[0] is not document:
            describe_problems(document, _route_guards(app))
            described[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
