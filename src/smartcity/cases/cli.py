"""`smartcity cases ...`: the case engine's commands for operators."""

from __future__ import annotations

import typer

cli = typer.Typer(help="The case engine (办件引擎): clocks, cases, flags.", no_args_is_help=True)

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="SMARTCITY_DATABASE_URL",
    help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
)


@cli.command("sweep")
def sweep(database_url: str | None = DatabaseUrl) -> None:
    """Raise the yellow and red warnings due now (the job does this every minute)."""
    # Imported here: smartcity.cli imports every module's CLI while it is being imported.
    from smartcity.cases import clocks
    from smartcity.core.cli import console, run

    raised = run(lambda s: clocks.sweep_warnings(s), database_url)
    console.print(f"{raised} warnings raised.")


@cli.command("show")
def show(number: str, database_url: str | None = DatabaseUrl) -> None:
    """A case's facts, clocks and timeline, by its number (e.g. SQ-20261009-000001)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.cases import service
    from smartcity.cases.deadline import case_deadline
    from smartcity.cases.models import Case
    from smartcity.cases.types import get_case_type
    from smartcity.core import clock
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.core.i18n import gettext
    from smartcity.core.workdays import load_calendar

    async def load(session: AsyncSession) -> list[str] | None:
        principal = cli_principal()
        found = (
            await session.execute(
                service.readable_cases(principal).where(Case.number == number.strip())
            )
        ).scalar_one_or_none()
        if found is None:
            return None
        ct = get_case_type(found.case_type)
        lines = [
            f"{found.number}  {found.title}",
            f"type {gettext(ct.title)} ({found.case_type}), "
            f"state {gettext(ct.state(found.state).title)}",
            f"limits {found.statutory_days}/{found.promised_days or '-'} working days; "
            f"statutory due {clock.to_city(found.statutory_due_at):%Y-%m-%d %H:%M} "
            f"[{found.statutory_warning}]",
        ]
        if found.promised_due_at is not None:
            lines.append(
                f"promised due {clock.to_city(found.promised_due_at):%Y-%m-%d %H:%M} "
                f"[{found.promised_warning}]"
            )
        deadline = case_deadline(found, await load_calendar(session), clock.now())
        lines.append(
            f"deadline ({deadline.clock}): last day {deadline.due_date.isoformat()}, "
            f"{deadline.remaining} working days left, {deadline.state}"
        )
        if found.closed_at is not None:
            lines.append(
                f"closed {clock.to_city(found.closed_at):%Y-%m-%d %H:%M}, "
                f"{found.handled_workdays} working days, on time: {found.on_time}"
            )
        for event in await service.timeline(session, principal, found.id):
            lines.append(
                f"  {clock.to_city(event.at):%Y-%m-%d %H:%M}  {event.kind:<10} {event.name:<20} "
                f"{event.actor}  {event.data or ''}"
            )
        return lines

    lines = run(load, database_url)
    if lines is None:
        console.print(f"[red]There is no case {number}.[/red]")
        raise typer.Exit(1)
    for line in lines:
        console.print(line, highlight=False, markup=False)


@cli.command("flags")
def open_flags(database_url: str | None = DatabaseUrl) -> None:
    """The irregularities (电子监察异常) no supervisor has reviewed yet."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.cases import flags
    from smartcity.core import clock
    from smartcity.core.cli import cli_principal, console, run

    async def load(session: AsyncSession) -> list[str]:
        rows = await flags.list_flags(session, cli_principal(), limit=1000)
        return [
            f"{clock.to_city(flag.raised_at):%Y-%m-%d %H:%M}  {case_.number}  {flag.kind}  "
            f"{flag.detail}"
            for flag, case_ in rows
        ]

    lines = run(load, database_url)
    for line in lines:
        console.print(line, highlight=False, markup=False)
    console.print(f"{len(lines)} open flags.")


@cli.command("urges")
def open_urges(database_url: str | None = DatabaseUrl) -> None:
    """The urgings (督办) no department has replied to yet, the overdue marked."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.cases.service import urging
    from smartcity.cases.views import due_day
    from smartcity.core import clock
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.core.i18n import gettext as _

    async def load(session: AsyncSession) -> list[str]:
        now = clock.now()
        rows = await urging.list_urges(session, cli_principal(), open_only=True, limit=500)
        lines = []
        for u, case_ in rows:
            due = _("reply due %(day)s") % {"day": due_day(u.reply_due_at)}
            late = "  " + _("OVERDUE") if urging.is_overdue(u, now) else ""
            lines.append(
                f"{clock.to_city(u.urged_at):%Y-%m-%d %H:%M}  {case_.number}  {due}{late}  {u.note}"
            )
        return lines

    lines = run(load, database_url)
    for line in lines:
        console.print(line, highlight=False, markup=False)
    console.print(_("%(n)s urgings await a reply.") % {"n": len(lines)})
