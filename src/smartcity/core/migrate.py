"""Schema migrations (Alembic) run from the package, so an installed platform can upgrade."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str = "", connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on % in passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url``. Callable from inside a running event loop too: the
    migration environment runs its own loop, so it then goes to a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(alembic_config(url), revision)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, alembic_config(url), revision).result()


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """For callers that already hold a (sync-facing) connection, e.g. the tests."""
    command.upgrade(alembic_config(connection=connection), revision)


def current(url: str) -> None:
    command.current(alembic_config(url), verbose=True)
