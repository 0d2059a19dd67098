"""`smartcity traffic simulate|controllers|bench`: signal control in SUMO from the command line.

Mounted by the traffic module under ``smartcity traffic``. Needs the traffic-sim extra
(``pip install 'smartcity[traffic-sim]'``); without it the commands say so and exit 2.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import typer

from smartcity.traffic.signals.controllers import CONTROLLERS

cli = typer.Typer(
    help="Adaptive signal control (自适应信号控制) in SUMO: simulate, compare controllers.",
    no_args_is_help=True,
)

DESCRIPTIONS = {
    "fixed": "the network's own fixed-time programs (定时控制)",
    "max-pressure": "max pressure every decision step (RESCO's baseline, 最大压力)",
    "adaptive": "ours: adaptive pressure with approach weighting, min/max green, "
    "spill-back and gridlock guard (自适应压力)",
}


def _fail(message: str, code: int = 2) -> None:
    from smartcity.core.cli import console

    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _check_names(scenario: str, controller: str) -> None:
    from smartcity.traffic.signals import sumo

    if scenario not in sumo.SCENARIOS:
        raise typer.BadParameter(
            f"{scenario!r}: one of {', '.join(sumo.SCENARIOS)}", param_hint="SCENARIO"
        )
    if controller not in CONTROLLERS:
        raise typer.BadParameter(
            f"{controller!r}: one of {', '.join(CONTROLLERS)}", param_hint="--controller"
        )


@cli.command("controllers")
def controllers() -> None:
    """The signal controllers one can choose."""
    from smartcity.core.cli import console

    for name in CONTROLLERS:
        console.print(f"{name:<13} {DESCRIPTIONS.get(name, '')}", highlight=False, markup=False)


def _mqtt_sender(url: str, username: str | None, password: str | None) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
        raise typer.BadParameter("mqtt://host:port", param_hint="--mqtt-url")
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if username:
        client.username_pw_set(username, password)
    client.connect(parsed.hostname, parsed.port or 1883)
    client.loop_start()

    def send(topic: str, payload: bytes) -> None:
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)

    return client, send


@cli.command("simulate")
def simulate(
    scenario: str = typer.Argument(..., help="a RESCO scenario, e.g. grid4x4, cologne1"),
    controller: str = typer.Option("adaptive", help="fixed, max-pressure or adaptive"),
    seed: int = typer.Option(1, min=0, max=2**31 - 1, help="SUMO's --seed"),
    duration: int | None = typer.Option(
        None, min=60, max=86_400, help="simulated seconds (default: the scenario's window)"
    ),
    url: str | None = typer.Option(
        None,
        envvar="SMARTCITY_URL",
        help="stream detectors to this platform, e.g. http://127.0.0.1:8000",
    ),
    token: str | None = typer.Option(
        None, envvar="SMARTCITY_TOKEN", help="an API key allowed to write the detectors' streams"
    ),
    mqtt_url: str | None = typer.Option(
        None, help="publish Observations over MQTT (mqtt://host:1883) instead of HTTP"
    ),
    device: str | None = typer.Option(None, help="MQTT: the device account (user name)"),
    prefix: str = typer.Option("sumo-", help="detector Thing names: <prefix><edge id>"),
    interval: int = typer.Option(60, min=10, max=3600, help="seconds per reading"),
    create_things: bool = typer.Option(False, help="create missing detector Things"),
    check: bool = typer.Option(
        False, help="verify every signal state (min green, yellow, conflicts)"
    ),
) -> None:
    """Run SCENARIO under a controller; print RESCO's delay; optionally stream detectors."""
    import httpx

    from smartcity.core.cli import console
    from smartcity.traffic.signals import stream, sumo

    _check_names(scenario, controller)
    if len(prefix) > 40 or any(c.isspace() or c in "'\"/" for c in prefix):
        raise typer.BadParameter(
            "up to 40 characters, no spaces, quotes or /", param_hint="--prefix"
        )
    reason = sumo.available()
    if reason:
        _fail(f"cannot simulate: {reason}")
    spec = sumo.scenario(scenario)
    hook = None
    mqtt_client = None
    if url:
        if not token:
            raise typer.BadParameter("streaming needs an API key", param_hint="--token")
        edges = _edges_of(scenario)
        http = stream.HttpPublisher(url, token)
        try:
            streams = http.ensure(prefix, edges, create=create_things)
        except (stream.StreamError, OSError, httpx.HTTPError) as exc:
            _fail(str(exc))
        publisher: stream.Publisher = http
        if mqtt_url:
            mqtt_client, send = _mqtt_sender(mqtt_url, device, token)
            publisher = stream.MqttPublisher(send, device)

        def said(now: float, count: int) -> None:
            console.print(f"{now - spec.begin:>6.0f} s  sent {count} observations", highlight=False)

        hook = stream.SimulationFeed(
            stream.DetectorBank(edges, interval),
            publisher,
            streams,
            begin=spec.begin,
            start=datetime.now(UTC),
            on_publish=said,
        )
        console.print(
            f"streaming {len(edges)} detectors every {interval} s to {url}", highlight=False
        )
    try:
        result = sumo.run(
            scenario, controller, seed, duration=duration, check=check, on_second=hook
        )
    except (stream.StreamError, OSError, httpx.HTTPError) as exc:
        _fail(str(exc))
    finally:
        if mqtt_client is not None:
            mqtt_client.loop_stop()
            mqtt_client.disconnect()
    console.print(
        f"{scenario} · {controller} · seed {seed}: delay {result.delay:.1f} s over "
        f"{result.trips} trips ({result.unfinished} unfinished), "
        f"{'GRIDLOCK' if result.gridlock else 'no gridlock'}, "
        f"{result.clearances} forced clearances, {result.wall_seconds:.1f} s wall",
        highlight=False,
    )
    if check:
        console.print(
            f"{result.switches} phase changes checked, {len(result.violations)} violations"
        )
        for line in result.violations[:20]:
            console.print(f"  {line}", highlight=False, markup=False)
        if result.violations:
            raise typer.Exit(1)


def _edges_of(scenario: str) -> list[str]:
    """The detector edges of a scenario, read from its net file (no simulation needed)."""
    import xml.etree.ElementTree as ET

    from smartcity.traffic.signals import sumo

    config = sumo.scenario_config(scenario)
    net = ET.parse(config).find("input/net-file")  # noqa: S314 - files of the installed sumo-rl package or SUMO's own output
    assert net is not None
    edges = set()
    for _, element in ET.iterparse(config.parent / net.get("value", ""), events=("end",)):  # noqa: S314 - files of the installed sumo-rl package or SUMO's own output
        if (
            element.tag == "connection"
            and element.get("tl")
            and not element.get("from", ":").startswith(":")
        ):
            edges.add(element.get("from", ""))
        if element.tag in ("edge", "connection", "junction"):
            element.clear()
    return sorted(edges)


@cli.command("bench")
def bench(
    scenario: list[str] = typer.Option(None, help="scenarios (default: all eight)"),
    seeds: int = typer.Option(3, min=1, max=10, help="seeds 1..N"),
) -> None:
    """Fixed / max pressure / ours on RESCO scenarios: mean ± sd delay per scenario."""
    from smartcity.core.cli import console
    from smartcity.traffic.signals import sumo

    names = scenario or list(sumo.SCENARIOS)
    for name in names:
        _check_names(name, "fixed")
    reason = sumo.available()
    if reason:
        _fail(f"cannot simulate: {reason}")
    for name in names:
        cells = []
        for controller in CONTROLLERS:
            runs = [sumo.run(name, controller, seed) for seed in range(1, seeds + 1)]
            delays = [r.delay for r in runs]
            sd = statistics.stdev(delays) if len(delays) > 1 else 0.0
            locked = sum(r.gridlock for r in runs)
            cells.append(
                f"{controller} {statistics.fmean(delays):.1f}±{sd:.1f}"
                + (f" ({locked} gridlocked)" if locked else "")
            )
        console.print(f"{name:<13} " + "   ".join(cells), highlight=False)
