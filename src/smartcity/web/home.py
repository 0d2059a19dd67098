"""The portal's front door (门户首页): panels the modules declare, shown by who is asking.

web/ sits below the domains and imports none of them: a module that has something for the
home page declares a ``HomePanel`` in its ``MODULE.extends`` (the service search, popular
services and one's matters from services; unread messages from the portal; the air now from
environment; the desk's counts from cases), and the portal's ``HOME_PANELS`` extension point
hands them here. Each panel says for which principal kinds it is shown (``ANONYMOUS`` for a
visitor not signed in) and renders its own fragment, or None to stay out.

The page a visitor who is not signed in gets is the same for everyone: it goes through the
public page cache under the panels' own tags, so a changed service item or a new air report
(each module invalidates its tag) renders it anew. A signed-in person's page is theirs and
rendered per request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from smartcity.core import i18n
from smartcity.core.authz import Principal
from smartcity.core.models import Account
from smartcity.core.module import ExtensionPoint, ModuleError
from smartcity.web.cache import cached_page
from smartcity.web.render import CSRF_FIELD, csrf_token, render

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
"""The kind a HomePanel names for visitors who are not signed in."""

CITIZENS = frozenset({"citizen", "enterprise"})
DESK = frozenset({"staff", "supervisor", "admin"})
SIGNED_IN = CITIZENS | DESK

PanelRender = Callable[[Request, AsyncSession, Principal | None], Awaitable[Markup | None]]


@dataclass(frozen=True)
class HomePanel:
    """A panel of the home page: shown to the principal kinds in ``kinds`` (``ANONYMOUS`` for
    visitors not signed in), in ``order``; ``render`` answers its markup or None. ``wide``
    panels span the page (the search box). ``page_tags`` are the public page cache tags whose
    invalidation must drop the anonymous home page (what the panel shows changed)."""

    name: str
    order: int
    render: PanelRender
    kinds: frozenset[str]
    wide: bool = False
    page_tags: tuple[str, ...] = ()


_PANELS: list[HomePanel] = []


def install_home_panels(declared: Sequence[HomePanel]) -> None:
    """The home page's extension point (see core.module.install)."""
    names = [p.name for p in declared]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ModuleError(f"two home panels are named {duplicate!r}")
    _PANELS[:] = sorted(declared, key=lambda p: (p.order, p.name))


HOME_PANELS = ExtensionPoint(accepts=HomePanel, install=install_home_panels)
"""Declared by the portal's MODULE (web/ is no module); every module may add panels."""


def panels_for(principal: Principal | None) -> list[HomePanel]:
    kind = principal.kind if principal is not None else ANONYMOUS
    return [p for p in _PANELS if kind in p.kinds]


def fragment(request: Request, template: str, context: dict[str, Any] | None = None) -> Markup:
    """A panel's markup from a module template, with what every page's templates may read."""
    env = request.app.state.templates
    locale = i18n.current_locale.get()
    ctx: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "city_name": request.app.state.settings.city_name,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
        **(context or {}),
    }
    return Markup(env.get_template(template).render(ctx))  # noqa: S704 - the autoescaping env


@dataclass(frozen=True)
class Shown:
    panel: HomePanel
    markup: Markup


async def _build(request: Request, session: AsyncSession, principal: Principal | None) -> Response:
    shown = []
    # One after another: the panels share the request's session, which runs one query at a
    # time. Each in a savepoint of its own, so a panel that fails (logged) leaves the front
    # door standing with the others, and its failed statement does not spoil theirs.
    for panel in panels_for(principal):
        try:
            async with session.begin_nested():
                markup = await panel.render(request, session, principal)
        except Exception:
            log.exception("home panel %s failed", panel.name)
            continue
        if markup is not None:
            shown.append(Shown(panel, markup))
    return render(
        request,
        "home.html",
        {
            "panels": shown,
            "is_desk": principal is not None and principal.kind in DESK,
            "greeting_name": await _display_name(session, principal),
        },
        principal=principal,
    )


async def _display_name(session: AsyncSession, principal: Principal | None) -> str:
    """How the page greets a person: the name on their account (姓名), not their username."""
    if principal is None or principal.id is None:
        return ""
    account = await session.get(Account, principal.id)
    return account.display_name if account is not None and account.display_name else ""


HOME_PAGES = "web.home"
"""The anonymous home page's own tag, beside those of its panels."""


async def home_page(
    request: Request, session: AsyncSession, principal: Principal | None
) -> Response:
    if principal is not None:
        return await _build(request, session, principal)
    tags = (HOME_PAGES, *sorted({t for p in panels_for(None) for t in p.page_tags}))
    # The page after signing out says so: a page of its own, or every visitor would be told.
    key = ("home", bool(request.query_params.get("signed_out")))
    return await cached_page(
        request, tags, key, lambda: _build(request, session, None), signed_in=False
    )
