"""Errors as RFC 9457 problem details, with stable types and a human detail."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error a caller can act on. ``slug`` is stable; ``detail`` is for people."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if slug is not None:
            self.slug = slug
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extensions = extensions

    @property
    def type(self) -> str:
        return f"/problems/{self.slug}"

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Unauthenticated(Problem):
    status, slug, title = 401, "unauthenticated", "Authentication required"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class InvalidInput(Problem):
    status, slug, title = 422, "invalid-input", "Invalid input"


class TooManyRequests(Problem):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Request too large"


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    headers = dict(problem.headers)
    if problem.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="smartcity"')
    return Response(
        orjson.dumps(problem.body(instance)),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        errors.append({"field": ".".join(loc) or None, "message": error.get("msg", "")})
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app raises leaves as problem+json; pages get their own handler in web."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = HTTPStatus(exc.status_code)
        slugs = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated"}
        detail = exc.detail if isinstance(exc.detail, str) else status.phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is nothing at {request.url.path}."
        problem = Problem(
            detail,
            status=exc.status_code,
            slug=slugs.get(exc.status_code, status.phrase.lower().replace(" ", "-")),
            title=status.phrase,
            headers=dict(exc.headers or {}),
        )
        return problem_response(problem, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc)
        summary = "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors[:5])
        # The first refused field on top too, as a service's own InvalidInput names it.
        first = next((e["field"] for e in errors if e["field"]), None)
        extra = {"field": first} if first else {}
        problem = InvalidInput(f"The request is not valid: {summary}", errors=errors, **extra)
        return problem_response(problem, request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # The detail stays generic: internals (SQL, paths) are for the log, not the caller.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(
            "Something went wrong on our side; it has been logged.",
            status=500,
            slug="internal-error",
            title="Internal error",
        )
        return problem_response(problem, request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
