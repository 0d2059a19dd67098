"""The pages satisfy their own Content-Security-Policy: a real browser loads the main pages
of each kind of visitor, charts and Swagger UI included, and any `securitypolicyviolation`
event or CSP refusal in the console fails the test."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, sign_in_as
from tests.e2e.test_sensing_pages import _seed as seed_devices
from tests.e2e.test_supervision import _seed_demo as seed_cases

pytestmark = pytest.mark.e2e

# Listens before any of the page's own scripts run (Playwright injects it over CDP, which the
# page's policy does not govern).
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


class Watched:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(WATCH)
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(text)

    def visit(self, path: str, wait_for: str | None = None) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status < 400, f"{path}: {response.status}"
        policy = response.headers.get("content-security-policy", "")
        assert (
            "script-src 'self'" in policy
            and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        ), f"{path}: {policy}"
        drawn = True
        if wait_for:
            try:
                self.page.wait_for_selector(wait_for, timeout=15_000)
            except Exception:  # reported below, with what the browser refused
                drawn = False
        self.page.wait_for_load_state("networkidle")
        events = self.page.evaluate("window.__csp")
        assert events == [], f"{path}: {events}"
        assert self.console == [], f"{path}: {self.console}"
        assert drawn, f"{path}: {wait_for} never appeared"


def test_public_pages_satisfy_the_policy(page: Any, live_server: LiveServer) -> None:
    watched = Watched(page)
    for path in ("/", "/login", "/services", "/licences/verify", "/air", "/data", "/docs"):
        watched.visit(path, "#swagger-ui .information-container" if path == "/docs" else None)


def test_supervision_charts_satisfy_the_policy(page: Any, live_server: LiveServer) -> None:
    seed_cases(live_server)
    sign_in_as(page, live_server, "e2e.csp.supervisor", "supervisor", department_code="JWJ")
    watched = Watched(page)
    watched.visit("/supervision", "#sv-chart-volume .main-svg")
    for path in ("/supervision/flags", "/cases", "/messages", "/account"):
        watched.visit(path)


def test_staff_pages_satisfy_the_policy(page: Any, live_server: LiveServer) -> None:
    ids = seed_devices(live_server)
    sign_in_as(page, live_server, "e2e.csp.officer", "staff", department_code="STHJJ")
    watched = Watched(page)
    watched.visit(f"/sensing/datastreams/{ids['stream']}", "#ds-chart svg.main-svg")
    for path in (
        "/sensing",
        f"/sensing/things/{ids['thing']}",
        "/sensing/alerts",
        "/registry/places",
        "/registry/persons",
        "/registry/quality",
        "/exchange",
        "/air",
    ):
        watched.visit(path)


def test_admin_and_citizen_pages_satisfy_the_policy(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    sign_in_as(page, live_server, "e2e.csp.admin", "admin", roles=["security"])
    watched = Watched(page)
    for path in ("/admin/accounts", "/admin/departments", "/admin/calendar"):
        watched.visit(path)

    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    try:
        citizen = context.new_page()
        sign_in_as(citizen, live_server, "e2e.csp.citizen", "citizen")
        watched = Watched(citizen)
        for path in ("/my/applications", "/my/licences", "/my/data", "/account"):
            watched.visit(path)
    finally:
        context.close()
