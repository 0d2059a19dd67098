"""The simulated city feed (模拟数据推送): simulated devices report like real ones, over HTTP
(POST /sta/v1.1/CreateObservations, batched per device account with its API key) and over
MQTT (``v1.1/Datastreams(id)/Observations``, QoS 1), so the pages move and the ingestion
path carries load.

Which devices: Things whose ``properties.simulated`` is true and that have a device account
as owner (the demo city's, and those ``smartcity sensing simulate`` adds), with the
Datastreams whose ObservedProperty has a value profile (simulate_profiles.py). When: either
each Datastream at its device's ``reportingIntervalSeconds`` (the demo, `IntervalPlan`) or a
fixed total rate spread over all of them (the load generator, `RatePlan`).

A refused row is counted and logged, never stops the loop; network errors and 5xx answers
keep the readings for the next round and back off (1 s doubling to 60 s), bounded so a long
outage drops the oldest readings instead of growing without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts, clock
from smartcity.core.authz import Principal
from smartcity.core.models import Account, ApiKey
from smartcity.demo.simulate_profiles import DEFAULT_SEED, PROFILES, Context, Profile, Series
from smartcity.sensing import contract as sensing
from smartcity.sensing.contract import format_datetime

log = logging.getLogger(__name__)

STA = "/sta/v1.1"
KEY_NAME = "simulator"  # the demo feed's API keys; each start replaces the previous ones
MAX_PENDING = 50_000  # readings kept for retry while the server is unreachable
MAX_BACKOFF = 60.0
CATCH_UP = 10  # missed readings per stream made up after a pause

# Who issues the feed's keys: the platform itself, as an administrator (audited by this name).
FEED_PRINCIPAL = Principal(
    id=None, kind="admin", name="sensing simulator", roles=frozenset({"security"}), via="system"
)


@dataclass(frozen=True)
class SimStream:
    """A simulated Datastream and what is needed to produce and send its readings."""

    datastream_id: int
    thing_id: int
    owner: str  # username of the device account that owns the Thing
    kind: str  # the Thing's kind: air-station, traffic-detector, water-meter
    interval: int  # seconds between reports
    profile: Profile
    series: Series


@dataclass(frozen=True)
class Reading:
    stream: SimStream
    at: datetime
    result: float | int

    @property
    def phenomenon_time(self) -> str:
        if self.stream.profile.over_interval:
            start = self.at - timedelta(seconds=self.stream.interval)
            return f"{format_datetime(start)}/{format_datetime(self.at)}"
        return format_datetime(self.at)

    def observation(self) -> dict[str, Any]:
        """The Observation JSON a device publishes over MQTT."""
        return {
            "phenomenonTime": self.phenomenon_time,
            "resultTime": format_datetime(self.at),
            "result": self.result,
        }


def make_reading(stream: SimStream, at: datetime, context: Context) -> Reading:
    return Reading(stream, at, stream.profile.value(context, stream.series, at))


# --- which streams ------------------------------------------------------------------------------


def _number(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def stream_for(
    thing: sensing.Thing, owner: str, datastream_id: int, definition: str
) -> SimStream | None:
    """How to simulate one Datastream of a simulated Thing (None: no profile for it)."""
    profile = PROFILES.get(definition)
    if profile is None:
        return None
    props = thing.properties
    kind = str(props.get("kind", ""))
    scale = _number(props.get("lanes"), 0) or _number(props.get("nominalFlow"), 0) or 1.0
    device = str(props.get("deviceCode") or f"thing-{thing.id}")
    district = str(props.get("districtCode") or "440304")
    interval = max(1, int(_number(props.get("reportingIntervalSeconds"), 60)))
    return SimStream(
        datastream_id=datastream_id,
        thing_id=thing.id,
        owner=owner,
        kind=kind,
        interval=interval,
        profile=profile,
        series=Series(f"{device}/{profile.key}", district, scale),
    )


async def load_streams(session: AsyncSession) -> list[SimStream]:
    """Every simulated Datastream, by Thing id then Datastream id."""
    streams = []
    for row in await sensing.device_datastreams(session):
        if row.thing.properties.get("simulated") is not True:
            continue
        stream = stream_for(row.thing, row.owner, row.datastream_id, row.definition)
        if stream is not None:
            streams.append(stream)
    return streams


async def issue_keys(
    session: AsyncSession, principal: Principal, owners: Iterable[str], *, name: str = KEY_NAME
) -> dict[str, str]:
    """A fresh API key per device account, revoking its earlier keys of the same name (a
    restarted feed never leaves working keys behind it)."""
    keys: dict[str, str] = {}
    for owner in sorted(set(owners)):
        account = (
            await session.execute(select(Account).where(Account.username == owner))
        ).scalar_one()
        previous = (
            await session.execute(
                select(ApiKey.prefix).where(
                    ApiKey.account_id == account.id,
                    ApiKey.name == name,
                    ApiKey.revoked_at.is_(None),
                )
            )
        ).scalars()
        for prefix in list(previous):
            await accounts.revoke_api_key(session, principal, prefix)
        _row, keys[owner] = await accounts.issue_api_key(
            session, principal, username=owner, name=name
        )
    return keys


# --- when ---------------------------------------------------------------------------------------


class Plan(Protocol):
    def due(self, now: datetime) -> list[tuple[SimStream, datetime]]: ...


class IntervalPlan:
    """Each stream at its own reporting interval, phase-shifted by its id so the streams of a
    city do not all report in the same second. Readings missed while the loop waited are
    made up, at most CATCH_UP per stream: a feed that was suspended for hours resumes near
    the present instead of replaying everything it missed."""

    def __init__(self, streams: Sequence[SimStream], start: datetime) -> None:
        self.heap: list[tuple[float, int, SimStream]] = []
        t0 = start.timestamp()
        for stream in streams:
            phase = (stream.datastream_id * 7919) % stream.interval
            first = math.floor((t0 - phase) / stream.interval) * stream.interval + phase
            due = first + stream.interval
            self.heap.append((due, stream.datastream_id, stream))
        heapq.heapify(self.heap)

    def due(self, now: datetime) -> list[tuple[SimStream, datetime]]:
        t = now.timestamp()
        out = []
        while self.heap and self.heap[0][0] <= t:
            due, key, stream = heapq.heappop(self.heap)
            behind = math.floor((t - due) / stream.interval)
            if behind >= CATCH_UP:  # skip the older ones, keep the phase
                due += (behind - CATCH_UP + 1) * stream.interval
            out.append((stream, datetime.fromtimestamp(due, tz=now.tzinfo)))
            heapq.heappush(self.heap, (due + stream.interval, key, stream))
        return out


class RatePlan:
    """A total of ``rate`` readings per second, round-robin over the streams, each dated
    now (the load generator)."""

    def __init__(self, streams: Sequence[SimStream], rate: float, start: datetime) -> None:
        if not streams:
            raise ValueError("no streams to simulate")
        self.streams, self.rate, self.start = list(streams), rate, start
        self.emitted = 0
        self.next = 0

    def due(self, now: datetime) -> list[tuple[SimStream, datetime]]:
        target = math.floor((now - self.start).total_seconds() * self.rate)
        out = []
        for _ in range(max(0, target - self.emitted)):
            out.append((self.streams[self.next], now))
            self.next = (self.next + 1) % len(self.streams)
        self.emitted = max(self.emitted, target)
        return out


# --- sending ------------------------------------------------------------------------------------


@dataclass
class Stats:
    """What the feed did; the CLI's progress line shows it."""

    sent: int = 0
    accepted: int = 0
    refused: int = 0
    dropped: int = 0  # given up after a long outage
    errors: int = 0  # network errors and 5xx answers (the readings were retried)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def percentile(self, q: float) -> float | None:
        """Latency (seconds) at quantile q of the recent requests, None before any."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class Sender(Protocol):
    async def send(self, readings: list[Reading], stats: Stats) -> list[Reading]:
        """Send; return the readings to try again (network trouble)."""
        ...


def data_array(readings: Iterable[Reading]) -> list[dict[str, Any]]:
    """The CreateObservations body: one dataArray group per Datastream."""
    groups: dict[int, list[list[Any]]] = {}
    for r in readings:
        groups.setdefault(r.stream.datastream_id, []).append(
            [r.phenomenon_time, format_datetime(r.at), r.result]
        )
    return [
        {
            "Datastream": {"@iot.id": datastream_id},
            "components": ["phenomenonTime", "resultTime", "result"],
            "dataArray": rows,
        }
        for datastream_id, rows in groups.items()
    ]


class HttpSender:
    """POST /CreateObservations, one request per device account (its key) and round, the
    accounts' requests in parallel."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        keys: dict[str, str],
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.client, self.keys, self.timer = client, keys, timer

    async def send(self, readings: list[Reading], stats: Stats) -> list[Reading]:
        by_owner: dict[str, list[Reading]] = {}
        for r in readings:
            by_owner.setdefault(r.stream.owner, []).append(r)
        results = await asyncio.gather(
            *(self._post(owner, batch, stats) for owner, batch in by_owner.items())
        )
        return [r for retry in results for r in retry]

    async def _post(self, owner: str, batch: list[Reading], stats: Stats) -> list[Reading]:
        # Sorted (stably) by stream, the order data_array's groups give the server, so the
        # outcomes of the answer map back to the readings.
        ordered = sorted(batch, key=lambda r: r.stream.datastream_id)
        body = orjson.dumps(data_array(ordered))
        started = self.timer()
        try:
            response = await self.client.post(
                f"{STA}/CreateObservations",
                content=body,
                headers={"X-API-Key": self.keys.get(owner, ""), "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            stats.errors += 1
            log.debug("simulator: %s unreachable (%s); retrying", self.client.base_url, exc)
            return batch
        stats.latencies.append(self.timer() - started)
        if response.status_code >= 500:
            stats.errors += 1
            log.warning("simulator: %s answered %s; retrying", owner, response.status_code)
            return batch
        stats.sent += len(batch)
        if response.status_code != 201:
            stats.refused += len(batch)
            log.warning(
                "simulator: %d readings of %s refused (%s): %s",
                len(batch),
                owner,
                response.status_code,
                response.text[:300],
            )
            return []
        outcomes = response.json()
        refused = [r for r, o in zip(ordered, outcomes, strict=False) if o == "error"]
        stats.refused += len(refused)
        stats.accepted += len(batch) - len(refused)
        if refused:
            log.warning(
                "simulator: %d of %d readings of %s refused, e.g. Datastream %d at %s",
                len(refused),
                len(batch),
                owner,
                refused[0].stream.datastream_id,
                refused[0].phenomenon_time,
            )
        return []


class MqttSender:
    """PUBLISH each reading to ``devices/<owner>/v1.1/Datastreams(id)/Observations`` (the
    device namespace, sensing/mqtt/topics.py) at QoS 1, on a broker without authentication.
    The broker acknowledges delivery, not acceptance: a refused reading becomes a dead letter on the
    server (sta_mqtt_dead_letter), so here every acknowledged reading counts as accepted."""

    def __init__(self, url: str, *, client_id: str = "smartcity-simulator") -> None:
        from smartcity.sensing.contract import broker_address

        self.host, self.port = broker_address(url)
        self.client_id = client_id
        self.client: Any = None
        self.stack: contextlib.AsyncExitStack | None = None

    async def _connect(self) -> Any:
        import aiomqtt

        if self.client is None:
            stack = contextlib.AsyncExitStack()
            client = aiomqtt.Client(self.host, self.port, identifier=self.client_id, timeout=10)
            await stack.enter_async_context(client)
            self.client, self.stack = client, stack
        return self.client

    async def close(self) -> None:
        if self.stack is not None:
            with contextlib.suppress(Exception):
                await self.stack.aclose()
        self.client = self.stack = None

    async def send(self, readings: list[Reading], stats: Stats) -> list[Reading]:
        import aiomqtt

        from smartcity.sensing.contract import device_topic

        for index, r in enumerate(readings):
            started = time.perf_counter()
            try:
                client = await self._connect()
                await client.publish(
                    device_topic(
                        r.stream.owner, f"v1.1/Datastreams({r.stream.datastream_id})/Observations"
                    ),
                    payload=orjson.dumps(r.observation()),
                    qos=1,
                )
            except (aiomqtt.MqttError, OSError) as exc:
                stats.errors += 1
                log.debug("simulator: broker %s:%s: %s; retrying", self.host, self.port, exc)
                await self.close()
                return readings[index:]
            stats.latencies.append(time.perf_counter() - started)
            stats.sent += 1
            stats.accepted += 1
        return []


# --- the loop -----------------------------------------------------------------------------------


@dataclass
class Route:
    """Which sender takes a reading: ``kinds`` None means every kind."""

    sender: Sender
    kinds: frozenset[str] | None = None


class Feed:
    """Produces the due readings each round and sends them; time and sleep are injected so
    tests drive it without waiting."""

    def __init__(
        self,
        plan: Plan,
        routes: list[Route],
        *,
        context: Context | None = None,
        now: Callable[[], datetime] = clock.now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tick_seconds: float = 5.0,
        max_pending: int = MAX_PENDING,
    ) -> None:
        if not routes:
            raise ValueError("a feed needs a sender")
        self.plan, self.routes = plan, routes
        self.context = context or Context(DEFAULT_SEED)
        self.now, self.sleep = now, sleep
        self.tick_seconds, self.max_pending = tick_seconds, max_pending
        self.pending: list[Reading] = []
        self.stats = Stats()

    def _route(self, reading: Reading) -> Sender:
        for route in self.routes:
            if route.kinds is None or reading.stream.kind in route.kinds:
                return route.sender
        return self.routes[-1].sender

    async def tick(self) -> bool:
        """One round; False when some readings could not be sent (they wait for the next)."""
        fresh = [make_reading(s, at, self.context) for s, at in self.plan.due(self.now())]
        readings = self.pending + fresh
        self.pending = []
        per_sender: dict[int, tuple[Sender, list[Reading]]] = {}
        for r in readings:
            sender = self._route(r)
            per_sender.setdefault(id(sender), (sender, []))[1].append(r)
        for sender, batch in per_sender.values():
            self.pending += await sender.send(batch, self.stats)
        if len(self.pending) > self.max_pending:
            drop = len(self.pending) - self.max_pending
            self.stats.dropped += drop
            self.pending = self.pending[drop:]  # the oldest go first
            log.warning("simulator: %d readings dropped after a long outage", drop)
        return not self.pending

    async def run(
        self,
        *,
        until: Callable[[], bool] = lambda: False,
        on_tick: Callable[[Stats], None] | None = None,
    ) -> Stats:
        """Tick until ``until()`` holds after a round (or cancellation), backing off while
        sends fail."""
        backoff = 1.0
        while True:
            ok = await self.tick()
            if on_tick is not None:
                on_tick(self.stats)
            if until():  # checked after the round, so the last moment's readings go too
                break
            if ok:
                backoff = 1.0
                await self.sleep(self.tick_seconds)
            else:
                await self.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        return self.stats


# --- the demo's feed (a Module task) --------------------------------------------------------------

# Devices that would use MQTT in a real city (battery meters, roadside units) do so in the
# demo when a broker is configured; air stations stay on HTTP with their API keys.
MQTT_KINDS = frozenset({"water-meter", "traffic-detector"})


def base_url(settings: Any) -> str:
    return settings.simulate_base_url or "http://127.0.0.1:8000"


async def run_demo_feed(runtime: Any) -> None:
    """The Module task: with SMARTCITY_SIMULATE_FEED (``smartcity demo`` sets it), feed the
    running server at its own address with the simulated devices' readings, each device at
    its reporting interval (a few Observations per second for the demo city)."""
    settings = runtime.settings
    if not settings.simulate_feed:
        return
    async with runtime.db.session_scope() as session:
        streams = await load_streams(session)
        keys = await issue_keys(session, FEED_PRINCIPAL, {s.owner for s in streams})
    if not streams:
        log.info("simulator: no simulated devices; seed the demo city first")
        return
    url = base_url(settings)
    log.info("simulator: %d datastreams feeding %s", len(streams), url)
    mqtt = MqttSender(settings.mqtt_url) if settings.mqtt_url else None
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        routes = [Route(HttpSender(client, keys))]
        if mqtt is not None:
            routes.insert(0, Route(mqtt, MQTT_KINDS))
        feed = Feed(
            IntervalPlan(streams, clock.now()),
            routes,
            tick_seconds=settings.simulate_tick_seconds,
        )
        try:
            await feed.run()
        finally:
            if mqtt is not None:
                await mqtt.close()
