"""`smartcity exchange ...`: the exchange's commands."""

from __future__ import annotations

import typer

cli = typer.Typer(help="The data exchange (政务信息资源共享交换).", no_args_is_help=True)


@cli.command("verify-log")
def verify_log(
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="SMARTCITY_DATABASE_URL",
        help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
    ),
) -> None:
    """Check the whole exchange message log; exit 1 naming the first altered entry."""
    # Imported here: smartcity.cli imports every module's CLI while it is being imported.
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.exchange import evidence

    verdict = run(lambda s: evidence.verify_log(s, cli_principal()), database_url)
    if verdict.intact:
        console.print(
            f"[green]intact[/green]: {verdict.checked} exchange messages, chain and seal verified."
        )
        return
    console.print(
        f"[red]BROKEN[/red] at message {verdict.first_broken_seq}: {verdict.reason} "
        f"({verdict.checked} messages verified before it)."
    )
    raise typer.Exit(1)


@cli.command("seed-demo")
def seed_demo(
    database_url: str | None = typer.Option(
        None, "--database-url", envvar="SMARTCITY_DATABASE_URL"
    ),
) -> None:
    """Add the demo catalog and its grant (needs the seeded departments)."""
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.exchange.seed import seed_demo_catalog

    added = run(lambda s: seed_demo_catalog(s, cli_principal()), database_url)
    console.print(f"{added} catalog entries and grants added.")
