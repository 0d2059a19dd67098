"""create_app(settings) -> FastAPI: mounts every module's router and pages."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import smartcity
from smartcity.core import heap, i18n, routeindex
from smartcity.core.db import Database, make_engine
from smartcity.core.errors import PayloadTooLarge, install_problem_handlers, problem_response
from smartcity.core.limits import JsonDepthLimit, bound_integer_parameters
from smartcity.core.module import Module, install
from smartcity.core.openapi import install_problem_openapi
from smartcity.core.ratelimit import RateLimiter
from smartcity.core.runtime import Runtime
from smartcity.core.security import public
from smartcity.settings import Settings, configure, get_settings
from smartcity.web import pages as web_pages
from smartcity.web.render import CSRF_COOKIE, WEB_DIR, make_environment

log = logging.getLogger(__name__)


def modules() -> list[Module]:
    """Every module of the platform, in menu order. Adding a module is adding one line."""
    from smartcity.cases import MODULE as cases
    from smartcity.core.manifest import MODULE as core
    from smartcity.demo import MODULE as demo
    from smartcity.environment import MODULE as environment
    from smartcity.exchange import MODULE as exchange
    from smartcity.hotline import MODULE as hotline
    from smartcity.hotline.knowledge import MODULE as knowledge
    from smartcity.participation import MODULE as participation
    from smartcity.portal import MODULE as portal
    from smartcity.registry import MODULE as registry
    from smartcity.sensing import MODULE as sensing
    from smartcity.services import MODULE as services
    from smartcity.traffic import MODULE as traffic

    return [
        core,
        portal,
        registry,
        exchange,
        cases,
        services,
        hotline,
        participation,
        knowledge,
        sensing,
        environment,
        traffic,
        demo,
    ]


class RequestSizeLimit:
    """Refuses bodies over the limit before they are read into memory (413 problem)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(
            f"The request body is larger than {self.max_bytes} bytes.", max_bytes=self.max_bytes
        )
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await problem_response(too_large, scope["path"])(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        await self.app(scope, limited, send)


# Pages load scripts and styles only from this server (plotly's data sits in JSON blocks,
# which are not executed). Style attributes stay allowed: bar widths and AQI colours are
# data, and a style attribute cannot run script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def served_over_https(scope: Scope, settings: Settings) -> bool:
    if scope.get("scheme") == "https":
        return True
    if not settings.trust_proxy_headers:
        return False
    for name, value in scope["headers"]:
        if name == b"x-forwarded-proto":
            return bool(value.split(b",")[0].strip().lower() == b"https")
    return False


def _secure_cookie(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """Over HTTPS every cookie is Secure, whatever SMARTCITY_SECURE_COOKIES says."""
    if name.lower() == b"set-cookie" and b"; secure" not in value.lower():
        return name, value + b"; Secure"
    return name, value


class PerRequest:
    """Language, the CSRF cookie a page minted, and security headers. Plain ASGI: Starlette's
    BaseHTTPMiddleware costs a task and a stream per request."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        https = served_over_https(scope, self.settings)
        locale = i18n.negotiate(
            request.cookies.get(i18n.LOCALE_COOKIE),
            request.headers.get("accept-language"),
            self.settings.default_locale,
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                if https:
                    headers.setdefault(
                        "Strict-Transport-Security",
                        f"max-age={self.settings.hsts_max_age_seconds}; includeSubDomains",
                    )
                minted = scope.get("state", {}).get("minted_presession")
                if minted:
                    cookie = Response()
                    cookie.set_cookie(
                        CSRF_COOKIE,
                        minted,
                        httponly=True,
                        samesite="strict",
                        secure=self.settings.secure_cookies or https,
                    )
                    headers.append("set-cookie", cookie.headers["set-cookie"])
                if https:
                    message["headers"] = [_secure_cookie(k, v) for k, v in message["headers"]]
            await send(message)

        token = i18n.current_locale.set(locale)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            i18n.current_locale.reset(token)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    settle_heap: bool = False,
) -> FastAPI:
    """The platform's app. ``settle_heap``: the serving process freezes what startup made
    out of the garbage collector's reach once started (core/heap.py); not for tests, which
    build many apps in one process."""
    settings = configure(settings or get_settings())
    mods = modules()
    db = database or Database(make_engine(settings.effective_database_url, echo=settings.log_sql))
    runtime = Runtime(settings, db, mods)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if settle_heap:
            heap.settle()
        try:
            yield
        finally:
            await runtime.stop()
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="智慧深圳 Smart Shenzhen city platform",
        version=smartcity.__version__,
        description="REST API of the city platform. Errors are application/problem+json.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.runtime = runtime
    app.state.rate_limiter = RateLimiter(settings.public_rate_per_minute)
    app.state.nav = [item for m in mods for item in m.nav]
    app.state.templates = make_environment(_template_dirs(mods))

    install_problem_handlers(app)
    web_pages.install_page_handlers(app)

    install(mods)
    for module in mods:
        if module.router is not None:
            _mount(app, module.router)
        if module.pages is not None:
            _mount(app, module.pages)
    _mount(app, web_pages.router)

    # Swagger UI's files come from an installed package: no CDN, the city may be offline.
    offline = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static/apidocs", StaticFiles(directory=offline), name="apidocs")
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(public)])
    async def api_docs() -> HTMLResponse:
        return _with_inline_script_hashes(
            get_swagger_ui_html(
                openapi_url="/openapi.json",
                title="智慧深圳 API",
                oauth2_redirect_url="/docs/oauth2-redirect",
                swagger_js_url="/static/apidocs/swagger-ui-bundle.js",
                swagger_css_url="/static/apidocs/swagger-ui.css",
                swagger_favicon_url="/static/apidocs/favicon.png",
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False, dependencies=[Depends(public)])
    async def api_docs_redirect() -> HTMLResponse:
        return _with_inline_script_hashes(get_swagger_ui_oauth2_redirect_html())

    # Once every route is in: integers bounded to what the columns hold, for all of them.
    bound_integer_parameters(app)
    install_problem_openapi(app)
    # A request tries only the routes its first path segment can match (core/routeindex.py).
    routeindex.install(app)
    app.add_middleware(JsonDepthLimit, max_depth=settings.max_json_depth)
    app.add_middleware(PerRequest, settings=settings)
    app.add_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes)
    return app


_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def _with_inline_script_hashes(page: HTMLResponse) -> HTMLResponse:
    """Swagger UI's pages come with inline script from FastAPI; allow exactly those scripts by
    hash rather than weakening the policy of every page."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(page.body)
    )
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", f"script-src 'self' {hashes}"
    ).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    return page


def _mount(app: FastAPI, router: APIRouter) -> None:
    """Serve a module's routes as they are. ``include_router`` would wrap the router anew for
    each app, and FastAPI then rebuilds every route of it on the app's first request (about
    1 ms a route, a quarter of a second an app: most of the test suite's time). A module's
    router carries its prefix in its routes and nothing that inclusion would add, and the
    routers nested in it are wrapped once, when the module is imported, and kept."""
    app.router.routes.extend(router.routes)


def _template_dirs(mods: list[Module]) -> list[Path]:
    import importlib

    dirs = []
    for module in mods:
        # a module outside the smartcity package (a test's own) names its package in extra
        package = importlib.import_module(module.extra.get("package", f"smartcity.{module.name}"))
        path = Path(package.__file__ or "").parent / "templates"
        if path.is_dir():
            dirs.append(path)
    return dirs
