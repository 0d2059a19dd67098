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
from smartcity.core.i18n import N_
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
            i18n.gettext("Unknown language %(locale)s; choose zh_CN or en.") % {"locale": locale},
            status=404,
            slug="not-found",
            title="Not found",
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(i18n.LOCALE_COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax")
    return response


# What an error page says, by status: a heading and a detail for when the error itself
# carries no words for people (a framework 404/405, an unexpected 500).
ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: (
        N_("There is a problem with the request"),
        N_("The page could not use what was sent. Go back and try again."),
    ),
    403: (N_("You cannot see this page"), N_("This page is not open to your account.")),
    404: (
        N_("Page not found"),
        N_("There is nothing at this address. The link may be mistyped, or the page has moved."),
    ),
    405: (
        N_("This action is not available here"),
        N_("This address does not take that kind of request. Go back and use the page's buttons."),
    ),
    409: (
        N_("This has changed in the meantime"),
        N_(
            "It was changed first by someone else, or its state no longer allows this. "
            "Reload the page and look again."
        ),
    ),
    413: (
        N_("What you sent is too large"),
        N_("The file or form is larger than the city accepts. Send a smaller one."),
    ),
    422: (
        N_("Some of what was entered cannot be used"),
        N_("Check what you entered and try again."),
    ),
    429: (N_("Too many requests"), N_("Please wait a moment before you try again.")),
    500: (
        N_("Sorry, something went wrong"),
        N_("The error has been logged. Please try again later."),
    ),
    503: (N_("The service is busy"), N_("Please try again in a moment.")),
}


def error_texts(status: int) -> tuple[str, str]:
    """The translated heading and fallback detail of an error page."""
    heading, detail = ERROR_TEXTS.get(status) or ERROR_TEXTS[500 if status >= 500 else 400]
    return i18n.gettext(heading), i18n.gettext(detail)


def install_page_handlers(app: FastAPI) -> None:
    """Errors on pages become pages; the API keeps problem+json (core.errors)."""
    json_problem = app.exception_handlers[Problem]
    json_http = app.exception_handlers[StarletteHTTPException]
    json_validation = app.exception_handlers[RequestValidationError]
    json_unexpected = app.exception_handlers[Exception]

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
                # A Problem's detail is written for people in the request's language.
                status, detail = exc.status, exc.detail
            elif isinstance(exc, StarletteHTTPException):
                # The framework's own details are English status phrases ("Not Found"):
                # the page says it in words of its own instead.
                status, detail = exc.status_code, ""
            elif isinstance(exc, RequestValidationError):
                status, detail = 422, ""
            else:
                # The internals stay in the log (core.errors); the visitor gets an apology.
                # The request's locale was reset when the error left the middleware that set
                # it, so it is read again from the request.
                answer = handler(request, exc)
                if inspect.isawaitable(answer):
                    await answer
                i18n.current_locale.set(
                    i18n.negotiate(
                        request.cookies.get(i18n.LOCALE_COOKIE),
                        request.headers.get("accept-language"),
                        request.app.state.settings.default_locale,
                    )
                )
                status, detail = 500, ""
            if status == 401:
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            heading, fallback = error_texts(status)
            return render(
                request,
                "error.html",
                {"status": status, "heading": heading, "detail": detail or fallback},
                status_code=status,
            )

        return handle

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(Problem, page_or(json_problem))
    app.add_exception_handler(StarletteHTTPException, page_or(json_http))
    app.add_exception_handler(RequestValidationError, page_or(json_validation))
    app.add_exception_handler(Exception, page_or(json_unexpected))
