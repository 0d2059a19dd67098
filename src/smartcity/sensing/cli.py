"""`smartcity sensing ...`: the sensing engine's commands for operators."""

from __future__ import annotations

import typer

cli = typer.Typer(
    help="The sensing engine (物联感知): retention, simulated load, MQTT broker sync.",
    no_args_is_help=True,
)

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="SMARTCITY_DATABASE_URL",
    help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
)


@cli.command("retention")
def retention(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only count, per datastream, the Observations that would go"
    ),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Delete Observations older than their datastream's retention (the daily job does this
    too, at most 200 000 rows per run)."""
    # Imported here: smartcity.cli imports every module's CLI while it is being imported.
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import cli_principal, console, run
    from smartcity.sensing import jobs as retention

    async def work(session: AsyncSession) -> list[retention.RetentionItem]:
        return await retention.apply_retention(session, cli_principal(), dry_run=dry_run)

    items = run(work, database_url)
    verb = "would delete" if dry_run else "deleted"
    if not items:
        console.print("No datastream has a retention.")
    for item in items:
        console.print(
            f"{item.kind}s({item.stream_id}) {item.name}: keep {item.days} days, "
            f"before {item.cutoff:%Y-%m-%dT%H:%M:%SZ}: {verb} {item.count}"
        )
    total = sum(item.count for item in items)
    console.print(f"{verb} {total} observations in all.")


@cli.command("mqtt-sync")
def mqtt_sync(database_url: str | None = DatabaseUrl) -> None:
    """Rebuild the Mosquitto dynamic-security clients, roles and ACLs from the database (the
    broker at SMARTCITY_MQTT_URL, as SMARTCITY_MQTT_USERNAME): every device's password from its
    newest API key, its publish topics, the readers' ACLs, the anonymous group."""
    import aiomqtt
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import console, run
    from smartcity.sensing.mqtt import dynsec
    from smartcity.settings import get_settings

    async def work(session: AsyncSession) -> dynsec.SyncReport:
        settings = get_settings()  # as `run` configured it, with --database-url
        if not settings.mqtt_url:
            raise typer.BadParameter("set SMARTCITY_MQTT_URL=mqtt://host:1883", param_hint="env")
        async with dynsec.Control(settings) as control:
            return await dynsec.sync_all(session, control, settings)

    try:
        report = run(work, database_url)
    except (dynsec.DynsecError, aiomqtt.MqttError, ValueError) as exc:
        console.print(f"[red]error:[/red] the MQTT broker: {exc}")
        raise typer.Exit(1) from exc
    for name, outcome in sorted(report.accounts.items()):
        console.print(f"{name}: {outcome}")
    console.print(f"{len(report.accounts)} accounts, {report.commands} commands sent.")
