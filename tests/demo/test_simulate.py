"""The simulated city feed (demo/simulate.py, simulate_profiles.py, simulate_load.py):
deterministic value profiles in range, the schedules, a round sent over HTTP to the app in
process with a frozen clock, refused rows counted, network errors retried with back-off,
keys replaced, and `smartcity sensing simulate` (bad input, and a short run)."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from smartcity.core import clock
from smartcity.core.ids import SHENZHEN_DISTRICTS
from smartcity.core.models import Account, ApiKey
from smartcity.demo import sensing as demo
from smartcity.demo import simulate, simulate_load
from smartcity.demo.simulate_profiles import (
    DEFAULT_SEED,
    MEAN_SPEED,
    PROFILES,
    VEHICLE_COUNT,
    Context,
    Episode,
    Series,
)
from smartcity.environment.aqi import Pollutant
from smartcity.environment.stations import POLLUTANT_DEFINITIONS
from smartcity.sensing import models as m
from tests.core.factories import ROOT, create_account
from tests.problems import assert_problem
from tests.sensing import brokers

NOW = datetime(2026, 11, 20, 3, 0, 0, tzinfo=UTC)  # 11:00 in Shenzhen
BROKER = brokers.SHARED  # the Mosquitto this process's MQTT tests share


# --- value profiles ------------------------------------------------------------------------------


def test_profiles_are_deterministic_and_in_range() -> None:
    context = Context(DEFAULT_SEED)
    times = [NOW + timedelta(minutes=37 * k) for k in range(400)]  # all hours, ten days
    for definition, profile in PROFILES.items():
        series = Series(f"T-1/{profile.key}", "440304", 4.0 if "traffic" in definition else 300.0)
        values = [profile.value(context, series, t) for t in times]
        assert values == [profile.value(context, series, t) for t in times], definition
        assert all(profile.low <= v <= profile.high for v in values), definition
        assert len(set(values)) > 50, definition  # it moves
        if profile.observation_type.endswith("OM_CountObservation"):
            assert all(isinstance(v, int) for v in values)
        other = [profile.value(Context(1), series, t) for t in times]
        assert other != values  # the seed matters


def _mean(definition: str, district: str, hours: list[int], scale: float = 1.0) -> float:
    profile, context = PROFILES[definition], Context(DEFAULT_SEED)
    series = Series(f"X/{profile.key}", district, scale)
    # Local hours (UTC+8) over two weeks of working days and weekends alike.
    values = [
        float(
            profile.value(
                context, series, datetime(2026, 10, d, h, tzinfo=UTC) - timedelta(hours=8)
            )
        )
        for d in range(1, 15)
        for h in hours
    ]
    return sum(values) / len(values)


def test_profiles_have_the_city_rhythm() -> None:
    o3 = POLLUTANT_DEFINITIONS[Pollutant.O3]
    pm25 = POLLUTANT_DEFINITIONS[Pollutant.PM2_5]
    assert _mean(o3, "440304", [14, 15]) > 2 * _mean(o3, "440304", [3, 4])  # afternoon O3
    assert _mean(pm25, "440304", [0, 1, 2]) > _mean(pm25, "440304", [14, 15])  # PM at night
    assert _mean(VEHICLE_COUNT, "440304", [8], 4) > 4 * _mean(VEHICLE_COUNT, "440304", [3], 4)
    assert _mean(MEAN_SPEED, "440304", [8], 4) < _mean(MEAN_SPEED, "440304", [3], 4) - 10
    # Winter particles above summer ones.
    profile = PROFILES[pm25]
    series = Series("X/PM2.5", "440304")
    january = [
        profile.value(Context(3), series, datetime(2026, 1, d, h, tzinfo=UTC))
        for d in range(1, 29)
        for h in range(24)
    ]
    july = [
        profile.value(Context(3), series, datetime(2026, 7, d, h, tzinfo=UTC))
        for d in range(1, 29)
        for h in range(24)
    ]
    assert sum(january) > 2 * sum(july)


def test_an_episode_pushes_pm25_past_115_in_its_district_only() -> None:
    episode = Episode("440306", NOW, NOW + timedelta(hours=8), 160.0)
    context = Context(7, (episode,))
    profile = PROFILES[POLLUTANT_DEFINITIONS[Pollutant.PM2_5]]
    inside = Series("A/PM2.5", "440306")
    elsewhere = Series("B/PM2.5", "440304")
    plateau = [NOW + timedelta(hours=h) for h in (2.5, 4, 5.5)]
    assert all(float(profile.value(context, inside, t)) > 115 for t in plateau)
    assert all(float(profile.value(context, elsewhere, t)) < 115 for t in plateau)
    assert float(profile.value(context, inside, NOW - timedelta(hours=1))) < 115


# --- schedules -----------------------------------------------------------------------------------


def _stream(datastream_id: int, interval: int, owner: str = "gw", kind: str = "water-meter") -> Any:
    profile = PROFILES[POLLUTANT_DEFINITIONS[Pollutant.PM2_5]]
    return simulate.SimStream(
        datastream_id,
        datastream_id,
        owner,
        kind,
        interval,
        profile,
        Series(f"S{datastream_id}", "440304"),
    )


def test_interval_plan_reports_each_stream_once_per_interval_and_skips_missed() -> None:
    fast, slow = _stream(1, 60), _stream(2, 300)
    plan = simulate.IntervalPlan([fast, slow], NOW)
    assert plan.due(NOW) == []
    first = plan.due(NOW + timedelta(seconds=300))
    assert [s.datastream_id for s, _at in first].count(1) == 5
    assert [s.datastream_id for s, _at in first].count(2) == 1
    times = sorted(at for s, at in first if s is fast)
    assert all(b - a == timedelta(seconds=60) for a, b in itertools.pairwise(times))
    assert all(NOW < at <= NOW + timedelta(seconds=300) for _s, at in first)
    # A feed asleep for hours makes up at most ten readings per stream, the newest.
    end = NOW + timedelta(hours=5, seconds=300)
    later = plan.due(end)
    assert [s.datastream_id for s, _at in later].count(1) == 10
    assert [s.datastream_id for s, _at in later].count(2) == 10
    assert max(at for _s, at in later) > end - timedelta(seconds=60)


def test_rate_plan_spreads_the_rate_round_robin() -> None:
    streams = [_stream(i, 60) for i in (1, 2, 3)]
    plan = simulate.RatePlan(streams, 10, NOW)
    assert plan.due(NOW) == []
    due = plan.due(NOW + timedelta(seconds=1.5))
    assert [s.datastream_id for s, _at in due] == [1, 2, 3] * 5
    assert len(plan.due(NOW + timedelta(seconds=2))) == 5


# --- the feed against the app ---------------------------------------------------------------------


async def _city(
    session: AsyncSession, devices: int = 3
) -> tuple[Account, list[simulate.SimStream]]:
    """A gateway with ``devices`` simulated devices of the demo's kinds (no history)."""
    gateway = await create_account(session, kind="device")
    plans = demo.plan_district(SHENZHEN_DISTRICTS[1], random.Random(3))
    chosen = [plans[0], plans[2], plans[14]][:devices]  # air station, detector, water meter
    with clock.frozen(NOW):
        await demo.create_devices(session, ROOT, [(p, gateway) for p in chosen])
    streams = await simulate.load_streams(session)
    return gateway, streams


async def _observations(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(m.StaObservation)) or 0)


async def test_a_round_is_sent_over_http_and_lands(session: AsyncSession, app: Any) -> None:
    gateway, streams = await _city(session)
    assert len(streams) == 6 + 2 + 2
    assert {s.owner for s in streams} == {gateway.username}
    keys = await simulate.issue_keys(session, ROOT, {gateway.username})
    await session.flush()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    with clock.frozen(NOW) as advance:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            feed = simulate.Feed(
                simulate.IntervalPlan(streams, clock.now()),
                [simulate.Route(simulate.HttpSender(client, keys))],
            )
            advance(timedelta(seconds=300))
            assert await feed.tick() is True
    # Air and traffic every 60 s, water every 300 s: 8 x 5 + 2 readings in five minutes.
    assert feed.stats.accepted == 42 and feed.stats.sent == 42 and feed.stats.refused == 0
    assert await _observations(session) == 42
    assert len(feed.stats.latencies) == 1  # one request for the gateway's whole round
    counts = (
        await session.execute(
            select(m.StaObservation.result_kind, m.StaObservation.phenomenon_time_end).where(
                m.StaObservation.datastream_id
                == next(
                    s.datastream_id
                    for s in streams
                    if s.kind == "traffic-detector" and s.profile.key == "vehicleCount"
                )
            )
        )
    ).all()
    assert len(counts) == 5 and all(end is not None for _kind, end in counts)


async def test_refused_rows_are_counted_and_the_rest_land(session: AsyncSession, app: Any) -> None:
    gateway, streams = await _city(session, devices=1)
    other, foreign = await _city(session, devices=1)
    keys = await simulate.issue_keys(session, ROOT, {gateway.username})
    await session.flush()
    mine = next(s for s in streams if s.owner == gateway.username)
    theirs = next(s for s in foreign if s.owner == other.username)
    # A stream of another gateway's Thing, and one that does not exist, sent with my key.
    forged = [
        simulate.SimStream(
            theirs.datastream_id,
            0,
            gateway.username,
            "air-station",
            60,
            theirs.profile,
            theirs.series,
        ),
        simulate.SimStream(
            99_999_999, 0, gateway.username, "air-station", 60, mine.profile, mine.series
        ),
    ]
    before = await _observations(session)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    with clock.frozen(NOW):
        readings = [simulate.make_reading(s, NOW, Context(1)) for s in [mine, *forged]]
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            stats = simulate.Stats()
            retry = await simulate.HttpSender(client, keys).send(readings, stats)
    assert retry == []
    assert (stats.sent, stats.accepted, stats.refused) == (3, 1, 2)
    assert await _observations(session) == before + 1


async def test_network_errors_back_off_and_retry_without_losing_readings() -> None:
    up = {"ok": False}
    received: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not up["ok"]:
            raise httpx.ConnectError("connection refused", request=request)
        body = json.loads(request.content)
        rows = [row for group in body for row in group["dataArray"]]
        received.extend(rows)
        return httpx.Response(201, json=["http://x/Observations(1)"] * len(rows))

    slept: list[float] = []
    streams = [_stream(1, 60), _stream(2, 60)]
    with clock.frozen(NOW) as advance:

        async def fake_sleep(seconds: float) -> None:
            slept.append(seconds)
            advance(timedelta(seconds=seconds))
            if len(slept) == 3:
                up["ok"] = True  # the server comes back after three failed rounds

        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url="http://sim"
        ) as c:
            feed = simulate.Feed(
                simulate.IntervalPlan(streams, NOW - timedelta(seconds=60)),
                [simulate.Route(simulate.HttpSender(c, {"gw": "k"}))],
                sleep=fake_sleep,
                tick_seconds=5,
            )
            stats = await feed.run(until=lambda: len(slept) >= 5)
    assert slept[:4] == [1.0, 2.0, 4.0, 5.0]  # doubling back-off, then the normal pace
    assert stats.errors == 3 and stats.dropped == 0
    # The two readings due at the start survived the outage; later rounds added their own.
    assert len(received) >= 2 and stats.accepted == len(received) and feed.pending == []


async def test_pending_readings_are_bounded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://sim"
    ) as c:
        feed = simulate.Feed(
            simulate.RatePlan([_stream(1, 60)], 100, NOW),
            [simulate.Route(simulate.HttpSender(c, {}))],
            max_pending=50,
        )
        with clock.frozen(NOW + timedelta(seconds=2)):
            assert await feed.tick() is False
    assert len(feed.pending) == 50 and feed.stats.dropped == 150


async def test_fresh_keys_revoke_the_previous_ones(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    gateway, streams = await _city(session, devices=1)
    first = await simulate.issue_keys(session, ROOT, {gateway.username})
    second = await simulate.issue_keys(session, ROOT, {gateway.username})
    await session.flush()
    keys = (
        (
            await session.execute(
                select(ApiKey).where(ApiKey.account_id == gateway.id, ApiKey.name == "simulator")
            )
        )
        .scalars()
        .all()
    )
    assert sorted(k.revoked_at is None for k in keys) == [False, True]
    body = simulate.data_array([simulate.make_reading(streams[0], NOW, Context(1))])
    with clock.frozen(NOW):
        old = await client.post(
            "/sta/v1.1/CreateObservations",
            json=body,
            headers={"X-API-Key": first[gateway.username]},
        )
        new = await client.post(
            "/sta/v1.1/CreateObservations",
            json=body,
            headers={"X-API-Key": second[gateway.username]},
        )
    assert_problem(old, 401, "api-key-revoked")
    assert new.status_code == 201 and new.json()[0] != "error"


async def test_the_demo_task_does_nothing_unless_turned_on(settings: Any) -> None:
    class Runtime:
        def __init__(self) -> None:
            self.settings = settings.model_copy(update={"simulate_feed": False})
            self.db = None  # touching it would fail

    await asyncio.wait_for(simulate.run_demo_feed(Runtime()), timeout=5)
    assert simulate.base_url(settings) == "http://127.0.0.1:8000"


# --- the command ---------------------------------------------------------------------------------


def smartcity(*args: str) -> Any:
    from smartcity.cli import app

    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": "", "COLUMNS": "200"})
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--devices", "0"], "--devices"),
        (["--rate", "0"], "--rate"),
        (["--rate", "-5"], "--rate"),
        (["--duration", "0"], "--duration"),
        (["--url", "ftp://example.org"], "is not an http:// or https:// URL"),
        (["--url", "nonsense"], "is not an http:// or https:// URL"),
        (["--url", "http://127.0.0.1:9"], "cannot reach http://127.0.0.1:9"),
        (["--mqtt", "http://127.0.0.1:1883"], "is not an mqtt://host:port URL"),
        (["--devices", "many"], "--devices"),
    ],
)
def test_simulate_refuses_bad_input_with_exit_code_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = smartcity(
        "sensing", "simulate", *args, "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.db").exists()  # nothing was touched


def test_simulate_drives_the_server_for_its_duration(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smartcity.app import create_app

    url = f"sqlite+aiosqlite:///{tmp_path / 'load.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    app = create_app(settings.model_copy(update={"database_url": url}))
    monkeypatch.setattr(
        simulate_load,
        "transport_for",
        lambda _u: httpx.ASGITransport(app=app, client=("127.0.0.1", 1)),
    )
    with clock.frozen(NOW) as advance:

        async def fake_sleep(seconds: float) -> None:
            advance(timedelta(seconds=seconds))

        monkeypatch.setattr(simulate_load, "sleep", fake_sleep)
        result = smartcity(
            "sensing",
            "simulate",
            "--devices",
            "3",
            "--rate",
            "20",
            "--duration",
            "2",
            "--database-url",
            url,
        )
        assert result.exit_code == 0, result.output
        assert "Driving 3 devices (6 datastreams) at 20 obs/s" in result.output
        assert "Sent 40, accepted 40, refused 0." in result.output
        assert "obs/s" in result.output and "p99" in result.output

        # A second run reuses the three devices and adds two more.
        again = smartcity(
            "sensing",
            "simulate",
            "--devices",
            "5",
            "--rate",
            "4",
            "--duration",
            "1",
            "--database-url",
            url,
        )
        assert again.exit_code == 0, again.output
        assert "Driving 5 devices (10 datastreams)" in again.output
        assert "Sent 4, accepted 4, refused 0." in again.output

    async def check() -> tuple[int, int, int]:
        from smartcity.core.db import Database, make_engine

        db = Database(make_engine(url))
        try:
            async with db.session_scope() as s:
                things = await s.scalar(select(func.count()).select_from(m.StaThing))
                observations = await s.scalar(select(func.count()).select_from(m.StaObservation))
                live_keys = await s.scalar(
                    select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
                )
                return int(things or 0), int(observations or 0), int(live_keys or 0)
        finally:
            await db.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        things, observations, live_keys = pool.submit(asyncio.run, check()).result()
    assert (things, observations, live_keys) == (5, 44, 0)  # keys revoked at the end


async def test_mqtt_sender_publishes_each_reading_to_its_datastream_topic() -> None:
    """Against the shared Mosquitto (skipped without it): QoS 1 PUBLISHes a subscriber gets."""
    import socket

    import aiomqtt

    from smartcity.sensing.mqtt.topics import device_topic

    with socket.socket() as probe:
        probe.settimeout(0.5)
        up = probe.connect_ex(BROKER) == 0
    if not up:
        pytest.skip(f"no MQTT broker listens on {brokers.SHARED_URL} (start: mosquitto -d)")
    base = 900_000_000 + random.randrange(1_000_000)  # topics no other test uses
    streams = [_stream(base + 1, 60), _stream(base + 2, 60)]
    readings = [simulate.make_reading(s, NOW, Context(1)) for s in streams]
    # In the device namespace (issue 10 §1): the standard topics carry only the server's JSON.
    topics = [
        device_topic(s.owner, f"v1.1/Datastreams({s.datastream_id})/Observations") for s in streams
    ]
    async with aiomqtt.Client(*BROKER, identifier=f"sim-test-{base}") as listener:
        for topic in topics:
            await listener.subscribe(topic, qos=1)
        sender = simulate.MqttSender(brokers.SHARED_URL, client_id=f"sim-sender-{base}")
        stats = simulate.Stats()
        try:
            assert await sender.send(readings, stats) == []
        finally:
            await sender.close()
        got: dict[str, Any] = {}
        async with asyncio.timeout(10):
            async for message in listener.messages:
                got[str(message.topic)] = json.loads(bytes(message.payload))
                if len(got) == 2:
                    break
    assert (stats.sent, stats.accepted) == (2, 2)
    first = got[topics[0]]
    assert first == {
        "phenomenonTime": "2026-11-20T03:00:00Z",
        "resultTime": "2026-11-20T03:00:00Z",
        "result": readings[0].result,
    }


async def test_mqtt_sender_keeps_readings_when_the_broker_is_down() -> None:
    stats = simulate.Stats()
    sender = simulate.MqttSender("mqtt://127.0.0.1:9")  # nothing listens on the discard port
    readings = [simulate.make_reading(_stream(1, 60), NOW, Context(1))]
    assert await sender.send(readings, stats) == readings
    assert stats.errors == 1 and stats.sent == 0
