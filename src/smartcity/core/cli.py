"""What every module's command group uses: the operator as a principal, the consoles, and
``run`` (one unit of work against the configured database).

The top-level ``smartcity`` command (smartcity/cli.py) mounts the groups; it tells this file
how to install the platform's modules (``use_modules``) when a command starts, because core
sits below every module and cannot list them itself."""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

# The platform (SQLAlchemy, every module) is imported inside the functions, so
# `smartcity --help` and the commands that need little start at once.
if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.authz import Principal
    from smartcity.core.db import Database
    from smartcity.core.module import Module
    from smartcity.settings import Settings

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

_modules: Callable[[], Sequence[Module]] | None = None


def use_modules(modules: Callable[[], Sequence[Module]]) -> None:
    """The modules a command installs before its work runs (the top-level command calls this
    from its callback, i.e. when a command starts, not when a file is imported)."""
    global _modules
    _modules = modules


def install_modules() -> None:
    """Register every module's actions, rules and extensions, as the app does at start-up."""
    from smartcity.core.module import install

    if _modules is None:
        raise RuntimeError("no modules to install: run commands through the smartcity command")
    install(_modules())


def settings(database_url: str | None = None) -> Settings:
    """The configured settings, with --database-url when one was given."""
    from smartcity.settings import configure, get_settings

    current = get_settings()
    if database_url:
        current = current.model_copy(update={"database_url": database_url})
    return configure(current)


def cli_principal() -> Principal:
    """Whoever runs the CLI on the server acts as an administrator, named in the audit trail."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    from smartcity.core.authz import Principal

    return Principal(
        id=None,
        kind="admin",
        name=f"cli:{user}",
        roles=frozenset({"security", "auditor"}),
        via="cli",
    )


def cli_locale() -> str:
    """Messages in the operator's language: SMARTCITY_LOCALE, else LANG (en_* is English)."""
    from smartcity.core import i18n

    chosen = os.environ.get("SMARTCITY_LOCALE")
    if chosen in i18n.LOCALES:
        return chosen
    return i18n.negotiate(None, os.environ.get("LANG", "").replace("_", "-"))


def run(work: Callable[[AsyncSession], Awaitable[T]], database_url: str | None = None) -> T:
    """Run one unit of work against the configured database; problems exit with code 1."""
    from smartcity.core import i18n
    from smartcity.core.db import Database, make_engine
    from smartcity.core.errors import Problem

    configured = settings(database_url)
    install_modules()
    i18n.current_locale.set(cli_locale())

    async def main() -> T:
        configured.var_dir.mkdir(parents=True, exist_ok=True)
        db = Database(make_engine(configured.effective_database_url))
        try:
            async with db.engine.connect() as connection:
                await connection.run_sync(_require_schema)
            async with db.session_scope() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except NeverMigrated as exc:
        err.print(
            f"The database {shown_url(configured.effective_database_url)} was never migrated; "
            "run `smartcity db upgrade` first (with the same --database-url).",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1) from exc
    except Problem as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from exc


def run_with_database(work: Callable[[Database], Awaitable[T]], database_url: str | None) -> T:
    """Like ``run``, but the work gets the Database and opens its own units of work (an
    import commits once per batch)."""
    from smartcity.core import i18n
    from smartcity.core.db import Database, make_engine
    from smartcity.core.errors import Problem

    configured = settings(database_url)
    install_modules()
    i18n.current_locale.set(cli_locale())

    async def go() -> T:
        configured.var_dir.mkdir(parents=True, exist_ok=True)
        db = Database(make_engine(configured.effective_database_url))
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except Problem as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from exc


class NeverMigrated(Exception):
    """The database has no schema yet: the command cannot run until it is upgraded."""


def _require_schema(sync_connection: Connection) -> None:
    from sqlalchemy import inspect

    if not inspect(sync_connection).has_table("alembic_version"):
        raise NeverMigrated


def shown_url(url: str) -> str:
    """A database URL as it may be printed: without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
