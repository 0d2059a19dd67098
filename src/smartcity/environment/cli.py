"""`smartcity environment ...`: air quality for operators (空气质量)."""

from __future__ import annotations

from datetime import date

import typer

cli = typer.Typer(
    help="Air quality (空气质量): current table, report catch-up, alert rules.",
    no_args_is_help=True,
)

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="SMARTCITY_DATABASE_URL",
    help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        from smartcity.core.cli import err

        err.print(f"[red]error:[/red] {option} must be a date such as 2026-03-01, not {text!r}.")
        raise typer.Exit(2) from None


@cli.command("air")
def air(database_url: str | None = DatabaseUrl) -> None:
    """The air stations with their current hourly AQI."""
    # Imported here: smartcity.cli imports every module's CLI while it is being imported.
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import cli_principal, console, run
    from smartcity.core.clock import to_city
    from smartcity.environment import views

    async def work(session: AsyncSession) -> list[views.StationView]:
        return await views.station_views(session, cli_principal())

    rows = run(work, database_url)
    if not rows:
        console.print("No air stations yet.")
        return
    for view in rows:
        s, latest = view.station, view.latest
        if latest is None:
            console.print(f"{s.id:>5}  {s.code:<10} {s.name}: no readings yet")
            continue
        category = view.category
        primary = ", ".join(latest.parameters.get("primaryPollutants") or []) or "-"
        console.print(
            f"{s.id:>5}  {s.code:<10} {s.name}: AQI {latest.aqi:>3} "
            f"{category.name_zh if category else ''}  primary {primary}  "
            f"{to_city(latest.start):%Y-%m-%d %H:00}  {latest.edition}"
            + ("  (not reporting)" if view.stale else "")
        )


@cli.command("reports")
def reports(
    since: str = typer.Option(..., "--from", help="First day (Asia/Shanghai), e.g. 2026-03-01"),
    until: str = typer.Option(..., "--to", help="Last day, included"),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Compute the hourly and daily reports of a range of days that are not stored yet."""
    first, last = _day(since, "--from"), _day(until, "--to")
    if first > last:
        from smartcity.core.cli import err

        err.print("[red]error:[/red] --from must not be after --to.")
        raise typer.Exit(2)
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import cli_principal, console, run
    from smartcity.environment import compute

    async def work(session: AsyncSession) -> compute.Outcome:
        return await compute.compute_reports(session, cli_principal(), since=first, until=last)

    outcome = run(work, database_url)
    console.print(
        f"{outcome.hours} hourly and {outcome.days} daily reports stored "
        f"for {outcome.stations} stations."
        + (f" {outcome.refused} refused (see the log)." if outcome.refused else "")
    )


@cli.command("alert-rules")
def alert_rules(database_url: str | None = DatabaseUrl) -> None:
    """Make the AQI threshold rules (above 100 warning, above 200 critical) when missing."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import cli_principal, console, run
    from smartcity.environment import alert_rules as rules_

    async def work(session: AsyncSession) -> int:
        return len(await rules_.ensure_alert_rules(session, cli_principal()))

    made = run(work, database_url)
    console.print(f"{made} rules made." if made else "The AQI alert rules are in place.")
