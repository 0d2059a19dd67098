"""Browser tests: a real server on a free loopback port, driven by Playwright on Debian's
Chromium. Skipped with a reason where Chromium or Playwright is missing."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from smartcity.core import migrate
from smartcity.settings import Settings, configure

CHROMIUM = os.environ.get("SMARTCITY_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed"
    if reason:
        for item in items:
            if "e2e" in item.nodeid:
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from smartcity.app import create_app

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def run(self, coro: Any) -> Any:
        """Run a coroutine against the server's database (setup done from the test)."""
        from smartcity.core.db import Database, make_engine

        async def go() -> Any:
            db = Database(make_engine(self.settings.effective_database_url))
            try:
                async with db.session_scope() as session:
                    return await coro(session)
            finally:
                await db.dispose()

        # A worker thread with its own loop: the test may run inside pytest-asyncio's loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, go()).result()


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    # The process-wide settings of the suite (tests/conftest.py): the server thread and the
    # tests share get_settings(), so both must be the same object.
    configure(settings)
    migrate.upgrade(settings.effective_database_url)
    server = LiveServer(settings)

    async def seed(session: Any) -> None:
        from smartcity.cli import cli_principal
        from smartcity.core import seed as seeding

        await seeding.seed_divisions(session)
        await seeding.seed_departments(session, cli_principal())

    server.run(seed)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
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
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 860}
    )
    page = context.new_page()
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    """Screenshots for people to look at (screenshots/ is not committed)."""
    from playwright.sync_api import Error

    SHOTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    except Error:
        # Chromium sometimes cannot capture a full page while both cores are busy with the
        # other test workers ("Unable to capture screenshot"); a second try gets it.
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


E2E_PASSWORD = "Browser-Test-2026"


def sign_in_as(page: Any, server: LiveServer, username: str, kind: str, **extra: Any) -> None:
    """Create an account (TOTP already enrolled for staff kinds) and sign in through the
    browser, second factor included. ``extra`` goes to AccountCreate (department_code, roles)."""
    import pyotp

    from smartcity.cli import cli_principal
    from smartcity.core import accounts
    from smartcity.core.schemas import AccountCreate
    from smartcity.core.security import seal_totp_secret

    secret = pyotp.random_base32()

    async def create(session: Any) -> None:
        account, _ = await accounts.create_account(
            session,
            cli_principal(),
            AccountCreate(
                username=username,
                display_name=extra.pop("display_name", username),
                kind=kind,
                password=E2E_PASSWORD,
                **extra,
            ),
        )
        account.must_change_password = False
        if kind in ("staff", "supervisor", "admin"):
            account.totp_secret_enc = seal_totp_secret(server.settings, secret)
            account.totp_enabled = True

    server.run(create)
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", E2E_PASSWORD)
    page.click("main button[type=submit]")
    if kind in ("staff", "supervisor", "admin"):
        page.wait_for_url("**/login/totp**")
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("main button[type=submit]")
    page.wait_for_load_state()
