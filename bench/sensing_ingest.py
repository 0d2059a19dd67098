"""Observation ingestion throughput (观测数据接入性能), rules on, against the bare ceiling.

One run, one fresh database (PostgreSQL `bench_sensing`, or a temporary SQLite file), 100
OM_Measurement Datastreams each with an active threshold rule (so every Observation goes
through the rules handler, in the `sensing.observations.created` events of up to 500 that
ingestion writes), a `system` account's API key:

0. ceiling: the same kind of rows written by a bare COPY (asyncpg) / executemany (sqlite3)
   straight into sta_observation, no checks, no events;
1. in process: `ingest.ingest_observations` in batches of 1,000, with COPY and with
   executemany (PostgreSQL), and without the outbox events, to see what each costs;
2. `POST /sta/v1.1/CreateObservations`, dataArray batches of 1,000 rows, 4 clients;
3. single `POST /sta/v1.1/Observations`, 16 clients;
4. MQTT: QoS 1 PUBLISHes to `v1.1/Datastreams(id)/Observations` on a Mosquitto of this
   benchmark (a free loopback port; `max_queued_messages 0` so the broker drops nothing while
   the bridge lags), the bridge of the server writing them; counted when the rows are
   committed (polling the table).

2–4 go to a real `smartcity serve` (uvicorn, one process) on loopback, with its runtime: the
outbox relay, the rules handler and the MQTT publisher of updates run in that process, on the
same two CPUs. Each line gives observations/s until the last row was committed, and
observations/s until the outbox was drained too (every event handled, rules included).

    python bench/sensing_ingest.py [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sensing import City, prepare, seed_city
from _support import free_port, machine, running_server, smartcity

STREAMS = 100
DB_NAME = "bench_sensing"
_TIME0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
_seq = 0


def next_times(n: int) -> list[datetime]:
    """Distinct phenomenon times, one second apart, in the last three days."""
    global _seq
    out = [_TIME0 + timedelta(seconds=_seq + i) for i in range(n)]
    _seq += n
    return out


# --- the database -------------------------------------------------------------------------


async def add_rules(url: str, city: City) -> None:
    from smartcity.core.db import Database, make_engine
    from smartcity.sensing.rules.models import SensingRule

    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            session.add_all(
                SensingRule(
                    name=f"PM2.5 above 1000 on {ds}",
                    kind="threshold",
                    params={"op": "above", "value": 1000.0, "hysteresis": 0.0},
                    severity="warning",
                    datastream_id=ds,
                    active=True,
                )
                for ds in city.datastreams
            )
    finally:
        await db.dispose()


async def own_thing(url: str, city: City) -> None:
    from sqlalchemy import text

    from smartcity.core.db import Database, make_engine

    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            await session.execute(
                text(
                    "UPDATE sta_thing SET owner_account_id = "
                    "(SELECT id FROM account WHERE username = 'bench.device') WHERE id = :t"
                ),
                {"t": city.thing_id},
            )
    finally:
        await db.dispose()


async def scalar(url: str, sql: str) -> int:
    from sqlalchemy import text

    from smartcity.core.db import Database, make_engine

    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            return int(await session.scalar(text(sql)) or 0)
    finally:
        await db.dispose()


def count_sync(url: str, sql: str) -> int:
    return asyncio.run(scalar(url, sql))


# --- 0. the ceiling -------------------------------------------------------------------------


def ceiling(url: str, city: City, n: int) -> float:
    rows = [
        (t, 0, random.uniform(0, 100), random.choice(city.datastreams), city.feature_id)
        for t in next_times(n)
    ]
    columns = (
        "phenomenon_time_start",
        "result_kind",
        "result_number",
        "datastream_id",
        "feature_of_interest_id",
    )
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1])
        text_rows = [(t.strftime("%Y-%m-%d %H:%M:%S.%f"), *rest) for t, *rest in rows]
        began = time.perf_counter()
        for i in range(0, n, 1000):
            conn.executemany(
                f"INSERT INTO sta_observation ({', '.join(columns)}) VALUES (?, ?, ?, ?, ?)",
                text_rows[i : i + 1000],
            )
            conn.commit()
        elapsed = time.perf_counter() - began
        conn.close()
        return n / elapsed

    async def copy() -> float:
        import asyncpg  # type: ignore[import-untyped]
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        conn = await asyncpg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            database=parsed.database,
        )
        try:
            began = time.perf_counter()
            for i in range(0, n, 1000):
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "sta_observation", records=rows[i : i + 1000], columns=columns
                    )
            return n / (time.perf_counter() - began)
        finally:
            await conn.close()

    return asyncio.run(copy())


# --- 1. in process ----------------------------------------------------------------------------


async def in_process(url: str, city: City, n: int, mode: str) -> float:
    from smartcity.core.authz import SYSTEM
    from smartcity.core.db import Database, make_engine
    from smartcity.sensing.sta import ingest, store
    from smartcity.sensing.sta.times import Interval

    saved = (store.COPY_MIN_ROWS, store.emit_all)
    if mode == "executemany" and url.startswith("postgresql"):
        # PostgreSQL's INSERT … RETURNING instead of COPY. Not on SQLite: there the threshold
        # would also turn off its own bulk path (write_rows) for one statement per row.
        store.COPY_MIN_ROWS = 10**9
    if mode == "no events":

        async def no_events(*_args: Any) -> None:
            return None

        store.emit_all = no_events  # type: ignore[assignment]
    db = Database(make_engine(url))
    try:
        began = time.perf_counter()
        for _ in range(n // 1000):
            rows = [
                ingest.ObservationRow(
                    datastream_id=random.choice(city.datastreams),
                    phenomenon_time=Interval(t),
                    result=round(random.uniform(0, 100), 1),
                    has_result=True,
                )
                for t in next_times(1000)
            ]
            async with db.session_scope() as session:
                await ingest.ingest_observations(session, SYSTEM, rows)
        return n / (time.perf_counter() - began)
    finally:
        store.COPY_MIN_ROWS, store.emit_all = saved
        # Events written here would be relayed by the server later: mark them handled.
        await db.dispose()


# --- 2–4. through the server ---------------------------------------------------------------


async def drive_create(url: str, key: str, city: City, n: int, clients: int) -> int:
    batches = [next_times(1000) for _ in range(n // 1000)]
    refused = 0

    async def one(c: httpx.AsyncClient) -> None:
        nonlocal refused
        while batches:
            times = batches.pop()
            ds = random.choice(city.datastreams)
            body = [
                {
                    "Datastream": {"@iot.id": ds},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[t.isoformat(), round(random.uniform(0, 100), 1)] for t in times],
                }
            ]
            r = await c.post("/sta/v1.1/CreateObservations", json=body)
            if r.status_code == 503:
                refused += 1
                batches.append(times)
                continue
            assert r.status_code == 201 and "error" not in r.json(), r.text[:300]

    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=120) as c:
        await asyncio.gather(*(one(c) for _ in range(clients)))
    return refused


async def drive_single(url: str, key: str, city: City, n: int, clients: int) -> int:
    times = next_times(n)
    refused = 0

    async def one(c: httpx.AsyncClient) -> None:
        nonlocal refused
        while times:
            t = times.pop()
            body = {
                "Datastream": {"@iot.id": random.choice(city.datastreams)},
                "phenomenonTime": t.isoformat(),
                "result": round(random.uniform(0, 100), 1),
            }
            r = await c.post("/sta/v1.1/Observations", json=body)
            if r.status_code == 503:
                refused += 1
                times.append(t)
                continue
            assert r.status_code == 201, r.text[:300]

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"X-API-Key": key}, timeout=120, limits=limits
    ) as c:
        await asyncio.gather(*(one(c) for _ in range(clients)))
    return refused


async def drive_mqtt(port: int, city: City, n: int) -> None:
    import aiomqtt
    import orjson

    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5) as c:
        for t in next_times(n):
            ds = random.choice(city.datastreams)
            payload = {"phenomenonTime": t.isoformat(), "result": round(random.uniform(0, 100), 1)}
            await c.publish(f"v1.1/Datastreams({ds})/Observations", orjson.dumps(payload), qos=1)


@contextmanager
def mosquitto(directory: Path) -> Iterator[int]:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if binary is None:
        raise SystemExit("mosquitto is not installed")
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 0\n"
    )
    broker = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket

                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=10)


def wait_until(url: str, sql: str, target: int, timeout: float = 1800) -> float:
    """Poll until the count reaches ``target``; the time it was seen."""
    deadline = time.monotonic() + timeout
    while True:
        if count_sync(url, sql) >= target:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {sql} >= {target}")
        time.sleep(0.1)


OBS = "SELECT count(*) FROM sta_observation"
PENDING = "SELECT count(*) FROM outbox_event WHERE published_at IS NULL"
# Observations are announced in events of up to store.OBSERVATIONS_PER_EVENT: handled when
# the rules' consumer has processed every such event written.
BATCHES = "SELECT count(*) FROM outbox_event WHERE topic = 'sensing.observations.created'"
RULED = "SELECT count(*) FROM processed_event WHERE consumer = 'sensing.rules.observations'"


def measure(
    label: str, url: str, n: int, drive: Any, ceiling_rate: float, results: list[str]
) -> None:
    before_obs = count_sync(url, OBS)
    before_ruled = count_sync(url, RULED)
    before_batches = count_sync(url, BATCHES)
    began = time.perf_counter()
    refused = drive()
    committed = wait_until(url, OBS, before_obs + n)
    drained = wait_until(url, PENDING, 0) if count_sync(url, PENDING) else committed
    batches = count_sync(url, BATCHES) - before_batches
    drained = max(drained, wait_until(url, RULED, before_ruled + batches))
    rate, rate_all = n / (committed - began), n / (drained - began)
    line = (
        f"{label}: {n:,} observations, {rate:,.0f}/s committed "
        f"({rate / ceiling_rate:.0%} of the ceiling); {rate_all:,.0f}/s with every event "
        f"handled (rules: {count_sync(url, RULED) - before_ruled:,} events of "
        f"{n / max(batches, 1):,.0f} observations on average evaluated)"
        + (f"; {refused} requests answered 503 and retried" if refused else "")
    )
    print(line, flush=True)
    results.append(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--ceiling", type=int, default=200_000)
    parser.add_argument("--in-process", type=int, default=10_000)
    parser.add_argument("--create", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=2_000)
    parser.add_argument("--mqtt", type=int, default=10_000)
    args = parser.parse_args()
    from smartcity.app import modules
    from smartcity.core.authz import register_actions

    for module in modules():
        register_actions(module.actions)
    print(machine())
    url = prepare(args.database_url, DB_NAME)
    pg = url.startswith("postgresql")
    print(f"database: {'PostgreSQL ' + DB_NAME if pg else 'SQLite (temporary file, WAL)'}")
    city = asyncio.run(seed_city(url, STREAMS))
    asyncio.run(add_rules(url, city))
    print(f"{STREAMS} datastreams, one threshold rule each")

    top = ceiling(url, city, args.ceiling)
    bare = "COPY (asyncpg)" if pg else "executemany (sqlite3)"
    print(f"ceiling, bare {bare}, 1,000 rows per transaction: {top:,.0f}/s", flush=True)
    modes = ["COPY", "executemany", "no events"] if pg else ["executemany", "no events"]
    for mode in modes:
        rate = asyncio.run(in_process(url, city, args.in_process, mode))
        label = {"COPY": "COPY", "executemany": "executemany", "no events": "without events"}
        print(
            f"in process, ingest_observations, 1,000 per call, {label[mode]}: "
            f"{rate:,.0f}/s ({rate / top:.0%} of the ceiling)",
            flush=True,
        )

    var = Path(tempfile.mkdtemp(prefix="bench-sensing-"))
    env = {
        **os.environ,
        "SMARTCITY_VAR_DIR": str(var),
        "SMARTCITY_DATABASE_URL": url,
        "LANG": "en_US.UTF-8",
    }
    # A device account owns the Thing, as a station's gateway would.
    smartcity("users", "create", "bench.device", "--kind", "device", "--name", "bench", env=env)
    out = smartcity("keys", "issue", "bench.device", env=env)
    key = next(w for w in out.split() if w.startswith("sck_"))
    asyncio.run(own_thing(url, city))
    results: list[str] = []
    with mosquitto(var) as port:
        env["SMARTCITY_MQTT_URL"] = f"mqtt://127.0.0.1:{port}"
        env["SMARTCITY_MQTT_CLIENT_ID"] = f"bench-bridge-{port}"
        # A.7's own topics on this open broker, as the recorded figures were measured.
        env["SMARTCITY_MQTT_STANDARD_CREATE_TOPICS"] = "true"
        with running_server(env) as server:
            print(
                f"server: smartcity serve (uvicorn, 1 process) at {server}, MQTT bridge on "
                "broker port {port}; outbox relay, rules and MQTT publishing run in it".format(
                    port=port
                ),
                flush=True,
            )
            wait_until(url, PENDING, 0)  # the in-process rounds' events, handled first
            measure(
                "CreateObservations, 1,000 rows per request, 4 clients",
                url,
                args.create,
                lambda: asyncio.run(drive_create(server, key, city, args.create, 4)),
                top,
                results,
            )
            measure(
                "single POST /Observations, 16 clients",
                url,
                args.single,
                lambda: asyncio.run(drive_single(server, key, city, args.single, 16)),
                top,
                results,
            )
            measure(
                "MQTT QoS 1, one publisher",
                url,
                args.mqtt,
                lambda: asyncio.run(drive_mqtt(port, city, args.mqtt)),
                top,
                results,
            )
    print(f"stored observations at the end: {count_sync(url, OBS):,}")


if __name__ == "__main__":
    main()
