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


@cli.command("simulate")
def simulate(
    devices: int = typer.Option(300, "--devices", help="How many simulated devices to drive"),
    rate: float = typer.Option(100.0, "--rate", help="Observations per second, in all"),
    url: str = typer.Option(
        "http://127.0.0.1:8000", "--url", help="The server to load (its /sta/v1.1)"
    ),
    mqtt_url: str | None = typer.Option(
        None, "--mqtt", help="mqtt://host:1883: publish over MQTT instead of HTTP"
    ),
    duration: float | None = typer.Option(
        None, "--duration", help="Stop after this many seconds (default: at Ctrl-C)"
    ),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Drive load: N simulated devices (created when missing) send R observations per
    second in all, batched CreateObservations over HTTP (or MQTT with --mqtt), with a live
    progress line: elapsed, sent, accepted, refused, obs/s, p50/p99 latency."""
    import asyncio

    from smartcity.core.cli import cli_principal, console, run
    from smartcity.demo import simulate_load as load
    from smartcity.demo.simulate import Stats

    if devices <= 0:
        raise typer.BadParameter("must be at least 1.", param_hint="--devices")
    if rate <= 0:
        raise typer.BadParameter("must be more than 0.", param_hint="--rate")
    if duration is not None and duration <= 0:
        raise typer.BadParameter("must be more than 0 seconds.", param_hint="--duration")
    try:
        url = load.check_http_url(url)
        if mqtt_url:
            mqtt_url = load.check_mqtt_url(mqtt_url)
        else:
            asyncio.run(load.probe(url))
    except load.SetupError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from exc

    principal = cli_principal()
    streams, keys = run(lambda s: load.prepare(s, principal, devices), database_url)
    things = len({s.thing_id for s in streams})
    target = f"MQTT {mqtt_url}" if mqtt_url else url
    console.print(
        f"Driving {things} devices ({len(streams)} datastreams) at {rate:g} obs/s against "
        f"{target}" + (f" for {duration:g} s." if duration else "; Ctrl-C stops.")
    )
    holder: list[Stats] = []
    try:
        asyncio.run(
            load.drive(
                streams,
                keys,
                url=url,
                rate=rate,
                mqtt_url=mqtt_url,
                duration=duration,
                console=console,
                stats_out=holder,
            )
        )
    except KeyboardInterrupt:
        console.print("Stopped.")
    finally:
        run(lambda s: load.revoke_keys(s, principal), database_url)
    stats = holder[0] if holder else Stats()
    console.print(f"Sent {stats.sent:,}, accepted {stats.accepted:,}, refused {stats.refused:,}.")
    if stats.sent and not stats.accepted:
        console.print("[red]error:[/red] the server accepted no observation (see the log).")
        raise typer.Exit(1)


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
