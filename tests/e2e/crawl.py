"""The demo city, crawled as each kind of user sees it: a live server on a database seeded with
``smartcity demo``'s city, one signed-in browser context per role and language, and every GET
page that role can reach from ``/`` by following links.

Reusable: :func:`crawl` yields ``(role, locale, url, page)`` for every page, loaded once, so
checks of widths, languages or anything else run on the same visits. The link discovery
(:func:`discover`) is plain HTTP with the role's session cookie, so it is fast, independent
of the browser, and the same for both languages.

Seeding the demo city takes half a minute or more, so it is seeded once into a template
SQLite file (kept in pytest's cache, keyed by the source and the day, so a second run skips
it) and each xdist worker serves a copy of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from fastapi.routing import APIRoute

from tests.e2e.conftest import CHROMIUM, LiveServer

SRC = Path(__file__).resolve().parents[2] / "src" / "smartcity"

# The roles of the demo city, by the demo account that plays each (None: not signed in).
# The citizen is the one linked to a registry person, with applications and licences.
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "citizen": "citizen",
    "enterprise": "enterprise",
    "staff-zwsj": "staff.zwsj",
    "staff-gaj": "staff.gaj",
    "supervisor": "supervisor",
    "admin": "admin",
}
LOCALES = ("zh-CN", "en")

# Paths that are not pages for people, or that act (sign-out, language switch).
SKIPPED_PREFIXES = (
    "/api/",
    "/docs",
    "/static/",
    "/lang/",
    "/logout",
    "/sta/",
    "/open311/",
    "/fhir/",
    "/openapi.json",
)
SKIPPED_SUFFIXES = (".csv", ".pdf", ".json", ".zip", ".png", ".svg", ".js", ".css")
# Instances of one route template a role visits (500 cases are one page design): two for the
# people the public pages are for, whose data (names, addresses) vary most in length; one
# for the desks, whose pages are one layout over a department's records.
PUBLIC_ROLES = ("anonymous", "citizen", "enterprise")
PER_TEMPLATE = 2
PER_TEMPLATE_AT_A_DESK = 1
MAX_PAGES = 150  # per role: a bound, far above what the demo city has

# GET page routes no link leads to on purpose: each appears only inside a flow.
FLOW_ONLY = {
    "/login/totp": "only between the password and the second factor",
    "/login/enrol": "only at a staff account's first sign-in",
    # tests/e2e/test_identity.py walks these against a local OpenID provider
    "/login/oidc": "only where a unified identity provider is configured (not in the demo)",
    "/login/oidc/callback": "only on the way back from the identity provider",
    "/hotline/intake/suggestions.json": "fetched by the intake desk's script as the agent types",
}


@dataclass
class Discovered:
    """What one role reaches: the pages (HTML) in visiting order, and the route templates of
    everything reached, downloads included."""

    role: str
    pages: list[str] = field(default_factory=list)
    templates: set[str] = field(default_factory=set)
    downloads: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # links that answered with a 5xx


# --- the app's page routes -----------------------------------------------------------------


def _routes_of(router: Any) -> list[APIRoute]:
    found: list[APIRoute] = []
    stack = list(router.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            stack.extend(route.original_router.routes)
    return found


def page_routes() -> list[APIRoute]:
    """Every GET page route of the app's modules and the home page, fixed paths first so
    ``/registry/persons/new`` is not taken for ``/registry/persons/{person_id}``."""
    from smartcity.app import modules
    from smartcity.web.pages import router as shell

    routes = [r for r in _routes_of(shell) if r.path == "/"]
    for module in modules():
        if module.pages is not None:
            routes += _routes_of(module.pages)
    routes = [
        r
        for r in routes
        if "GET" in r.methods and not r.path.startswith(SKIPPED_PREFIXES) and r.path != "/"
    ] + [r for r in routes if r.path == "/"]
    return sorted(routes, key=lambda r: (r.path.count("{"), -len(r.path)))


def template_of(path: str, routes: list[APIRoute]) -> str | None:
    for route in routes:
        if route.path_regex.match(path):
            return route.path
    return None


# --- the demo city's database --------------------------------------------------------------


def _source_key() -> str:
    """The source of the platform and today's date: any change seeds anew, and a city seeded
    yesterday (its deadlines and history relative to then) is not reused."""
    digest = hashlib.sha256(datetime.now(UTC).date().isoformat().encode())
    for path in sorted(SRC.rglob("*.py")):
        digest.update(str(path.relative_to(SRC)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def seed_template(cache_dir: Path) -> Path:
    """The seeded demo city as a SQLite file in ``cache_dir``, made by the first worker that
    asks (the others wait on the lock); returns its path."""
    import asyncio

    from smartcity.cli import cli_principal
    from smartcity.core import migrate
    from smartcity.core.db import Database, make_engine

    cache_dir.mkdir(parents=True, exist_ok=True)
    template = cache_dir / f"demo-city-{_source_key()}.db"
    with (cache_dir / "seed.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if template.exists():
            return template
        for old in cache_dir.glob("demo-city-*.db*"):
            old.unlink()
        building = cache_dir / "building.db"
        building.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{building}"
        started = time.monotonic()
        migrate.upgrade(url)

        async def seed() -> None:
            from smartcity import demo
            from smartcity.app import modules
            from smartcity.core.module import install

            install(modules())  # the actions and seeders of every module, as the CLI does
            db = Database(make_engine(url))
            try:
                async with db.session_scope() as session:
                    await demo.seed_demo(session, cli_principal(), modules())
            finally:
                await db.dispose()

        # A thread of its own: Playwright's sync API may already run a loop in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, seed()).result()
        building.rename(template)
        print(f"seeded the demo city in {time.monotonic() - started:.1f} s -> {template}")
        return template


def seed_ahead(cache_dir: Path) -> None:
    """Seed the template in a separate process, now, unless it is there already; whoever
    asks for it with :func:`seed_template` meanwhile waits on the lock."""
    import subprocess
    import sys

    if (cache_dir / f"demo-city-{_source_key()}.db").exists():
        return
    script = (
        "import sys, tempfile; from pathlib import Path; "
        "from smartcity.settings import configure; "
        "from tests.conftest import test_settings; "
        "from tests.e2e.crawl import seed_template; "
        "configure(test_settings(Path(tempfile.mkdtemp()))); "
        "seed_template(Path(sys.argv[1]))"
    )
    subprocess.Popen(
        [sys.executable, "-c", script, str(cache_dir)],
        cwd=SRC.parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def demo_city_server(settings: Any, template: Path, work_dir: Path) -> LiveServer:
    """A started live server on this worker's own copy of the seeded demo city."""
    database = work_dir / "demo-city.db"
    shutil.copyfile(template, database)
    server = LiveServer(
        settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{database}"})
    )
    server.start()
    return server


def session_cookies(server: LiveServer) -> dict[str, str]:
    """A finished browser session (second factor done) for each signed-in role, opened in
    the database as the sign-in would: one sign-in per role, not one per page."""
    from sqlalchemy import select

    from smartcity.core import accounts
    from smartcity.core.models import Account

    async def open_sessions(session: Any) -> dict[str, str]:
        tokens = {}
        for role, username in ROLES.items():
            if username is None:
                continue
            account = (
                await session.execute(select(Account).where(Account.username == username))
            ).scalar_one()
            tokens[role] = await accounts.open_web_session(
                session, account, second_factor_done=True
            )
        return tokens

    tokens: dict[str, str] = server.run(open_sessions)
    return tokens


# --- discovering the pages -----------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

        self.downloads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        named = dict(attrs)
        href = named.get("href")
        if href:
            (self.downloads if "download" in named else self.hrefs).append(href)


def _followable(url: str, origin: str) -> str | None:
    """The same-origin path (with its query) a link leads to, or None for other sites and
    for what is not a page of the platform (the API, its docs, static files, actions)."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    path = parts.path or "/"
    if path.startswith(SKIPPED_PREFIXES):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def discover(server: LiveServer, role: str, cookie: str | None) -> Discovered:
    """Breadth-first from ``/`` over the links of each page the role can open, at most
    PER_TEMPLATE (at a desk PER_TEMPLATE_AT_A_DESK) instances of a route template and
    MAX_PAGES pages."""
    from smartcity.core.security import SESSION_COOKIE

    routes = page_routes()
    per_template = PER_TEMPLATE if role in PUBLIC_ROLES else PER_TEMPLATE_AT_A_DESK
    found = Discovered(role)
    queued: Counter[str] = Counter()
    seen: set[str] = {"/"}
    queue = deque(["/"])
    cookies = {SESSION_COOKIE: cookie} if cookie else {}
    with httpx.Client(
        base_url=server.url,
        cookies=cookies,
        headers={"accept": "text/html", "accept-language": "zh-CN"},
        follow_redirects=True,
        timeout=60,
    ) as client:
        while queue and len(found.pages) < MAX_PAGES:
            target = queue.popleft()
            response = client.get(target)
            final = response.url.path
            if response.status_code >= 500:
                found.errors.append(f"{target}: {response.status_code}")
            if response.status_code >= 400 or (final.startswith("/login") and target != "/login"):
                continue  # refused or sent to sign in: not this role's page
            # Both count as reached: the link's route (a redirect, say) and where it ends.
            for path in (target.split("?")[0], final):
                template = template_of(path, routes)
                if template is not None:
                    found.templates.add(template)
            if not response.headers.get("content-type", "").startswith("text/html"):
                found.downloads.append(target)  # a download without the file name's suffix
                continue
            found.pages.append(target)
            parser = _Links()
            parser.feed(response.text)
            for href in parser.downloads + parser.hrefs:
                path = _followable(urljoin(str(response.url), href.split("#")[0]), server.url)
                if path is None or path in seen:
                    continue
                if href in parser.downloads or path.split("?")[0].endswith(SKIPPED_SUFFIXES):
                    # A file to save, not a page to look at: reached, not loaded.
                    seen.add(path)
                    found.downloads.append(path)
                    template = template_of(path.split("?")[0], routes)
                    if template is not None:
                        found.templates.add(template)
                    continue
                seen.add(path)
                link_template = template_of(path.split("?")[0], routes)
                if link_template is None:
                    continue
                if queued[link_template] >= per_template:
                    continue
                queued[link_template] += 1
                queue.append(path)
    return found


# --- visiting them in the browser ----------------------------------------------------------


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(
        executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    )


def crawl(
    browser: Any,
    server: LiveServer,
    role: str,
    locale: str,
    pages: list[str],
    cookie: str | None,
    viewport_for: Callable[[str], tuple[int, int]] = lambda url: (1366, 900),
) -> Iterator[tuple[str, str, str, Any]]:
    """Load each of ``pages`` once in a context of ``role`` in ``locale``, in a window of
    ``viewport_for(url)``, and yield ``(role, locale, url, page)`` with the page loaded; the
    caller may resize it, read it, or screenshot it before the next one is loaded (one
    context for the whole crawl)."""
    from urllib.parse import urlsplit as split

    from smartcity.core.security import SESSION_COOKIE

    context = browser.new_context(
        base_url=server.url,
        locale=locale,
    )
    if cookie:
        host = split(server.url).hostname
        context.add_cookies(
            [{"name": SESSION_COOKIE, "value": cookie, "domain": host, "path": "/"}]
        )
    try:
        page = context.new_page()
        for url in pages:
            width, height = viewport_for(url)
            if page.viewport_size != {"width": width, "height": height}:
                page.set_viewport_size({"width": width, "height": height})
            page.goto(url, wait_until="load")
            yield role, locale, url, page
    finally:
        context.close()


def is_template(path: str) -> bool:
    return bool(re.search(r"\{[^}]+\}", path))
