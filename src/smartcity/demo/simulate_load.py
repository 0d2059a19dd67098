"""`smartcity sensing simulate`: drive load against a server from the command line (压测).

Makes sure N simulated devices exist (reusing the demo city's and earlier runs', adding load-test
water meters under the ``simulator`` device account when there are fewer), issues API keys
named ``simulate-cli`` for their owners (revoking that name's earlier keys; the demo feed's
``simulator`` keys are left alone), then sends R Observations per second in all, batched
CreateObservations over HTTP or one PUBLISH each over MQTT, with a live progress line.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.live import Live
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts, clock
from smartcity.core.authz import Principal
from smartcity.core.ids import SHENZHEN_DISTRICTS
from smartcity.core.models import Account, ApiKey
from smartcity.core.schemas import AccountCreate
from smartcity.demo import sensing as demo
from smartcity.demo.simulate import (
    STA,
    Feed,
    HttpSender,
    MqttSender,
    RatePlan,
    Route,
    Sender,
    SimStream,
    Stats,
    issue_keys,
    load_streams,
)
from smartcity.sensing import contract as sensing

SIMULATOR = "simulator"  # the device account owning the load-test devices
KEY_NAME = "simulate-cli"
TICK_SECONDS = 0.25

# Injection points for tests: an in-process transport (httpx.ASGITransport) instead of the
# network, and a sleep that advances a frozen clock instead of waiting.
transport_for: Callable[[str], httpx.AsyncBaseTransport | None] = lambda _url: None  # noqa: E731
sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class SetupError(Exception):
    """Bad input found before any load is sent: the CLI says which option and exits 2."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SetupError("--url", f"{url!r} is not an http:// or https:// URL with a host.")
    return url.rstrip("/")


def check_mqtt_url(url: str) -> str:
    from smartcity.sensing.contract import broker_address

    try:
        broker_address(url)
    except ValueError as exc:
        raise SetupError("--mqtt", f"{url!r} is not an mqtt://host:port URL.") from exc
    return url


async def probe(url: str) -> None:
    """The server's landing page answers, or a SetupError saying why not."""
    async with httpx.AsyncClient(base_url=url, transport=transport_for(url), timeout=10) as c:
        try:
            response = await c.get(STA)
        except httpx.HTTPError as exc:
            raise SetupError("--url", f"cannot reach {url}: {exc or type(exc).__name__}") from exc
    if response.status_code != 200 or "value" not in response.text:
        raise SetupError(
            "--url", f"{url}{STA} answered {response.status_code}: not a SensorThings server."
        )


def load_test_plan(index: int, rng: random.Random) -> demo.ThingPlan:
    """A load-test water meter (压测水表), spread over the districts."""
    district = SHENZHEN_DISTRICTS[index % len(SHENZHEN_DISTRICTS)]
    code = f"SIM-{index:05d}"
    nominal = rng.choice((120.0, 260.0, 450.0))
    properties: dict[str, Any] = {
        "kind": demo.WATER_METER,
        "deviceCode": code,
        "districtCode": district.code,
        "nominalFlow": nominal,
        "reportingIntervalSeconds": demo.INTERVALS[demo.WATER_METER],
        "operator": "负载测试",
        "simulated": True,
    }
    lon, lat = demo.point_inside(rng, district.code)
    body = demo.thing_body(f"压测水表 {code}", "负载测试用模拟水表", properties, lon, lat)
    plan = demo.ThingPlan(demo.WATER_METER, code, district, body, nominal)
    plan.streams = list(demo.STREAMS[demo.WATER_METER])
    return plan


async def _simulator_account(session: AsyncSession, principal: Principal) -> Account:
    found = (
        await session.execute(select(Account).where(Account.username == SIMULATOR))
    ).scalar_one_or_none()
    if found is not None:
        return found
    account, _password = await accounts.create_account(
        session,
        principal,
        AccountCreate(username=SIMULATOR, display_name="负载模拟设备网关", kind="device"),
    )
    return account


async def ensure_devices(session: AsyncSession, principal: Principal, n: int) -> list[SimStream]:
    """The Datastreams of the first ``n`` simulated devices, creating the missing ones."""
    streams = await load_streams(session)
    have = len({s.thing_id for s in streams})
    if have < n:
        account = await _simulator_account(session, principal)
        start = await sensing.count_things_owned(session, account.id) + 1
        rng = random.Random(start)  # noqa: S311 - positions of test devices
        plans = [(load_test_plan(i, rng), account) for i in range(start, start + n - have)]
        await demo.create_devices(session, principal, plans)
        streams = await load_streams(session)
    chosen = sorted({s.thing_id for s in streams})[:n]
    wanted = set(chosen)
    return [s for s in streams if s.thing_id in wanted]


async def prepare(
    session: AsyncSession, principal: Principal, n: int
) -> tuple[list[SimStream], dict[str, str]]:
    streams = await ensure_devices(session, principal, n)
    keys = await issue_keys(session, principal, {s.owner for s in streams}, name=KEY_NAME)
    return streams, keys


async def revoke_keys(session: AsyncSession, principal: Principal) -> int:
    """Revoke the keys this command issued (at its end, so they do not outlive the run)."""
    prefixes = list(
        (
            await session.execute(
                select(ApiKey.prefix).where(ApiKey.name == KEY_NAME, ApiKey.revoked_at.is_(None))
            )
        ).scalars()
    )
    for prefix in prefixes:
        await accounts.revoke_api_key(session, principal, prefix)
    return len(prefixes)


@dataclass
class Progress:
    started: datetime

    def line(self, stats: Stats, now: datetime) -> Text:
        elapsed = max((now - self.started).total_seconds(), 1e-9)
        p50, p99 = stats.percentile(0.5), stats.percentile(0.99)

        def ms(value: float | None) -> str:
            return "–" if value is None else f"{value * 1000:.0f} ms"

        text = (
            f"{elapsed:7.1f} s  sent {stats.sent:,}  accepted {stats.accepted:,}  "
            f"refused {stats.refused:,}  {stats.accepted / elapsed:,.1f} obs/s  "
            f"p50 {ms(p50)}  p99 {ms(p99)}"
        )
        if stats.errors:
            text += f"  network errors {stats.errors:,}"
        if stats.dropped:
            text += f"  dropped {stats.dropped:,}"
        return Text(text)


async def drive(
    streams: list[SimStream],
    keys: dict[str, str],
    *,
    url: str,
    rate: float,
    mqtt_url: str | None,
    duration: float | None,
    console: Console,
    stats_out: list[Stats],
) -> Stats:
    """Send until ``duration`` seconds have passed (or until cancelled)."""
    started = clock.now()
    progress = Progress(started)
    mqtt = (
        MqttSender(mqtt_url, client_id=f"smartcity-simulate-{random.getrandbits(32):08x}")
        if (mqtt_url)
        else None
    )
    async with httpx.AsyncClient(base_url=url, transport=transport_for(url), timeout=30) as client:
        sender: Sender = mqtt if mqtt is not None else HttpSender(client, keys)
        feed = Feed(
            RatePlan(streams, rate, started),
            [Route(sender)],
            sleep=sleep,
            tick_seconds=TICK_SECONDS,
        )
        stats_out.append(feed.stats)

        def done() -> bool:
            return duration is not None and (clock.now() - started).total_seconds() >= duration

        with Live(progress.line(feed.stats, started), console=console, auto_refresh=False) as live:

            def show(stats: Stats) -> None:
                live.update(progress.line(stats, clock.now()), refresh=True)

            try:
                await feed.run(until=done, on_tick=show)
            finally:
                show(feed.stats)
                if mqtt is not None:
                    await mqtt.close()
        if not console.is_terminal:
            console.print()  # a live display leaves its last line open when not on a terminal
        return feed.stats
