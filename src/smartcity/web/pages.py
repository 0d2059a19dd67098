"""Pages of the shell itself: the portal home, the language switch, and error pages."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from smartcity.core import i18n
from smartcity.core.authz import Principal
from smartcity.core.errors import Problem
from smartcity.core.security import public, require_principal, resolve_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.web import vendor
from smartcity.web.home import home_page
from smartcity.web.render import render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

# Paths that speak JSON to machines; everything else is a page for people.
API_PREFIXES = ("/api/", "/sta/", "/open311/", "/openapi.json", "/fhir/")


def is_page_request(request: Request) -> bool:
    path = request.url.path
    if path.startswith(API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def safe_next(target: str | None) -> str:
    """Only same-site paths, so ?next= cannot send someone to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def require_page(*kinds: str) -> Callable[..., Awaitable[Principal]]:
    """Like require_principal, for pages: anonymous visitors are sent to the sign-in page."""
    api_dependency = require_principal(*kinds, csrf=False)  # forms carry the token instead
    allowed: frozenset[str] = api_dependency.__smartcity_kinds__  # type: ignore[attr-defined]

    async def dependency(request: Request, session: DbSession) -> Principal:
        principal = await resolve_principal(request, session)
        if principal is None:
            raise LoginRequired(request.url.path)
        return await api_dependency(request, session)

    dependency.__smartcity_kinds__ = allowed  # type: ignore[attr-defined]
    return dependency


async def page_principal(request: Request, session: DbSession) -> Principal | None:
    return await resolve_principal(request, session)


@router.get("/", dependencies=[Depends(public)])
async def home(
    request: Request, session: DbSession, principal: Principal | None = Depends(page_principal)
) -> Response:
    """The front door (门户首页): the panels the modules declare for this visitor (web.home)."""
    return await home_page(request, session, principal)


@router.get("/static/vendor/plotly.css", dependencies=[Depends(public)])
async def plotly_css() -> Response:
    """The style rules plotly.js would otherwise insert as inline <style> elements, which
    the Content-Security-Policy refuses (web/vendor.py); cached by browsers for a day."""
    return Response(
        vendor.plotly_css(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/lang/{locale}", dependencies=[Depends(public)])
async def switch_language(request: Request, locale: str, next: str | None = None) -> Response:
    if locale not in i18n.LOCALES:
        raise Problem(
            f"Unknown language {locale!r}; choose zh_CN or en.",
            status=404,
            slug="not-found",
            title="Not found",
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(i18n.LOCALE_COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax")
    return response


def install_page_handlers(app: FastAPI) -> None:
    """Errors on pages become pages; the API keeps problem+json (core.errors)."""
    json_problem = app.exception_handlers[Problem]
    json_http = app.exception_handlers[StarletteHTTPException]
    json_validation = app.exception_handlers[RequestValidationError]

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    def page_or(
        handler: Callable[[Request, Any], Response | Awaitable[Response]],
    ) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handle(request: Request, exc: Exception) -> Response:
            if not is_page_request(request):
                answer = handler(request, exc)
                return await answer if inspect.isawaitable(answer) else answer
            if isinstance(exc, Problem):
                status, title, detail = exc.status, exc.title, exc.detail
            elif isinstance(exc, StarletteHTTPException):
                status, title, detail = exc.status_code, "", str(exc.detail)
            else:
                status, title, detail = 422, "", ""
            if status == 401:
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            return render(
                request,
                "error.html",
                {"status": status, "title": title, "detail": detail},
                status_code=status,
            )

        return handle

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(Problem, page_or(json_problem))
    app.add_exception_handler(StarletteHTTPException, page_or(json_http))
    app.add_exception_handler(RequestValidationError, page_or(json_validation))
