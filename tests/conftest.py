"""Test harness: a database built by the migrations (SQLite always, PostgreSQL when
SMARTCITY_TEST_POSTGRES_URL is set), each test inside a transaction rolled back at its end."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from smartcity.core import migrate
from smartcity.core.db import Database, make_engine
from smartcity.settings import Settings, configure

POSTGRES_URL = os.environ.get("SMARTCITY_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests last: Playwright's sync API keeps its own event loop running for the
    # session-scoped browser, and async tests collected after it could not start theirs.
    items.sort(key=lambda item: item.nodeid.startswith("tests/e2e/"))


def pytest_report_header() -> str:
    if POSTGRES_URL:
        return f"databases: SQLite and PostgreSQL ({make_url(POSTGRES_URL).render_as_string()})"
    return "databases: SQLite only (set SMARTCITY_TEST_POSTGRES_URL to add PostgreSQL)"


def test_settings(var_dir: Path) -> Settings:
    """The settings every test runs with (also those of the demo city the crawl seeds ahead,
    tests/e2e/crawl.py: its keys are sealed with this secret)."""
    return Settings(
        var_dir=var_dir,
        secret_key="test-instance-secret-0123456789",  # type: ignore[arg-type]
        # Cheap argon2 so account-heavy tests stay fast; production keeps RFC 9106 costs.
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        public_rate_per_minute=10_000,
    )


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return configure(test_settings(tmp_path_factory.mktemp("var")))


def pytest_collection_finish(session: pytest.Session) -> None:
    # The page crawl's demo city takes half a minute to seed: the first worker starts seeding
    # it in a process of its own now, beside the unit tests, rather than both workers waiting
    # for it when they reach the browser tests (the seeding's lock makes them wait only if it
    # is not done by then).
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0" or session.config.cache is None:
        return
    if any(item.nodeid.startswith("tests/e2e/test_page_widths.py") for item in session.items):
        from tests.e2e.crawl import seed_ahead

        seed_ahead(session.config.cache.mkdir("demo-city"))


@pytest.fixture(autouse=True)
def _active_settings(settings: Settings) -> None:
    configure(settings)


@pytest.fixture(autouse=True)
def _installed_platform() -> Iterator[None]:
    """The platform as create_app installs it (every module's actions, rules and
        declarations), for tests that call services without building an app. The sensing rules
        a test makes are rolled back with it, so the cached rule index starts and ends empty; so
    is the service items' search index, built from each test's own catalogue."""
    from smartcity.app import modules
    from smartcity.core.module import install
    from smartcity.sensing.rules import service as rules
    from smartcity.services import search

    install(modules())
    rules.invalidate_index()
    search.forget_index()
    yield
    rules.invalidate_index()
    search.forget_index()


async def _recreate_postgres_database(base_url: str, name: str) -> str:
    import asyncpg

    url = make_url(base_url)
    admin = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.set(database=name, drivername="postgresql+asyncpg").render_as_string(
        hide_password=False
    )


def postgres_database_name(purpose: str = "") -> str:
    """A database of this run's own: one per xdist worker, and SMARTCITY_TEST_DB_TAG keeps
    two checkouts that test at once on one server out of each other's way."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    tag = os.environ.get("SMARTCITY_TEST_DB_TAG", "")
    return "_".join(part for part in ("smartcity_test", tag, purpose, worker) if part)


def _migrated_url(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'test.db'}"
    else:
        url = asyncio.run(_recreate_postgres_database(POSTGRES_URL, postgres_database_name()))
    migrate.upgrade(url)  # the real migrations, never create_all
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _migrated_url(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


class BoundDatabase(Database):
    """A Database whose sessions all join the test's outer transaction (savepoints)."""

    def __init__(self, engine: AsyncEngine, conn: AsyncConnection) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )


@pytest.fixture
def database(engine: AsyncEngine, connection: AsyncConnection) -> Database:
    return BoundDatabase(engine, connection)


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.sessionmaker() as session:
        yield session


@pytest.fixture
def app(settings: Settings, database: Database) -> Any:
    from smartcity.app import create_app

    return create_app(settings, database=database)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"
