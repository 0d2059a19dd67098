"""The ``smartcity`` command: serve, demo, db, users, departments, keys, audit, sign, verify."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table
from typer.core import TyperGroup

from smartcity.core import cli as core_cli
from smartcity.core.cli import cli_principal, console, err, run
from smartcity.core.cli import settings as _settings

# The platform (FastAPI, SQLAlchemy, every module) is imported inside the commands, so
# `smartcity --help` and the commands that need little start at once.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    # Typer carries its own copy of Click; these are its types.
    from typer._click.core import Command, Context
    from typer._click.formatting import HelpFormatter

    from smartcity.core.module import Module
    from smartcity.settings import Settings

# Each module's own command group (Module.cli), loaded when it is used. The help texts are
# the groups' own (tests/core/test_cli.py checks they match), so listing them imports nothing.
MODULE_GROUPS = {
    "registry": "Base registries: import, export, resolve points, link accounts, data quality.",
    "exchange": "The data exchange (政务信息资源共享交换).",
    "cases": "The case engine (办件引擎): clocks, cases, flags.",
    "hotline": "The 12345 hotline (政务服务便民热线): work orders.",
    "participation": "Public participation (民意征集): drafts open for comment, the figure.",
    "sensing": "The sensing engine (物联感知): retention, simulated load, MQTT broker sync.",
    "environment": "Air quality (空气质量): current table, report catch-up, alert rules.",
    "traffic": "Traffic (智能交通): road networks, road state, the index, forecasts.",
}


class LazyModuleGroups(TyperGroup):
    """The top-level group: module groups are imported on use, not to list them."""

    listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        own = super().list_commands(ctx)
        return own + [name for name in MODULE_GROUPS if name not in own]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in MODULE_GROUPS:
            return command
        if self.listing:
            return TyperGroup(name=cmd_name, help=MODULE_GROUPS[cmd_name])
        return typer.main.get_command(module_cli(cmd_name))

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def module_cli(name: str) -> typer.Typer:
    import importlib

    cli: typer.Typer | None = importlib.import_module(f"smartcity.{name}").MODULE.cli
    if cli is None:
        raise LookupError(f"the module {name} has no command group")
    # Commands other modules declare for this group (the demo's simulator under sensing).
    have = {c.name for c in cli.registered_commands}
    for module in _modules():
        for command in module.commands:
            if command.group == name and command.name not in have:
                cli.command(command.name)(command.run)
                have.add(command.name)
    return cli


app = typer.Typer(
    cls=LazyModuleGroups,
    help="智慧深圳 Smart Shenzhen city platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Accounts of people and machines.", no_args_is_help=True)
departments_app = typer.Typer(help="The city's departments (委办局).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of system and device accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(departments_app, name="departments")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")


@app.callback()
def _start() -> None:
    # Every command, a module group's too, installs the platform's modules before its work.
    core_cli.use_modules(_modules)


def _modules() -> list[Module]:
    from smartcity.app import modules

    return modules()


T = TypeVar("T")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="SMARTCITY_DATABASE_URL",
        help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
    ),
]


def _upgrade(settings: Settings) -> None:
    from smartcity.core import migrate

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url)


# --- serving ----------------------------------------------------------------------------


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from smartcity.app import create_app

    console.print(
        f"Serving {settings.city_name} on [bold]http://{host}:{port}[/bold] "
        f"({'SQLite ' + str(settings.var_dir) if settings.is_sqlite else 'PostgreSQL'})"
    )
    if settings.simulate_feed:
        logging.getLogger("uvicorn.access").addFilter(_quiet_feed)
    uvicorn.run(
        # A server, not a test run: startup's objects out of the collector's way (core/heap.py).
        create_app(settings, settle_heap=True),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        # SIGTERM: requests still in flight after this are cancelled (rolled back), then the
        # background tasks get as long again; without it uvicorn waits for every client.
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
    )


def _quiet_feed(record: logging.LogRecord) -> bool:
    """The demo's simulated feed posts a dozen batches every few seconds; its accepted ones
    would bury every other line of the access log. Refusals and errors still show."""
    args = record.args if isinstance(record.args, tuple) else ()
    if len(args) == 5 and str(args[2]).endswith("/CreateObservations"):
        return not (isinstance(args[4], int) and args[4] < 400)
    return True


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the platform on an existing database (run `smartcity db upgrade` first)."""
    settings = _settings(database_url)
    run(_nothing, database_url)  # refuses a database that was never migrated
    _serve(settings, host, port)


async def _nothing(session: AsyncSession) -> None:
    return None


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    database_url: DatabaseUrl = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Seed, then exit")] = False,
    no_feed: Annotated[
        bool, typer.Option("--no-feed", help="Serve without the simulated devices' feed")
    ] = False,
) -> None:
    """Create the database, seed a demo city (once), print the demo accounts and serve it,
    with the simulated devices reporting to it."""
    settings = _settings(database_url)
    _upgrade(settings)
    from smartcity import demo as demo_city

    created = run(
        lambda session: demo_city.seed_demo(session, cli_principal(), _modules()), database_url
    )
    if created:
        table = Table(title="Demo accounts (shown once: keep them)")
        for column in ("user name", "kind", "password"):
            table.add_column(column, overflow="fold")
        keys = []
        for username, kind, secret in created:
            if secret.startswith("API key "):
                keys.append((username, secret.removeprefix("API key ")))
            table.add_row(
                username, kind, "(API key below)" if keys and keys[-1][0] == username else secret
            )
        console.print(table)
        # Keys on lines of their own, never cut by the table's width, so they can be copied.
        for username, key in keys:
            console.print(f"API key of {username}: {key}", soft_wrap=True)
        console.print(
            "Staff, supervisor and admin accounts set up two-factor sign-in (TOTP) at their "
            "first sign-in."
        )
    else:
        console.print("The demo city is already seeded; its accounts are unchanged.")
    if not no_serve:
        if not no_feed:
            # The simulated devices report to this server (demo/simulate.py), so pages move.
            local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
            local = f"[{local}]" if ":" in local else local  # an IPv6 address in a URL
            from smartcity.settings import configure

            settings = configure(
                settings.model_copy(
                    update={
                        "simulate_feed": True,
                        "simulate_base_url": f"http://{local}:{port}",
                    }
                )
            )
            console.print("Simulated city feed: on (about 300 devices; --no-feed turns it off).")
        _serve(settings, host, port)


# --- db ----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply all migrations and the reference data (divisions, departments)."""
    settings = _settings(database_url)
    _upgrade(settings)

    async def reference(session: AsyncSession) -> None:
        from smartcity.core.seed import seed_reference_data

        await seed_reference_data(session, cli_principal(), _modules())

    run(reference, database_url)
    console.print("The database is at the newest schema.")


@db_app.command("current")
def db_current(database_url: DatabaseUrl = None) -> None:
    """Show the schema revision of the database."""
    from smartcity.core import migrate

    migrate.current(_settings(database_url).effective_database_url)


# --- users -------------------------------------------------------------------------------


@users_app.command("list")
def users_list(
    kind: Annotated[str | None, typer.Option(help="Only this kind")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List accounts."""
    from smartcity.core import accounts

    async def work(session: AsyncSession) -> None:
        rows, total = await accounts.list_accounts(
            session, cli_principal(), kind=kind, limit=10_000
        )
        table = Table(title=f"{total} accounts")
        for column in ("user name", "name", "kind", "roles", "TOTP", "status"):
            table.add_column(column)
        for a in rows:
            status = "locked" if a.locked_until else ("active" if a.active else "deactivated")
            table.add_row(
                a.username,
                a.display_name,
                a.kind,
                ",".join(a.roles),
                "on" if a.totp_enabled else "off",
                status,
            )
        console.print(table)

    run(work, database_url)


@users_app.command("create")
def users_create(
    username: str,
    kind: Annotated[
        str, typer.Option(help="citizen, enterprise, staff, supervisor, admin, system or device")
    ],
    name: Annotated[str, typer.Option(help="Display name")],
    department: Annotated[str | None, typer.Option(help="Department code, e.g. GAJ")] = None,
    role: Annotated[list[str] | None, typer.Option(help="Extra role: auditor, security")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from standard input instead of generating one",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account; prints a generated password once."""
    from smartcity.core import accounts
    from smartcity.core.schemas import AccountCreate

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        data = AccountCreate(
            username=username,
            display_name=name,
            kind=kind,
            department_code=department,
            roles=role or [],
            password=password,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc

    async def work(session: AsyncSession) -> str | None:
        _account, generated = await accounts.create_account(session, cli_principal(), data)
        return generated

    generated = run(work, database_url)
    console.print(f"Created {username}.")
    if generated:
        console.print(
            f"Initial password (shown once, must be changed at first sign-in): "
            f"[bold]{generated}[/bold]"
        )


@users_app.command("set-roles")
def users_set_roles(
    username: str,
    role: Annotated[
        list[str] | None, typer.Option(help="Role to hold; repeat. None: no roles")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Replace the extra roles of an account."""
    from smartcity.core import accounts
    from smartcity.core.schemas import AccountUpdate

    run(
        lambda s: accounts.update_account(
            s, cli_principal(), username, AccountUpdate(roles=role or [])
        ),
        database_url,
    )
    console.print(f"Roles of {username}: {', '.join(role or []) or '(none)'}.")


@users_app.command("deactivate")
def users_deactivate(username: str, database_url: DatabaseUrl = None) -> None:
    """Deactivate an account and end its sessions."""
    from smartcity.core import accounts
    from smartcity.core.schemas import AccountUpdate

    run(
        lambda s: accounts.update_account(
            s, cli_principal(), username, AccountUpdate(active=False)
        ),
        database_url,
    )
    console.print(f"Deactivated {username}.")


@users_app.command("activate")
def users_activate(username: str, database_url: DatabaseUrl = None) -> None:
    """Reactivate an account."""
    from smartcity.core import accounts
    from smartcity.core.schemas import AccountUpdate

    run(
        lambda s: accounts.update_account(s, cli_principal(), username, AccountUpdate(active=True)),
        database_url,
    )
    console.print(f"Activated {username}.")


@users_app.command("reset-password")
def users_reset_password(username: str, database_url: DatabaseUrl = None) -> None:
    """Generate a new password (shown once); also lifts a lockout."""
    from smartcity.core import accounts

    password = run(lambda s: accounts.reset_password(s, cli_principal(), username), database_url)
    console.print(
        f"New password for {username} (must be changed at sign-in): [bold]{password}[/bold]"
    )


@users_app.command("reset-totp")
def users_reset_totp(username: str, database_url: DatabaseUrl = None) -> None:
    """For a lost authenticator: the account sets up TOTP again at its next sign-in."""
    from smartcity.core import accounts

    run(lambda s: accounts.reset_totp(s, cli_principal(), username), database_url)
    console.print(f"Two-factor sign-in of {username} was reset.")


# --- departments -------------------------------------------------------------------------


@departments_app.command("list")
def departments_list(database_url: DatabaseUrl = None) -> None:
    """List departments."""
    from smartcity.core import accounts

    async def work(session: AsyncSession) -> None:
        table = Table()
        for column in ("code", "name", "English name", "status"):
            table.add_column(column)
        for d in (await session.execute(accounts.readable_departments())).scalars():
            table.add_row(d.code, d.name, d.name_en, "active" if d.active else "deactivated")
        console.print(table)

    run(work, database_url)


@departments_app.command("create")
def departments_create(
    code: str,
    name: str,
    name_en: Annotated[str, typer.Option("--name-en", help="English name")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create a department, e.g. `smartcity departments create SWJ 水务局`."""
    from smartcity.core import accounts
    from smartcity.core.schemas import DepartmentCreate

    try:
        data = DepartmentCreate(code=code, name=name, name_en=name_en)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    run(lambda s: accounts.create_department(s, cli_principal(), data), database_url)
    console.print(f"Created department {code} {name}.")


# --- API keys ----------------------------------------------------------------------------


@keys_app.command("issue")
def keys_issue(
    username: str,
    name: Annotated[str, typer.Option(help="What the key is for")] = "key",
    database_url: DatabaseUrl = None,
) -> None:
    """Issue an API key to a system or device account; the key is printed once."""
    from smartcity.core import accounts

    async def work(session: AsyncSession) -> str:
        _row, key = await accounts.issue_api_key(
            session, cli_principal(), username=username, name=name
        )
        return key

    key = run(work, database_url)
    console.print(f"API key for {username} (shown once): [bold]{key}[/bold]")


@keys_app.command("revoke")
def keys_revoke(prefix: str, database_url: DatabaseUrl = None) -> None:
    """Revoke an API key by its prefix (the part after sck_)."""
    from smartcity.core import accounts

    run(lambda s: accounts.revoke_api_key(s, cli_principal(), prefix), database_url)
    console.print(f"Revoked key {prefix}.")


@keys_app.command("list")
def keys_list(database_url: DatabaseUrl = None) -> None:
    """List API keys (never the keys themselves)."""
    from smartcity.core import accounts

    async def work(session: AsyncSession) -> None:
        table = Table()
        for column in ("prefix", "account", "name", "expires", "revoked", "last used"):
            table.add_column(column)
        rows = (await session.execute(accounts.readable_api_keys(cli_principal()))).scalars()
        from smartcity.core.models import Account

        for k in rows:
            account = await session.get(Account, k.account_id)
            table.add_row(
                k.prefix,
                account.username if account else "?",
                k.name,
                str(k.expires_at or ""),
                str(k.revoked_at or ""),
                str(k.last_used_at or ""),
            )
        console.print(table)

    run(work, database_url)


# --- audit -------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(database_url: DatabaseUrl = None) -> None:
    """Check the whole audit trail against its seal and the signed checkpoints; exit 1 and
    name the first broken entry, or the checkpoint contradicted, if it was altered."""
    from smartcity.core import audit
    from smartcity.settings import get_settings

    verdict = run(lambda s: audit.verify(s, get_settings().resolved_secret()), database_url)
    if verdict.intact:
        console.print(
            f"[green]intact[/green]: {verdict.checked} entries, chain and seal verified"
            f" against {verdict.checkpoints} signed checkpoint(s)."
        )
        return
    console.print(
        f"[red]BROKEN[/red] at entry {verdict.first_broken_seq}: {verdict.reason} "
        f"({verdict.checked} entries verified before it)."
    )
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(database_url: DatabaseUrl = None) -> None:
    """Sign the audit trail's and the exchange log's heads now, outside the database."""
    from smartcity.core import checkpoints

    checkpoint = run(lambda s: checkpoints.take(s), database_url)
    heads = checkpoint.body["chains"].items()
    chains = ", ".join(f"{name} at entry {head['seq']}" for name, head in heads)
    console.print(
        f"checkpoint {checkpoint.number} ({checkpoint.signature.algorithm}) written to "
        f"{checkpoints.path()}: {chains}."
    )


@audit_app.command("tail")
def audit_tail(
    n: Annotated[int, typer.Option("-n", help="How many entries")] = 20,
    database_url: DatabaseUrl = None,
) -> None:
    """Show the newest entries."""
    from sqlalchemy import select

    from smartcity.core.models import AuditEntry

    async def work(session: AsyncSession) -> None:
        rows = (
            (await session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(n)))
            .scalars()
            .all()
        )
        table = Table()
        for column in ("seq", "at (UTC)", "actor", "action", "target", "outcome"):
            table.add_column(column)
        for e in reversed(rows):
            table.add_row(
                str(e.seq),
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                e.target,
                e.outcome,
            )
        console.print(table)

    run(work, database_url)


# --- backup and restore (灾难备份) ----------------------------------------------------------


def _core_work(work: Callable[[], Coroutine[Any, Any, T]], database_url: str | None) -> T:
    """Run a core operation that opens its own connections; problems exit with code 1."""
    from smartcity.core.errors import Problem

    _settings(database_url)
    try:
        return asyncio.run(work())
    except Problem as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from exc


@app.command("backup")
def backup_command(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to write it (default: backup_dir)")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Back up the database (SQLite online backup; pg_dump on PostgreSQL) with a manifest."""
    from smartcity.core import backup
    from smartcity.settings import get_settings

    result = _core_work(lambda: backup.backup(get_settings(), directory=directory), database_url)
    console.print(
        f"backup written: {result.dump} ({result.manifest['bytes']} bytes, "
        f"{result.manifest['seconds']} s); manifest {result.manifest_path}"
    )
    for removed in result.removed:
        console.print(f"removed (retention): {removed}")


@app.command("restore")
def restore_command(
    manifest: Annotated[Path, typer.Argument(help="The backup's .manifest.json")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that is in use")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Restore a backup into a fresh database; ids move past what was handed out."""
    from smartcity.core import backup
    from smartcity.settings import get_settings

    report = _core_work(lambda: backup.restore(manifest, get_settings(), force=force), database_url)
    console.print(
        f"restored the backup of {report.manifest['at']} in {report.seconds} s; "
        f"{len(report.advanced)} id counters moved past the newest known positions."
    )
    if report.not_advanced:
        console.print(
            "ids of these tables are max + 1 in SQLite and cannot be moved: "
            + ", ".join(report.not_advanced)
        )
    for lost in report.lost:
        console.print(f"[red]lost[/red]: {lost.describe()}")
    if not report.lost:
        console.print("no checkpoint newer than the backup: nothing is known to be lost.")


# --- working-day calendar (工作日历) ---------------------------------------------------------

workdays_app = typer.Typer(
    help="The working-day calendar (工作日): holidays and make-up working days (调休).",
    no_args_is_help=True,
)
app.add_typer(workdays_app, name="workdays")

_SOURCE_LABELS = {
    "entered": "entered by an administrator",
    "official_package": "official calendar package (chinese-calendar)",
    "weekend_rule": "weekends only: PROVISIONAL, no notice entered for this year",
}


@workdays_app.command("enter")
def workdays_enter(
    year: int,
    file: Annotated[
        typer.FileText,
        typer.Argument(
            encoding="utf-8",
            help="Lines like '2027-02-06..2027-02-12 holiday 春节' or "
            "'2027-02-20 workday 春节调休'; '-' reads standard input",
        ),
    ],
    notice: Annotated[
        str, typer.Option(help="The notice the dates come from, e.g. 国办发明电〔2026〕X号")
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Enter (or replace) a year's public holidays and make-up working days from a file."""
    from rich.markup import escape

    from smartcity.core import workdays
    from smartcity.core.errors import Problem

    try:
        entries = workdays.parse_year_entries(file.read(), year)
    except Problem as exc:
        items = exc.extensions.get("errors") or []
        err.print(
            f"[red]error:[/red] {escape(file.name)}: "
            + ("it has errors:" if items else escape(exc.detail))
        )
        for item in items:
            where = f"line {item['line']}: " if item.get("line") else ""
            err.print(f"  {where}{escape(str(item['message']))}")
        raise typer.Exit(2) from exc
    run(
        lambda s: workdays.enter_year(
            s, cli_principal(), year=year, entries=entries, notice=notice
        ),
        database_url,
    )
    holidays = sum(1 for e in entries if not e.is_workday for _ in e.days())
    makeup = sum(1 for e in entries if e.is_workday for _ in e.days())
    console.print(
        f"Entered {year}: {holidays} holiday days and {makeup} make-up working days "
        f"({notice}). Provisional deadlines in {year} are counted with it from now on."
    )


@workdays_app.command("show")
def workdays_show(year: int, database_url: DatabaseUrl = None) -> None:
    """Show a year's holidays, make-up working days and working days per month."""
    from smartcity.core import workdays

    overview = run(lambda s: workdays.year_overview(s, year), database_url)
    style = "[bold red]" if overview.provisional else "[bold]"
    console.print(
        f"{year}: {style}{_SOURCE_LABELS[overview.source]}[/]"
        + (f" — {overview.notice} ({overview.entered_by})" if overview.notice else "")
    )
    weekdays = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    days = Table(title=f"Holidays and make-up working days {year}")
    for column in ("date", "day", "kind", "name", "differs from weekends"):
        days.add_column(column)
    for d in overview.days:
        days.add_row(
            d.date.isoformat(),
            weekdays[d.date.weekday()],
            "make-up workday" if d.is_workday else "holiday",
            d.name,
            "yes" if d.differs_from_weekend_rule else "",
        )
    if overview.days:
        console.print(days)
    else:
        console.print("No holidays or make-up working days: only weekends are days off.")
    months = Table(title=f"Working days per month, {overview.total_workdays} in {year}")
    months.add_column("month")
    months.add_column("working days", justify="right")
    for month, count in enumerate(overview.month_workdays, start=1):
        months.add_row(f"{year}-{month:02d}", str(count))
    console.print(months)


@workdays_app.command("deadline")
def workdays_deadline(
    start: Annotated[
        str,
        typer.Argument(help="YYYY-MM-DD or an ISO datetime; Asia/Shanghai when it has no offset"),
    ],
    days: Annotated[int, typer.Argument(min=0, help="The time limit in working days")],
    database_url: DatabaseUrl = None,
) -> None:
    """When a time limit of DAYS working days from START ends (the start day is not counted)."""
    from datetime import datetime

    from smartcity.core import clock, workdays

    try:
        instant = datetime.fromisoformat(start)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {start!r} is not YYYY-MM-DD or an ISO datetime.")
        raise typer.Exit(2) from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=clock.CITY_TZ)
    calendar = run(workdays.load_calendar, database_url)
    try:
        deadline = calendar.add_workdays(instant, days)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"Due by 24:00 on {deadline.due_date.isoformat()} Asia/Shanghai "
        f"({deadline.at.strftime('%Y-%m-%dT%H:%M:%SZ')})."
    )
    if deadline.provisional:
        console.print(
            "[bold red]Provisional[/]: it crosses a year whose holidays are not "
            "entered yet (weekends only); enter that year's notice to confirm it."
        )


# --- signatures ----------------------------------------------------------------------------

signing_keys_app = typer.Typer(
    help="The platform's signing keys (SM2, P-256).", no_args_is_help=True
)
app.add_typer(signing_keys_app, name="signing-keys")


@app.command()
def sign(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    algorithm: Annotated[str, typer.Option(help="SM2 (GM/T 0003) or P-256")] = "SM2",
    out: Annotated[
        Path | None, typer.Option(help="Where to write the signature; default FILE.sig")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Sign a document with the platform's key; writes a detached signature (JSON)."""
    from smartcity.core import signatures

    document = file.read_bytes()
    signature = run(
        lambda s: signatures.sign_document(
            s, cli_principal(), algorithm=algorithm, document=document, name=file.name
        ),
        database_url,
    )
    target = out or file.with_name(file.name + ".sig")
    target.write_text(signature.to_json() + "\n", encoding="utf-8")
    console.print(
        f"Signed {file} with {algorithm} key {signature.key_fingerprint[:16]}…; "
        f"signature in {target}"
    )


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    signature_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    database_url: DatabaseUrl = None,
) -> None:
    """Check a document against its detached signature; exit 1 if it does not verify."""
    from smartcity.core import signatures

    document, sig = file.read_bytes(), signature_file.read_bytes()
    result, key = run(
        lambda s: signatures.verify_document(s, document=document, signature_json=sig), database_url
    )
    if result.valid:
        assert key is not None
        state = "active" if key.active else f"retired {key.retired_at:%Y-%m-%d}"
        console.print(
            f"[green]valid[/green]: {result.reason} ({key.algorithm} key "
            f"{key.fingerprint[:16]}…, {state})."
        )
        return
    console.print(f"[red]NOT VALID[/red]: {result.reason}.")
    raise typer.Exit(1)


@signing_keys_app.command("list")
def signing_keys_list(database_url: DatabaseUrl = None) -> None:
    """List the signing keys (public parts only)."""
    from smartcity.core import signatures

    async def work(session: AsyncSession) -> None:
        table = Table()
        for column in ("algorithm", "fingerprint", "created", "state"):
            table.add_column(column)
        for key in (await session.execute(signatures.readable_keys())).scalars():
            table.add_row(
                key.algorithm,
                key.fingerprint,
                f"{key.created_at:%Y-%m-%d %H:%M}",
                "active" if key.active else f"retired {key.retired_at:%Y-%m-%d}",
            )
        console.print(table)

    run(work, database_url)


@signing_keys_app.command("rotate")
def signing_keys_rotate(
    algorithm: Annotated[str, typer.Argument(help="SM2 or P-256")], database_url: DatabaseUrl = None
) -> None:
    """Retire the active key of an algorithm and generate a new one."""
    from smartcity.core import signatures

    key = run(lambda s: signatures.rotate_key(s, cli_principal(), algorithm), database_url)
    console.print(f"New {algorithm} key {key.fingerprint}.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
