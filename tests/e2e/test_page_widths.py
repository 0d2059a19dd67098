"""No page scrolls sideways, and every page speaks its language: every page each role reaches
in the demo city, in Chinese and in English, measured in a real browser at a phone's 390 px
(the pages people use on phones) and a laptop's 1366 px (every page), and read for English
left on a Chinese page or Chinese outside the names an English page marks ``lang="zh-CN"``
(tests/e2e/language.py). One visit per page does both. A failure lists each page that is
wider than the window and the elements that stick out, so the fix can start where the
overflow does, and each phrase in the wrong language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.crawl import (
    FLOW_ONLY,
    LOCALES,
    PUBLIC_ROLES,
    ROLES,
    Discovered,
    crawl,
    demo_city_server,
    discover,
    is_template,
    page_routes,
    seed_template,
    session_cookies,
    template_of,
)
from tests.e2e.language import COLLECT_JS, check_en, check_zh

PHONE = (390, 844)
LAPTOP = (1366, 900)

# Route templates meant for phones as well as desks, checked at 390 px too: what citizens and
# enterprises use (the portal, their applications, licences and data, the open data and the
# air), and what every account has (sign-in, account, messages). The staff desks (cases,
# registry, exchange administration, sensing, supervision, admin) are used at a desk: 1366 px.
PHONE_PAGES = {
    "/",
    "/login",
    "/register",
    "/recover",
    "/account",
    "/account/password",
    "/messages",
    "/my/data",
    "/my/applications",
    "/my/applications/{application_id}",
    "/my/licences",
    "/my/licences/{number}",
    "/services",
    "/services/{code}",
    "/services/{code}/apply",
    "/services/{code}/subscription",
    "/licences/verify",
    "/licences/{number}",
    "/data",
    "/data/{code}",
    "/air",
    "/air/stations/{station_id}",
    "/hotline/knowledge",
    "/hotline/knowledge/{answer_id:uuid}",
}

# The widest elements that stick out past the window, outside any scroll container of their
# own; those whose parent still fits come first: that is where the overflow starts.
MEASURE = """() => {
  const root = document.documentElement;
  const limit = root.clientWidth;
  if (root.scrollWidth <= limit) return null;
  const scrolls = (el) => {
    for (let a = el.parentElement; a && a !== root; a = a.parentElement) {
      const x = getComputedStyle(a).overflowX;
      if (x !== "visible") return true;
    }
    return false;
  };
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= limit + 0.5) continue;
    if (!el.checkVisibility() || scrolls(el)) continue;
    const parent = el.parentElement.getBoundingClientRect();
    found.push({
      tag: el.tagName.toLowerCase(),
      cls: (el.getAttribute("class") || "").slice(0, 60),
      text: (el.innerText || el.getAttribute("aria-label") || "").trim().slice(0, 40),
      width: Math.round(box.width),
      right: Math.round(box.right),
      starts: parent.right <= limit + 0.5,
    });
  }
  found.sort((a, b) => (b.starts - a.starts) || (b.width - a.width));
  return {scroll: root.scrollWidth, client: limit, elements: found.slice(0, 4)};
}"""


@pytest.fixture(scope="session")
def demo_city(
    request: pytest.FixtureRequest, settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    cache = request.config.cache
    cache_dir = (
        cache.mkdir("demo-city")
        if cache is not None
        else tmp_path_factory.getbasetemp().parent / "demo-city"
    )
    server = demo_city_server(
        settings, seed_template(cache_dir), tmp_path_factory.mktemp("demo-city")
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cookies(demo_city: LiveServer) -> dict[str, str]:
    return session_cookies(demo_city)


@pytest.fixture(scope="session")
def discovered(demo_city: LiveServer, cookies: dict[str, str]) -> dict[str, Discovered]:
    """Each role's pages, discovered once per worker when a test first asks."""

    class Lazy(dict[str, Discovered]):
        def __missing__(self, role: str) -> Discovered:
            self[role] = discover(demo_city, role, cookies.get(role))
            return self[role]

    return Lazy()


def test_every_page_route_is_reached(discovered: dict[str, Discovered]) -> None:
    reached: set[str] = set()
    for role in ROLES:
        reached |= discovered[role].templates
    unreached = [r.path for r in page_routes() if r.path not in reached]
    missing_fixed = [p for p in unreached if not is_template(p) and p not in FLOW_ONLY]
    print("\nroute templates no role reached:")
    for path in unreached:
        print(f"  {path}  {FLOW_ONLY.get(path, '(has path parameters)')}")
    for role in ROLES:
        print(f"{role}: {len(discovered[role].pages)} pages")
    errors = [f"{role}: {e}" for role in ROLES for e in discovered[role].errors]
    assert errors == [], f"links that answer with a server error: {errors}"
    assert missing_fixed == [], (
        "GET pages without path parameters that no role reaches by a link "
        f"(link them, or list them in FLOW_ONLY with why): {missing_fixed}"
    )


def _describe(url: str, width: int, found: dict[str, Any]) -> str:
    lines = [f"{url} at {width} px: {found['scroll']} px wide, window {found['client']} px"]
    for el in found["elements"]:
        cls = f".{el['cls'].replace(' ', '.')}" if el["cls"] else ""
        lines.append(
            f"    <{el['tag']}{cls}> {el['width']} px wide, right edge {el['right']} px"
            f"{' (starts here)' if el['starts'] else ''}: {el['text']!r}"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_fits_and_speaks_its_language(
    browser: Any,
    demo_city: LiveServer,
    cookies: dict[str, str],
    discovered: dict[str, Discovered],
    role: str,
    locale: str,
) -> None:
    routes = page_routes()
    pages = discovered[role].pages
    assert pages, f"{role} reached no page at all"
    if role not in PUBLIC_ROLES:
        # The public pages (what anyone reaches signed out) are checked as the people they
        # are for see them; a desk's run is its own pages. Its home page stays: it differs.
        public = set(discovered["anonymous"].pages) - {"/"}
        pages = [url for url in pages if url not in public]
    offending: list[str] = []
    wrong_language: list[str] = []
    measured = 0
    check = check_zh if locale.startswith("zh") else check_en

    def widths(url: str) -> list[tuple[int, int]]:
        # Phone first, then wider: a chart drawn for the phone only grows when widened.
        return [PHONE, LAPTOP] if template_of(url, routes) in PHONE_PAGES else [LAPTOP]

    for _role, _locale, url, page in crawl(
        browser,
        demo_city,
        role,
        locale,
        pages,
        cookies.get(role),
        viewport_for=lambda url: widths(url.split("?")[0])[0],
    ):
        final = urlsplit(page.url).path
        for width, height in widths(final):
            if page.viewport_size["width"] != width:
                page.set_viewport_size({"width": width, "height": height})
            found = page.evaluate(MEASURE)
            measured += 1
            if found is not None:
                offending.append(_describe(url, width, found))
        seen = page.evaluate(COLLECT_JS)
        wrong_language += [f"{url}: {phrase!r}" for phrase in check(seen["text"], seen["names"])]
    print(f"\n{role} in {locale}: {len(pages)} pages, {measured} measurements")
    failures = []
    if offending:
        failures.append(
            f"{len(offending)} pages of {role} in {locale} scroll sideways:\n"
            + "\n".join(offending)
        )
    if wrong_language:
        failures.append(
            f"{len(wrong_language)} phrases in the wrong language on pages of {role} in "
            f"{locale}:\n" + "\n".join(wrong_language)
        )
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


# Each field of the licence sheet must show whole inside the sheet's frame (which clips what
# sticks out): the frame's right edge, and every dt/dd's box and the width of its content.
CLIPPED_FIELDS = """() => {
  const frame = document.querySelector(".licence-frame").getBoundingClientRect();
  const out = [];
  for (const el of document.querySelectorAll(".licence-fields dt, .licence-fields dd")) {
    const box = el.getBoundingClientRect();
    if (box.right > frame.right + 0.5 || box.left < frame.left - 0.5
        || el.scrollWidth > el.clientWidth + 1) {
      out.push(`${el.tagName.toLowerCase()} ${Math.round(box.left)}-${Math.round(box.right)} `
        + `(frame ${Math.round(frame.left)}-${Math.round(frame.right)}): ${el.innerText}`);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("locale", LOCALES)
def test_the_licence_is_readable_on_a_phone(
    browser: Any,
    demo_city: LiveServer,
    cookies: dict[str, str],
    discovered: dict[str, Discovered],
    locale: str,
) -> None:
    """The holder's licence at 390 px: the name, the ID number and every other field whole."""
    routes = page_routes()
    sheets = [
        url
        for url in discovered["citizen"].pages
        if template_of(url.split("?")[0], routes) == "/my/licences/{number}"
    ]
    assert sheets, "the demo citizen has no licence to look at"
    clipped: list[str] = []
    for _role, _locale, url, page in crawl(
        browser,
        demo_city,
        "citizen",
        locale,
        sheets,
        cookies["citizen"],
        viewport_for=lambda url: PHONE,
    ):
        assert page.locator(".licence-fields dd.big").inner_text().strip() not in ("", "—")
        clipped += [f"{url}: {line}" for line in page.evaluate(CLIPPED_FIELDS)]
    assert clipped == [], "fields of the licence cut off at 390 px:\n" + "\n".join(clipped)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_header_fits_a_phone_with_the_longest_user_name(
    browser: Any, demo_city: LiveServer, locale: str
) -> None:
    """The header shows the person's display name (here 64 characters, no spaces) beside the
    language switch, messages and sign-out: at 390 px it wraps, it does not widen the page."""
    from smartcity.cli import cli_principal
    from smartcity.core import accounts
    from smartcity.core.schemas import AccountCreate

    username = f"zhang.xiaoming.{locale.lower()}.".ljust(64, "x")

    async def create(session: Any) -> str:
        account, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(username=username, display_name=username, kind="citizen"),
        )
        account.must_change_password = False
        return await accounts.open_web_session(session, account, second_factor_done=True)

    cookie = demo_city.run(create)
    wide: list[str] = []
    for _role, _locale, url, page in crawl(
        browser,
        demo_city,
        "citizen",
        locale,
        ["/", "/account", "/messages"],
        cookie,
        viewport_for=lambda url: PHONE,
    ):
        assert page.locator(".who a[href='/account']").inner_text() == username
        found = page.evaluate(MEASURE)
        if found is not None:
            wide.append(_describe(url, PHONE[0], found))
    assert wide == [], "\n".join(wide)
