"""Rendering pages: one Jinja environment over the shell's and every module's templates."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from markupsafe import Markup, escape
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse

from smartcity.core import clock, i18n, notifications, people
from smartcity.core.authz import Principal
from smartcity.core.errors import Problem
from smartcity.core.security import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    csrf_token_for,
    request_csrf_token,
    same_origin,
)
from smartcity.web import vendor

CSRF_COOKIE = PRESESSION_COOKIE
CSRF_FIELD = "csrf_token"
WEB_DIR = Path(__file__).resolve().parent


def make_environment(template_dirs: list[Path]) -> jinja2.Environment:
    """The pages' Jinja environment for these modules' template folders: one per set of
    folders in a process, so apps built alike (the test suite builds hundreds) share its
    compiled templates instead of compiling each anew."""
    return _environment(tuple(str(d) for d in template_dirs))


@functools.lru_cache(maxsize=8)
def _environment(template_dirs: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(WEB_DIR / "templates"), *template_dirs]),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Callables read the request's locale from a context variable, so one environment serves
    # both languages concurrently.
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["plotly_style_links"] = vendor.plotly_style_links
    env.filters["name"] = data_name
    # Who did something, where a page has only the login: the platform and the console in
    # words (people.actor_name); a page that can, passes display names instead.
    env.filters["actor"] = lambda actor, names=None: data_name(
        people.actor_name(str(actor or ""), names)
    )
    # Brackets and list separators as each language writes them: （可选） / (optional).
    env.filters["paren"] = lambda text: (
        Markup("（%s）") % text
        if i18n.current_locale.get().startswith("zh")
        else Markup("(%s)") % text
    )
    env.globals["list_sep"] = i18n.list_separator
    # Inside <option> and attributes, where no element can mark it: the name as text.
    env.filters["name_text"] = lambda value: (
        value
        if isinstance(value, str)
        else i18n.pick(str(getattr(value, "name", value)), getattr(value, "name_en", None))
    )
    env.globals["data_name"] = data_name
    env.globals["message_text"] = message_text
    env.filters["day"] = lambda d: i18n.format_day(d) if d else ""
    env.filters["city_time"] = lambda dt: i18n.format_datetime(dt) if dt else ""
    env.filters["clock_time"] = lambda dt: i18n.format_time(dt) if dt else ""
    # A date or the city's day of an instant, as the locale writes it.
    env.filters["city_day"] = lambda d: (
        i18n.format_day(clock.to_city(d).date() if isinstance(d, datetime) else d) if d else ""
    )
    # Every filter above answers in the request's language. Jinja folds a filter over a
    # literal (``"汉族" | name``) when it compiles the template, in the language of whichever
    # request compiled it first, unless the filter takes the render context: so each does.
    for filter_name in (
        "name",
        "actor",
        "paren",
        "name_text",
        "day",
        "city_time",
        "clock_time",
        "city_day",
    ):
        env.filters[filter_name] = _per_render(env.filters[filter_name])
    return env


def _per_render(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a filter Jinja never folds at compile time (see _environment)."""

    @jinja2.pass_context
    def per_render(_context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return per_render


def data_name(value: Any, en: str | None = None) -> str | Markup:
    """A name that is data (a department, a service item, a district, a person) in the
    page's language: the Chinese on a Chinese page; on an English page the English name where
    the data has one (``name_en``, or ``en``), else the Chinese marked ``lang="zh-CN"`` with
    a subtle marker, so the fallback is visible rather than silent."""
    if value is None or value == "":
        return ""
    text: str = value if isinstance(value, str) else str(getattr(value, "name", value))
    if not isinstance(value, str):
        en = en or getattr(value, "name_en", None)
    if i18n.current_locale.get().startswith("zh"):
        return text
    if en:
        return str(en)
    if not i18n.has_chinese(text):
        return text
    return Markup('<span lang="zh-CN" class="zh-name" title="{}">{}</span>').format(
        i18n.gettext("No English name yet"), text
    )


def message_text(note: Any, part: str) -> str | Markup:
    """A message's title or body (站内消息) in the reader's language, as HTML: the values
    left in Chinese on an English page (a case title, a reason typed in Chinese) marked."""
    if not (note.texts or {}).get(part):
        return data_name(note.title if part == "title" else note.body)
    return Markup(  # noqa: S704 - every piece escaped by message_part
        notifications.message_part(
            note,
            part,
            escape=lambda text: str(escape(text)),
            mark=lambda value: str(escape(data_name(value))),
        )
    )


def csrf_token(request: Request) -> str:
    """This browser's form token, bound to its session (or, before sign-in, to a pre-session
    cookie minted here and set by app.PerRequest)."""
    token: str | None = getattr(request.state, "csrf_token", None)
    if token is None:
        settings = request.app.state.settings
        session_token = request.cookies.get(SESSION_COOKIE)
        presession = request.cookies.get(CSRF_COOKIE)
        if not session_token and not presession:
            presession = secrets.token_urlsafe(24)
            request.state.minted_presession = presession
        token = csrf_token_for(settings, session_token=session_token, presession=presession)
        request.state.csrf_token = token
    return token


class CsrfFailed(Problem):
    status, slug, title = 400, "csrf-failed", "Form expired"


def check_csrf(request: Request, form: FormData) -> None:
    """The form's hidden token must be the HMAC of this browser's session, and the browser
    must not say the form was posted from another site."""
    sent = form.get(CSRF_FIELD)
    expected = request_csrf_token(request)
    if (
        not same_origin(request)
        or not expected
        or not isinstance(sent, str)
        or not secrets.compare_digest(expected, sent)
    ):
        raise CsrfFailed(i18n.gettext("This form has expired. Reload the page and try again."))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    principal: Principal | None = None,
) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.templates
    if principal is None:
        principal = getattr(request.state, "principal", None)
    locale = i18n.current_locale.get()
    nav = [
        item
        for item in request.app.state.nav
        if not item.kinds or (principal is not None and principal.grants & item.kinds)
    ]
    ctx: dict[str, Any] = {
        "request": request,
        "principal": principal,
        "nav": nav,
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh_CN" else "en",
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
        "city_name": i18n.pick(
            request.app.state.settings.city_name, request.app.state.settings.city_name_en
        ),
        "path": request.url.path,
        "errors": {},
        "values": {},
    }
    ctx.update(context or {})
    html = env.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status_code)
