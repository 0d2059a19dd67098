"""`smartcity registry ...`: bulk import and export, point resolution, account links, data
quality and the demo registries, for the operator on the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import NotFound
from smartcity.registry.models import ImportRun

cli = typer.Typer(
    help="Base registries: import, export, resolve points, link accounts, data quality.",
    no_args_is_help=True,
)
import_cli = typer.Typer(help="Bulk import with a progress bar; resumable.", no_args_is_help=True)
export_cli = typer.Typer(help="Streaming export, masked by default.", no_args_is_help=True)
cli.add_typer(import_cli, name="import")
cli.add_typer(export_cli, name="export")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="SMARTCITY_DATABASE_URL",
        help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
    ),
]
Department = Annotated[
    str | None,
    typer.Option(help="Code of the department the records come from; default: the source"),
]
Rejects = Annotated[
    Path | None,
    typer.Option(help="Where bad rows go, with the reason; default FILE.rejects.csv"),
]
BatchSize = Annotated[int | None, typer.Option("--batch-size", min=1, help="Rows per transaction")]
InputFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


class RowsPerSecond(ProgressColumn):
    """The import's speed."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


def _import(
    record_type: str,
    file: Path,
    department: str | None,
    rejects: Path | None,
    batch_size: int | None,
    database_url: str | None,
) -> None:
    from smartcity.core.cli import cli_principal, console, run_with_database
    from smartcity.registry import importing

    principal = cli_principal()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RowsPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rejected]} rejected"),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(f"{record_type} {file.name}", total=None, rejected=0)

        def on_start(run: ImportRun, total: int) -> None:
            bar.update(task, total=total, completed=run.rows_done, rejected=run.rejected)
            bar.reset(task, total=total, completed=run.rows_done, rejected=run.rejected)

        def progress(done: int, _accepted: int, rejected: int) -> None:
            bar.update(task, completed=done, rejected=rejected)

        outcome = run_with_database(
            lambda db: importing.import_file(
                db,
                principal,
                record_type,
                file,
                department_code=department,
                rejects_path=rejects,
                batch_size=batch_size,
                progress=progress,
                on_start=on_start,
            ),
            database_url,
        )
    run = outcome.run
    if outcome.already_done:
        console.print(
            f"This file was imported already (run {run.id}, {run.finished_at:%Y-%m-%d %H:%M} "
            f"UTC): {run.accepted:,} accepted, {run.rejected:,} rejected. Nothing to do."
        )
        return
    if outcome.resumed_from:
        console.print(f"Resumed an unfinished run after row {outcome.resumed_from:,}.")
    console.print(
        f"Imported {run.record_type} from {run.source_name}: {run.rows_done:,} rows, "
        f"{run.accepted:,} accepted, {run.rejected:,} rejected (run {run.id})."
    )
    if run.rejected:
        console.print(f"Rejected rows and their reasons: {run.rejects_path}")


def _import_command(name: str, record_type: str, doc: str) -> Callable[..., None]:
    """One ``import`` subcommand (导入): the three registries take the same file and options."""

    def command(
        file: InputFile,
        department: Department = None,
        rejects: Rejects = None,
        batch_size: BatchSize = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        _import(record_type, file, department, rejects, batch_size, database_url)

    # Typer shows the docstring as the command's help.
    command.__doc__ = doc
    command.__name__ = command.__qualname__ = f"import_{name}"
    return import_cli.command(name)(command)


import_persons = _import_command(
    "persons", "person", "Import persons (人口库) from CSV; see docs/registry.md for the columns."
)
import_organizations = _import_command(
    "organizations",
    "organization",
    "Import organizations (法人库) from CSV; legal representatives by ID number.",
)
import_places = _import_command(
    "places",
    "place",
    "Import places (地理空间库) from a GeoJSON FeatureCollection; existing codes update.",
)


@export_cli.command("persons")
def export_persons(
    out: Annotated[Path, typer.Option("--out", help="The file to write", dir_okay=False)],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl")] = "csv",
    unmasked: Annotated[
        bool,
        typer.Option(
            "--unmasked", help="Full ID numbers, phones and addresses (audited; operator only)"
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Export every person, streaming, in the import columns (masked unless --unmasked)."""
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.registry import exporting

    if fmt not in exporting.EXPORT_FORMATS:
        raise typer.BadParameter("use csv or jsonl", param_hint="--format")

    async def work(session: AsyncSession) -> int:
        with out.open("w", newline="", encoding="utf-8") as fh:
            return await exporting.export_persons(
                session, cli_principal(), fh, fmt=fmt, unmasked=unmasked
            )

    count = run(work, database_url)
    state = "UNMASKED (the export is in the audit trail)" if unmasked else "masked"
    console.print(f"Exported {count:,} persons to {out} ({fmt}, {state}).")


@cli.command("resolve")
def resolve(
    lon: Annotated[float, typer.Argument(help="WGS 84 longitude, e.g. 114.0579")],
    lat: Annotated[float, typer.Argument(help="WGS 84 latitude, e.g. 22.5431")],
    database_url: DatabaseUrl = None,
) -> None:
    """Which grid, community, street and district a point lies in."""
    from smartcity.core.cli import console, err, run
    from smartcity.registry import places

    found = run(lambda s: places.resolve_point(s, lon, lat), database_url)
    if found is None:
        err.print(f"No grid contains {lon}, {lat}.")
        raise typer.Exit(1)
    for ref in found.chain:
        console.print(f"{places.kind_label(ref.kind):<8} {ref.code:<18} {ref.name}")


@cli.command("link-account")
def link_account(
    username: Annotated[str, typer.Argument(help="The citizen's or enterprise's user name")],
    id_number: Annotated[
        str,
        typer.Argument(
            help="The person's resident ID number; for an enterprise account, the "
            "organization's unified social credit code"
        ),
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Link a citizen's account to their person record (for 我的数据), or an enterprise's
    account to its organization's record (for applying online, 免提交)."""
    from sqlalchemy import select

    from smartcity.core.cli import cli_principal, console, run
    from smartcity.core.ids import mask_resident_id
    from smartcity.core.models import Account
    from smartcity.registry import organizations, service, validation
    from smartcity.registry.models import Organization, Person

    async def work(session: AsyncSession) -> str:
        principal = cli_principal()
        kind = (
            await session.execute(select(Account.kind).where(Account.username == username))
        ).scalar_one_or_none()
        if kind == "enterprise":
            code = validation.check_uscc(id_number)
            org_query = organizations.readable_organizations(principal).where(
                Organization.uscc == code
            )
            org = (await session.execute(org_query)).scalar_one_or_none()
            if org is None:
                raise NotFound(f"No organization with unified social credit code {code}.")
            await organizations.link_account(
                session, principal, organization_id=org.id, username=username
            )
            return code
        number = validation.check_resident_id(id_number).number
        query = service.readable_persons(principal).where(Person.id_number == number)
        person = (await session.execute(query)).scalar_one_or_none()
        if person is None:
            raise NotFound(f"No person with ID number {mask_resident_id(number)}.")
        await service.link_account(session, principal, person_id=person.id, username=username)
        return _masked(number)

    shown = run(work, database_url)
    console.print(f"Linked {username} to {shown}.")


def _masked(number: str) -> str:
    from smartcity.core.ids import InvalidIdentifier, mask_resident_id

    try:
        return mask_resident_id(number)
    except InvalidIdentifier:
        return "****"


@cli.command("quality")
def quality(
    record_type: Annotated[
        str | None, typer.Option("--record-type", help="person or organization; default both")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the data-quality rules now and print the open problems per department and field."""
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.registry import quality as rules

    async def work(session: AsyncSession) -> list[rules.ReportRow]:
        principal = cli_principal()
        for kind in [record_type] if record_type else rules.CHECKED_TYPES:
            done = await rules.run_quality_checks(session, principal, kind)
            console.print(
                f"{kind}: {done.open:,} open problems ({done.added:,} new, "
                f"{done.resolved:,} resolved)"
            )
        return await rules.quality_report(session, principal)

    rows = run(work, database_url)
    table = Table(title="Open data-quality problems")
    for column in ("department", "registry", "field", "rule", "open"):
        table.add_column(column, justify="right" if column == "open" else "left")
    for row in rows:
        table.add_row(
            f"{row.department_code} {row.department_name}",
            row.record_type,
            row.field,
            row.rule,
            f"{row.open:,}",
        )
    console.print(table)


@cli.command("demo")
def demo(
    persons: Annotated[int, typer.Option(min=0, help="How many residents")] = 10_000,
    organizations: Annotated[int, typer.Option(min=0, help="How many organizations")] = 2_000,
    database_url: DatabaseUrl = None,
) -> None:
    """Seed the demo registries (once): places, persons, organizations, quality issues."""
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.registry import demo as seeding

    counts = run(
        lambda s: seeding.seed_demo(
            s, cli_principal(), persons=persons, organizations=organizations
        ),
        database_url,
    )
    if counts.persons == 0:
        console.print("The registries hold data already; the demo seeds only an empty one.")
        return
    console.print(counts.describe())
