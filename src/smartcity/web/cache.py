"""Public pages computed once, not per request (公开页面缓存).

A crowd reading /air or the service catalogue sees the same page: what it shows changes
every few minutes (an hourly air report, a service item edited), not per request. So the
page a visitor who is not signed in gets is rendered once per (page, parameters, language)
and served from memory until one of two things happens:

- an event that changes it, in this process: the module that owns the page calls
  ``invalidate(tag)`` from its handler or job (e.g. the air report job, a service item
  edited), and the next request renders anew;
- ``max_age`` passes. That bounds staleness where the event was handled by another process
  (several server processes share one bus; each event reaches one of them) and for what
  changes with time alone (a station going stale after an hour without a report). The next
  request renders the page anew; visitors who come while it does get the aged page (so a
  page is at most ``max_age`` plus one rendering old), where after an event they wait for
  the new one.

Each visitor still gets their own form token: the page is rendered with a placeholder that is
replaced by this browser's token when served, so a cached page never carries another
visitor's CSRF token, and the pre-session cookie is minted as on any page. Signed-in people
always get a freshly rendered page (their name, menu and matters are on it).

Concurrent misses of one page wait for one rendering (no stampede when the cache empties
under load), and the number of pages kept is bounded (least recently used goes first), so
hand-made query strings cannot grow memory.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

from smartcity.core import i18n

# Rendered into a cached page where the visitor's form token goes; url-safe like a real token
# and random per process, so no page text can contain it by accident.
TOKEN_PLACEHOLDER = "csrf-" + secrets.token_urlsafe(24)

DEFAULT_MAX_AGE = 60.0
DEFAULT_MAX_ENTRIES = 512


# Per tag, how many times its pages were invalidated in this process. Shared by every app of
# the process (the handlers and jobs that invalidate know no app); the pages are per app.
_generations: dict[str, int] = {}


def invalidate(tag: str) -> None:
    """Pages under ``tag`` render anew on their next request (also those being rendered now:
    what they were computed from may predate the change)."""
    _generations[tag] = _generations.get(tag, 0) + 1


def generation(tag: str | Sequence[str]) -> int:
    """How many times ``tag`` was invalidated in this process: what is computed from the same
    rows as its pages (an in-memory index) is current while this has not moved. Of several
    tags, their sum: it moves when any of them is invalidated (a page built from several
    modules' rows, the home page)."""
    tags = (tag,) if isinstance(tag, str) else tag
    return sum(_generations.get(t, 0) for t in tags)


@dataclass(frozen=True)
class _Entry:
    body: bytes
    stored: float
    generation: int


class PageCache:
    """Rendered pages for visitors who are not signed in, per key, tagged for invalidation."""

    def __init__(
        self,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[tuple[Hashable, Hashable, str], _Entry] = OrderedDict()
        self._building: dict[tuple[Hashable, Hashable, str], asyncio.Future[bytes | None]] = {}
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    async def page(
        self,
        request: Request,
        tag: str | Sequence[str],
        key: Hashable,
        build: Callable[[], Awaitable[Response]],
        *,
        signed_in: bool,
    ) -> Response:
        """The page ``build`` renders, from memory when this visitor is not signed in and it
        was rendered since the last change (of any of its tags). Only a 200 HTML page is
        kept: an error or a redirect is built every time."""
        # Imported here: render imports nothing of this module, and the token helper lives
        # with the other form-token code there.
        from smartcity.web.render import csrf_token

        if signed_in:
            return await build()
        tags = tag if isinstance(tag, str) else tuple(tag)
        slot = (tags, key, i18n.current_locale.get())
        current = generation(tags)
        entry = self._entries.get(slot)
        if (
            entry is not None
            and entry.generation == current
            and self._monotonic() - entry.stored < self.max_age
        ):
            self._entries.move_to_end(slot)
            self.hits += 1
            return self._serve(entry.body, csrf_token(request))
        pending = self._building.get(slot)
        if pending is not None and entry is not None and entry.generation == current:
            # Only aged, not changed: while one visitor's request renders it anew, the others
            # get the page as it was (at most max_age plus one rendering old) instead of
            # all waiting on that rendering (/air's takes over 100 ms, once a minute).
            self._entries.move_to_end(slot)
            self.hits += 1
            return self._serve(entry.body, csrf_token(request))
        if pending is not None:
            body = await asyncio.shield(pending)
            if body is not None:
                self.hits += 1
                return self._serve(body, csrf_token(request))
            return await build()
        self.misses += 1
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._building[slot] = future
        body = None
        try:
            request.state.csrf_token = TOKEN_PLACEHOLDER
            response = await build()
            if response.status_code == 200 and isinstance(response, HTMLResponse):
                body = bytes(response.body)
                if generation(tags) == current:
                    self._store(slot, _Entry(body, self._monotonic(), current))
        finally:
            del self._building[slot]
            future.set_result(body)
            # The visitor's own token from here on (render() read the placeholder).
            del request.state.csrf_token
        if body is None:
            return response
        return self._serve(body, csrf_token(request))

    def _store(self, slot: tuple[Hashable, Hashable, str], entry: _Entry) -> None:
        self._entries[slot] = entry
        self._entries.move_to_end(slot)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    @staticmethod
    def _serve(body: bytes, token: str) -> HTMLResponse:
        # A kept page is the body alone: render() sets no headers of its own, and what every
        # page carries (security headers, the pre-session cookie) the middleware adds.
        return HTMLResponse(body.replace(TOKEN_PLACEHOLDER.encode(), token.encode()))


def public_pages(request: Request) -> PageCache:
    """This app's cache of public pages (one per app, made at its first public page, so the
    apps a test run builds never share pages)."""
    cache: PageCache | None = getattr(request.app.state, "public_pages", None)
    if cache is None:
        cache = request.app.state.public_pages = PageCache()
    return cache


async def cached_page(
    request: Request,
    tag: str | Sequence[str],
    key: Hashable,
    build: Callable[[], Awaitable[Response]],
    *,
    signed_in: bool,
) -> Response:
    """``build``'s page through this app's cache (see PageCache.page); modules tag their pages
    with names of their own, e.g. ``environment.air``."""
    return await public_pages(request).page(request, tag, key, build, signed_in=signed_in)


_TAGS_KEY = "public_page_tags"


def invalidate_after_commit(session: AsyncSession, tag: str) -> None:
    """Drop the pages under ``tag`` once this session's changes are committed: not before,
    or a request in between would render the old rows and keep them as new; not at all when
    the session rolls back."""
    tags: set[str] = session.sync_session.info.setdefault(_TAGS_KEY, set())
    tags.add(tag)


@sa_event.listens_for(Session, "after_commit")
def _invalidate_committed(session: Session) -> None:
    for tag in session.info.pop(_TAGS_KEY, ()):
        invalidate(tag)


@sa_event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_TAGS_KEY, None)
