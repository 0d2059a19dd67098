"""`smartcity traffic ...`: road networks, the road state and the index (交通)."""

from __future__ import annotations

from pathlib import Path

import typer

cli = typer.Typer(
    help="Traffic (智能交通): road networks, road state, the index, forecasts.",
    no_args_is_help=True,
)

DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="SMARTCITY_DATABASE_URL",
    help="postgresql+asyncpg://user@host/db; default: embedded SQLite in ./var",
)


def _read(path: Path, limit: int) -> bytes:
    from smartcity.core.cli import err

    try:
        size = path.stat().st_size
        if size > limit:
            err.print(f"[red]error:[/red] {path} is larger than {limit // 1048576} MiB.")
            raise typer.Exit(2)
        return path.read_bytes()
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {path}: {exc.strerror}")
        raise typer.Exit(2) from None


def _import(data: bytes, parse: str, prefix: str, database_url: str | None) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import cli_principal, console, err, run
    from smartcity.traffic import netimport, service

    try:
        network = (
            netimport.parse_sumo_net(data, prefix=prefix)
            if parse == "net"
            else netimport.parse_geojson(data)
        )
    except netimport.NetworkError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None

    async def work(session: AsyncSession) -> service.Imported:
        return await service.import_network(session, cli_principal(), network)

    done = run(work, database_url)
    note = "" if network.projected else " (no UTM projection: coordinates are the net's metres)"
    console.print(
        f"{done.segments} segments ({done.replaced} replaced) and "
        f"{done.intersections} signalised intersections imported{note}"
    )


@cli.command("import-net")
def import_net(
    file: Path,
    prefix: str = typer.Option("", help="Put before every SUMO edge id to make segment codes"),
    database_url: str | None = DatabaseUrl,
) -> None:
    """Import the road edges and signalised junctions of a SUMO network (.net.xml)."""
    from smartcity.traffic.netimport import MAX_NET_BYTES

    _import(_read(file, MAX_NET_BYTES), "net", prefix, database_url)


@cli.command("import-geojson")
def import_geojson(file: Path, database_url: str | None = DatabaseUrl) -> None:
    """Import road segments from a GeoJSON FeatureCollection of LineStrings."""
    from smartcity.traffic.netimport import MAX_GEOJSON_BYTES

    _import(_read(file, MAX_GEOJSON_BYTES), "geojson", "", database_url)


@cli.command("state")
def state(
    compute: bool = typer.Option(False, help="Run the minute job now before showing"),
    limit: int = typer.Option(20, min=1, max=10_000),
    database_url: str | None = DatabaseUrl,
) -> None:
    """The newest minute's state of the segments (most congested first)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.authz import authorize
    from smartcity.core.cli import cli_principal, console, run
    from smartcity.core.clock import to_city
    from smartcity.traffic import service
    from smartcity.traffic.state import compute_state
    from smartcity.traffic.types import LEVEL_ZH

    async def work(session: AsyncSession) -> tuple[object, list[object]]:
        if compute:
            authorize(cli_principal(), "traffic.state.compute")
            await compute_state(session)
        minute = await service.latest_minute(session)
        states = await service.states_at(session, minute) if minute else {}
        rows = sorted(states.values(), key=lambda s: -(s.tpi or -1))
        return minute, list(rows[:limit])

    minute, rows = run(work, database_url)
    if minute is None:
        console.print("No road state yet.")
        return
    console.print(f"Road state at {to_city(minute):%Y-%m-%d %H:%M} (Asia/Shanghai)")  # type: ignore[arg-type]
    for s in rows:
        speed = f"{s.speed_kmh:6.1f} km/h" if s.speed_kmh is not None else "     - km/h"  # type: ignore[attr-defined]
        tpi = f"{s.tpi:4.1f}" if s.tpi is not None else "   -"  # type: ignore[attr-defined]
        console.print(
            f"{s.segment_code:<24} {speed}  TPI {tpi}  {LEVEL_ZH.get(s.level, '无数据')}"  # type: ignore[attr-defined]
            + (f"  (carried {s.carried} min)" if s.carried else "")  # type: ignore[attr-defined]
        )


@cli.command("index")
def index(database_url: str | None = DatabaseUrl) -> None:
    """The city's and districts' traffic performance index now, and today's peaks."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from smartcity.core.cli import console, run
    from smartcity.core.clock import to_city
    from smartcity.traffic import service
    from smartcity.traffic.index import level
    from smartcity.traffic.types import LEVEL_ZH

    async def work(session: AsyncSession) -> tuple[object, list[object], dict[str, object]]:
        minute = await service.latest_minute(session)
        if minute is None:
            return None, [], {}
        points = await service.index_at(session, minute)
        curve = await service.index_series(session, "city", service.day_start(minute), minute)
        return minute, list(points), service.peak_figures(curve)

    minute, points, peaks = run(work, database_url)
    if minute is None:
        console.print("No index yet.")
        return
    console.print(f"Traffic performance index at {to_city(minute):%Y-%m-%d %H:%M}")  # type: ignore[arg-type]
    for p in points:
        console.print(
            f"{p.scope:<8} TPI {p.tpi:4.1f}  TTI {p.tti:.2f}  "  # type: ignore[attr-defined]
            f"{LEVEL_ZH[level(p.tpi)]}  ({p.segments} segments)"  # type: ignore[attr-defined]
        )
    console.print(
        f"today: morning peak {peaks.get('morning_peak')}, evening peak "
        f"{peaks.get('evening_peak')}, highest {peaks.get('highest')}"
    )


@cli.command("forecast-eval")
def forecast_eval(
    segments: int = typer.Option(20, min=1, max=500),
    days: int = typer.Option(28, min=8, max=120),
    test_days: int = typer.Option(7, min=1, max=60),
    seed: int = typer.Option(7),
) -> None:
    """MAE and MAPE per horizon of the baselines and the model on held-out synthetic days."""
    from smartcity.core.cli import console, err
    from smartcity.traffic import forecast

    if days - test_days < 7:
        err.print("[red]error:[/red] keep at least 7 training days (days - test-days).")
        raise typer.Exit(2)
    result = forecast.evaluate(forecast.synthetic_speeds(segments, days, seed), test_days)
    console.print(
        f"Synthetic telemetry: {result.segments} segments, {result.train_days} training days, "
        f"{result.test_days} held-out days, 5-minute speeds (SUMO not available here)"
    )
    header = "method".ljust(20) + "".join(f"{m:>6} min MAE  MAPE  TPI" for m in result.horizons_min)
    console.print(header)
    for method, scores in result.speed.items():
        cells = "".join(
            f"   {s.mae:6.2f} {s.mape:5.1f}% {t:4.2f}"
            for s, t in zip(scores, result.tpi_mae[method], strict=True)
        )
        console.print(method.ljust(20) + cells)
    console.print(f"served: {result.choice} ({result.reason})")


# The signals' commands (simulate, controllers, bench: traffic/signals/cli.py) under the same
# `smartcity traffic` group; SUMO itself is imported only when a command runs.
from smartcity.traffic.signals.cli import cli as _signals_cli  # noqa: E402

cli.registered_commands.extend(_signals_cli.registered_commands)
