"""Commands of the demo package that sit in other modules' groups: ``smartcity sensing
simulate`` drives simulated devices against a server. Declared in the demo's MODULE as
``GroupCommand``s, so the sensing engine does not import the demo."""

from __future__ import annotations

import typer

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="SMARTCITY_DATABASE_URL",
    help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
)


def simulate_command(
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
