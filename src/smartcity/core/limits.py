"""Input bounds enforced once, at the edge, for every route: integers that fit the columns
they reach, and JSON that nests no deeper than the code that walks it can follow.

Without these a path id of 2**64 reaches the database driver (asyncpg and sqlite3 both raise
on it, as an error the app cannot map to a 4xx), and JSON nested a few hundred levels deep
makes the recursive code that serialises or copies it raise RecursionError. Both were 500s."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from itertools import accumulate
from typing import Annotated, Any

import annotated_types
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartcity.core.errors import Problem, problem_response

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Integers in request bodies that reach a BIGINT column; ids start at 1 on both databases.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
RowId = Annotated[int, Field(ge=1, le=INT64_MAX)]

# Names that say what a parameter counts: an id is at least 1, a position or a size at least 0.
_COUNT_NAMES = frozenset(
    {"offset", "skip", "after", "before", "limit", "top", "page", "page_size", "per_page"}
)


def _has_lower(metadata: list[Any]) -> bool:
    return any(
        getattr(m, "ge", None) is not None or getattr(m, "gt", None) is not None for m in metadata
    )


def _has_upper(metadata: list[Any]) -> bool:
    return any(
        getattr(m, "le", None) is not None or getattr(m, "lt", None) is not None for m in metadata
    )


def lowest_allowed(name: str) -> int:
    """The smallest value a parameter of this name can sensibly take."""
    name = name.lower().lstrip("$@").replace("-", "_")
    if name == "id" or name.endswith(("_id", ".id")):
        return 1
    if name in _COUNT_NAMES or name.endswith(("_count", "_days", "_hours", "_minutes")):
        return 0
    return INT64_MIN


def _is_integer(annotation: Any) -> bool:
    """``int`` or ``int | None``: the scalar shapes a bound can be added to."""
    if annotation is int:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args == [int]
    return False


def _dependants(root: Dependant) -> Iterator[Dependant]:
    stack = [root]
    while stack:
        dependant = stack.pop()
        yield dependant
        stack.extend(dependant.dependencies)


def route_dependants(app: FastAPI) -> Iterator[Dependant]:
    """The dependant of every API route as requests and the OpenAPI document see it: routes
    of included routers are effective copies (with their own dependants), not the originals."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            dependant = context.dependant
            assert isinstance(dependant, Dependant)
            yield dependant


def bound_integer_parameters(app: FastAPI) -> int:
    """Give every integer path, query, header and cookie parameter of every route the bounds
    it lacks: at most INT64_MAX, and at least what its name allows (see ``lowest_allowed``).
    Explicit bounds win. Returns how many parameters were changed (idempotent)."""
    changed = 0
    for root in route_dependants(app):
        for dependant in _dependants(root):
            fields = (
                dependant.path_params
                + dependant.query_params
                + dependant.header_params
                + dependant.cookie_params
            )
            for field in fields:
                info = field.field_info
                if not _is_integer(info.annotation):
                    continue
                added: list[Any] = []
                if not _has_lower(info.metadata):
                    added.append(annotated_types.Ge(lowest_allowed(field.alias)))
                if not _has_upper(info.metadata):
                    added.append(annotated_types.Le(INT64_MAX))
                if added:
                    info.metadata.extend(added)
                    # The field's validator was built from the old metadata: build it again.
                    field.__post_init__()
                    changed += 1
    return changed


# ---------------------------------------------------------------- JSON nesting depth

_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_STEP = tuple(1 if b == ord("[") else -1 if b == ord("]") else 0 for b in range(256))
_PAIR_ROUNDS = 8
_SCANNED_TYPES = ("json", "multipart/mixed", "text/plain")


class JsonTooDeep(Problem):
    status, slug, title = 400, "json-too-deep", "JSON nested too deep"


def _outside_strings(body: bytes) -> bytes:
    """``body`` without its JSON strings. Escapes go first (an escaped backslash, then an
    escaped quote, as a JSON reader pairs them from the left); then every other piece
    between quotes is a string. A string that never closes runs to the end."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.split(b'"')[::2])


def json_depth(body: bytes, limit: int) -> int:
    """How deep arrays and objects nest in ``body`` (0 for a scalar), brackets inside
    strings aside; once past ``limit`` the answer is only "more than ``limit``".

    Linear, and almost all in C: a few rounds delete every innermost pair (the leaves of
    real documents), which shrinks the brackets to a fraction and takes one level per
    round; a run of ``limit`` openers in what is left settles a deep chain at once; the
    rest is counted by a running sum. Unbalanced brackets (invalid JSON) are counted as
    they come."""
    brackets = _outside_strings(body).translate(_AS_SQUARE, _NOT_BRACKET)
    depth = 0
    for _ in range(_PAIR_ROUNDS):
        rest = brackets.replace(b"[]", b"")
        if rest == brackets:
            break
        brackets, depth = rest, depth + 1
    if b"[" not in brackets:
        return depth
    if b"[" * (limit + 1 - depth) in brackets:
        return limit + 1
    return depth + max(0, max(accumulate(map(_STEP.__getitem__, brackets))))


def check_json_depth(body: bytes, max_depth: int) -> None:
    """Raise JsonTooDeep when ``body`` nests deeper than ``max_depth``."""
    if json_depth(body, max_depth) > max_depth:
        raise JsonTooDeep(
            f"The JSON body nests more than {max_depth} levels deep; at most {max_depth} "
            "are accepted.",
            max_depth=max_depth,
        )


def _is_scanned(scope: Scope) -> bool:
    if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type = value.decode("latin-1").split(";", 1)[0].strip().lower()
            return any(kind in media_type for kind in _SCANNED_TYPES)
    return True  # no content type: JSON is what the API reads such a body as


class JsonDepthLimit:
    """Refuses JSON bodies nested deeper than ``max_depth`` with a 400 problem, before any
    parser sees them. Sits inside RequestSizeLimit, so the body it holds is bounded."""

    def __init__(self, app: ASGIApp, max_depth: int) -> None:
        self.app, self.max_depth = app, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_scanned(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
            check_json_depth(body, self.max_depth)
        except Problem as problem:  # also RequestSizeLimit's 413, raised from receive
            await problem_response(problem, scope["path"])(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: disconnects pass through
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
