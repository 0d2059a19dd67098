"""The NATS JetStream backend against a real server (SMARTCITY_TEST_NATS_URL, by default
nats://127.0.0.1:4222); those tests are skipped when nothing listens there.

Every test gets a stream and subject prefix of its own, deleted at its end, so leftovers of
other runs (or the platform's own SMARTCITY stream) cannot interfere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import orjson
import pytest
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from smartcity.core.bus import Event, emit
from smartcity.core.db import Database, make_engine
from smartcity.core.models import OutboxEvent
from smartcity.core.module import Handler, Module
from smartcity.core.nats_bus import NatsBus, durable_name, redact
from smartcity.core.runtime import Deliver, Runtime, make_backend
from smartcity.settings import Settings
from tests.core.test_bus import BACKENDS, Recorder, _clear, migrated_url, processed

NATS_URL = os.environ.get("SMARTCITY_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _nats_listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), 1.0):
            return True
    except OSError:
        return False


needs_nats = pytest.mark.skipif(
    not _nats_listening(NATS_URL),
    reason=f"no NATS server listening at {NATS_URL} (set SMARTCITY_TEST_NATS_URL)",
)

# Bounded waits: generous, since they only run out when something is broken.
WAIT = 60.0


@pytest.fixture(scope="module", params=BACKENDS)
def nats_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_url(request.param, tmp_path_factory.mktemp(request.param), "nats_bus")


@pytest.fixture
async def db(nats_db_url: str) -> AsyncIterator[Database]:
    database = Database(make_engine(nats_db_url))
    await _clear(database)
    try:
        yield database
    finally:
        await _clear(database)
        await database.dispose()


@pytest.fixture
async def make_bus() -> AsyncIterator[Callable[..., NatsBus]]:
    """NatsBus instances on a stream of this test's own, with short redelivery timings."""
    tag = uuid.uuid4().hex[:12]
    stream, prefix = f"SCTEST_{tag}", f"sctest_{tag}"
    buses: list[NatsBus] = []

    def make(**overrides: Any) -> NatsBus:
        options: dict[str, Any] = {
            "stream": stream,
            "subject_prefix": prefix,
            # Redelivery of unacknowledged messages after 2 s keeps the crash test short.
            "ack_wait": 2.0,
            "nak_delay": 0.05,
            "fetch_timeout": 1.0,
        }
        options.update(overrides)
        bus = NatsBus(NATS_URL, **options)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.abort()
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(stream)
    except NotFoundError:
        pass
    finally:
        await nc.close()


class RelayKilled(Exception):
    """Stands for the relay process dying."""


class CountingBus:
    """Wraps a NatsBus: counts what the relay published and, with ``kill_after``, dies right
    after the kill_after-th PubAck, before relay_once can mark anything published."""

    def __init__(self, inner: NatsBus, kill_after: int | None = None) -> None:
        self.inner, self.kill_after = inner, kill_after
        self.published: Counter[uuid.UUID] = Counter()

    async def start(self, handlers: list[Handler], deliver: Deliver) -> None:
        await self.inner.start(handlers, deliver)

    async def publish(self, event: Event) -> None:
        await self.inner.publish(event)  # returns after the PubAck: the event is in the stream
        self.published[event.id] += 1
        if self.kill_after is not None and self.published.total() >= self.kill_after:
            raise RelayKilled

    async def stop(self) -> None:
        await self.inner.stop()


class WatchedRuntime(Runtime):
    """Records what deliver() returned; with ``freeze_after`` it hangs for good right after
    that many handler commits, before the NATS message is acknowledged, as a process that
    dies at that instant would."""

    def __init__(
        self, settings: Settings, db: Database, modules: list[Module], *, freeze_after: int = 0
    ) -> None:
        super().__init__(settings, db, modules)
        self.freeze_after = freeze_after
        self.commits = 0
        self.frozen = asyncio.Event()
        self.frozen_event: uuid.UUID | None = None
        self.redelivered: Counter[uuid.UUID] = Counter()  # deliveries that found it done
        self.watch: uuid.UUID | None = None
        self.watched_redelivery = asyncio.Event()

    async def deliver(self, handler: Handler, event: Event) -> bool:
        ran = await super().deliver(handler, event)
        if ran:
            self.commits += 1
            if self.commits == self.freeze_after:
                self.frozen_event = event.id
                self.frozen.set()
                await asyncio.Future()  # never returns; only cancellation ends it
        else:
            self.redelivered[event.id] += 1
            if event.id == self.watch:
                self.watched_redelivery.set()
        return ran


def runtime_for(
    settings: Settings, db: Database, bus: NatsBus | CountingBus, *recorders: Recorder, **kw: int
) -> WatchedRuntime:
    module = Module(name="bustest", handlers=[r.handler for r in recorders])
    runtime = WatchedRuntime(settings, db, [module], **kw)
    runtime.backend = bus
    return runtime


async def stream_messages(bus: NatsBus) -> int:
    nc = await nats.connect(NATS_URL)
    try:
        info = await nc.jetstream().stream_info(bus.stream)
        return int(info.state.messages)
    finally:
        await nc.close()


# --- tests that need no server ------------------------------------------------------------


def test_nats_url_selects_the_nats_backend(settings: Settings) -> None:
    backend = make_backend(settings.model_copy(update={"bus_url": "nats://127.0.0.1:4222"}))
    assert isinstance(backend, NatsBus)
    assert backend.stream == "SMARTCITY"
    assert backend.subject("core.account.created") == "smartcity.core.account.created"


def test_durable_names_are_sanitised() -> None:
    assert durable_name("hotline.case-opened:sms") == "hotline_case-opened_sms"
    assert durable_name("Registry_Sync-2") == "Registry_Sync-2"
    assert redact("nats://bus:s3cret@10.0.0.5:4222") == "nats://bus:***@10.0.0.5:4222"
    assert redact("nats://10.0.0.5:4222") == "nats://10.0.0.5:4222"


async def test_handlers_whose_durable_names_clash_are_refused() -> None:
    async def noop(session: Any, event: Event) -> None:
        return None

    bus = NatsBus("nats://127.0.0.1:1")  # never contacted: the check comes first
    handlers = [Handler("a.b", "x.>", noop), Handler("a_b", "y.>", noop)]

    async def deliver(handler: Handler, event: Event) -> bool:
        return True

    with pytest.raises(ValueError, match="same NATS durable consumer 'a_b'"):
        await bus.start(handlers, deliver)


async def test_unreachable_server_is_a_clear_error_naming_the_url() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"nats://bus:s3cret@127.0.0.1:{port}"
    bus = NatsBus(url, connect_timeout=1.0)

    async def deliver(handler: Handler, event: Event) -> bool:
        return True

    with pytest.raises(RuntimeError, match=f"NATS server at nats://bus:\\*\\*\\*@127.0.0.1:{port}"):
        await bus.start([], deliver)


# --- tests against the server -------------------------------------------------------------


@pytest.mark.nats
@needs_nats
async def test_event_reaches_subscriber_exactly_once_across_a_relay_crash(
    settings: Settings, db: Database, make_bus: Callable[..., NatsBus]
) -> None:
    """An event written in a transaction reaches a subscriber exactly once per event id even
    when the relay is killed and restarted mid-way."""
    n, killed_after, frozen_after = 200, 80, 20
    ids: list[uuid.UUID] = []
    for start in range(0, n, 10):
        async with db.session_scope() as session:
            for i in range(start, start + 10):
                ids.append((await emit(session, "bustest.thing.happened", {"i": i})).id)
    sub = Recorder("bustest.nats-subscriber", "bustest.thing.*")
    sub.expect(ids)

    # First process: its relay dies right after the 80th PubAck, so those 80 events are in
    # the stream but none is marked published; its consumer hangs after 20 handled events,
    # with the 20th committed and not acknowledged.
    bus1 = make_bus()
    relay1 = CountingBus(bus1, kill_after=killed_after)
    first = runtime_for(settings, db, relay1, sub, freeze_after=frozen_after)
    await first.start(background=False)
    with pytest.raises(RelayKilled):
        await first.relay_once(batch=n)
    await asyncio.wait_for(first.frozen.wait(), WAIT)
    await bus1.abort()  # the process is gone: no drain, no further acks
    assert first.frozen_event is not None
    assert len(sub.committed) == frozen_after
    async with db.session_scope() as session:
        pending = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
    assert pending == n

    # A fresh process (new connection, same durable consumer) relays everything again.
    bus2 = make_bus()
    relay2 = CountingBus(bus2)
    second = runtime_for(settings, db, relay2, sub)
    second.watch = first.frozen_event
    await second.start(background=False)
    try:
        assert await second.relay_once(batch=n) == n  # nothing was marked: all go out again
        assert await second.relay_once(batch=n) == 0
        await sub.wait_all(WAIT)
        # The frozen message was handled but never acked: JetStream redelivers it after
        # ack_wait, and deliver() recognises it by its event id.
        await asyncio.wait_for(second.watched_redelivery.wait(), WAIT)
    finally:
        await second.stop()

    assert sub.committed == Counter({event_id: 1 for event_id in ids})
    assert await processed(db, sub.consumer) == n
    # Republishing did happen: the 80 events the dead relay had published went out again...
    assert relay1.published.total() == killed_after
    assert relay2.published == Counter({event_id: 1 for event_id in ids})
    republished = [i for i in ids if relay1.published[i] + relay2.published[i] == 2]
    assert len(republished) == killed_after
    # ...and JetStream dropped those repeats by their Nats-Msg-Id.
    assert bus2.duplicates == killed_after
    assert await stream_messages(bus2) == n
    # Redelivery did happen too, and ran no handler twice.
    assert second.redelivered[first.frozen_event] >= 1
    async with db.session_scope() as session:
        pending = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
    assert pending == 0


@pytest.mark.nats
@needs_nats
async def test_failed_handler_gets_the_message_again_and_succeeds_once(
    settings: Settings, db: Database, make_bus: Callable[..., NatsBus]
) -> None:
    flaky = Recorder("bustest.nats-flaky", "bustest.>", fail_first=1)
    steady = Recorder("bustest.nats-steady", "bustest.>")
    runtime = runtime_for(settings, db, make_bus(), flaky, steady)
    await runtime.start(background=False)
    try:
        events = []
        for i in range(3):
            async with db.session_scope() as session:
                events.append(await emit(session, f"bustest.thing{i}.created", {"i": i}))
        ids = [e.id for e in events]
        flaky.expect(ids)
        steady.expect(ids)
        assert await runtime.relay_once() == 3
        await flaky.wait_all(WAIT)
        await steady.wait_all(WAIT)
    finally:
        await runtime.stop()
    assert flaky.calls == Counter({i: 2 for i in ids})  # nak'd once, redelivered once
    assert flaky.committed == Counter({i: 1 for i in ids})
    assert steady.calls == Counter({i: 1 for i in ids})
    assert steady.committed == Counter({i: 1 for i in ids})


@pytest.mark.nats
@needs_nats
async def test_duplicate_messages_past_the_dedupe_window_run_the_handler_once(
    settings: Settings, db: Database, make_bus: Callable[..., NatsBus]
) -> None:
    """Without a Nats-Msg-Id (as after the duplicate window) JetStream stores both copies;
    the consumer side still runs the handler once. A poison message in between is dropped
    without holding up what follows it."""
    rec = Recorder("bustest.nats-dupes", "bustest.>")
    bus = make_bus()
    runtime = runtime_for(settings, db, bus, rec)
    event = Event(topic="bustest.thing.created", payload={"n": 1})
    later = Event(topic="bustest.thing.created", payload={"n": 2})
    runtime.watch = event.id
    rec.expect([event.id, later.id])
    await runtime.start(background=False)
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        subject = bus.subject(event.topic)
        await js.publish(subject, orjson.dumps(event.to_wire()), stream=bus.stream)
        await js.publish(subject, b"not an event", stream=bus.stream)
        await js.publish(subject, orjson.dumps(event.to_wire()), stream=bus.stream)
        await js.publish(subject, orjson.dumps(later.to_wire()), stream=bus.stream)
        await rec.wait_all(WAIT)
        await asyncio.wait_for(runtime.watched_redelivery.wait(), WAIT)
    finally:
        await nc.close()
        await runtime.stop()
    assert await stream_messages(bus) == 4
    assert rec.calls == Counter({event.id: 1, later.id: 1})
    assert rec.committed == Counter({event.id: 1, later.id: 1})
    assert runtime.redelivered == Counter({event.id: 1})


@pytest.mark.nats
@needs_nats
async def test_restart_updates_the_durable_consumer_and_keeps_its_place(
    settings: Settings, db: Database, make_bus: Callable[..., NatsBus]
) -> None:
    before = Recorder("bustest.nats-moving", "bustest.old.*")
    first = runtime_for(settings, db, make_bus(), before)
    await first.start(background=False)
    await first.stop()

    # Same consumer, new topic and limits: the durable consumer is updated, not refused.
    after = Recorder("bustest.nats-moving", "bustest.new.*")
    bus = make_bus(max_deliver=5)
    second = runtime_for(settings, db, bus, after)
    await second.start(background=False)
    try:
        async with db.session_scope() as session:
            old = await emit(session, "bustest.old.thing", {})
            new = await emit(session, "bustest.new.thing", {})
        after.expect([new.id])
        assert await second.relay_once() == 2
        await after.wait_all(WAIT)
    finally:
        await second.stop()
    nc = await nats.connect(NATS_URL)
    try:
        info = await nc.jetstream().consumer_info(bus.stream, "bustest_nats-moving")
    finally:
        await nc.close()
    assert info.config.filter_subject == bus.subject("bustest.new.*")
    assert info.config.max_deliver == 5
    assert old.id not in after.calls
    assert after.committed == Counter({new.id: 1})


NATS_SERVER = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None
)


class PrivateNats:
    """A nats-server of this test's own (free port, own store), to stop and start again."""

    def __init__(self, store: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.store = store
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        assert NATS_SERVER is not None
        args = ["-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)]
        self.process = await asyncio.create_subprocess_exec(
            NATS_SERVER, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        assert self.process.stderr is not None
        stderr = self.process.stderr

        async def ready() -> None:
            while b"Server is ready" not in await stderr.readline():
                if stderr.at_eof():
                    raise RuntimeError("nats-server exited during start-up")

        await asyncio.wait_for(ready(), WAIT)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        self.process = None


@pytest.fixture
async def private_nats(tmp_path: Path) -> AsyncIterator[PrivateNats]:
    server = PrivateNats(tmp_path / "jetstream")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.nats
@pytest.mark.skipif(NATS_SERVER is None, reason="the nats-server binary is not installed")
async def test_bus_reconnects_after_a_server_restart(
    settings: Settings, db: Database, private_nats: PrivateNats
) -> None:
    rec = Recorder("bustest.nats-restart", "bustest.>")
    bus = NatsBus(private_nats.url, ack_wait=2.0, fetch_timeout=1.0, publish_timeout=2.0)
    runtime = runtime_for(settings, db, bus, rec)
    await runtime.start(background=False)
    try:
        async with db.session_scope() as session:
            before = await emit(session, "bustest.thing.created", {"n": 1})
        rec.expect([before.id])
        assert await runtime.relay_once() == 1
        await rec.wait_all(WAIT)

        await private_nats.stop()
        async with db.session_scope() as session:
            during = await emit(session, "bustest.thing.created", {"n": 2})
        # No PubAck, so the relay must not mark the event published.
        with pytest.raises(TimeoutError):
            await runtime.relay_once()

        await private_nats.start()  # same store: the stream and the durable consumer survive
        rec.expect([before.id, during.id])
        relayed = None
        for _attempt in range(int(WAIT / bus.publish_timeout)):
            # Each attempt waits up to publish_timeout for nats-py to reconnect on its own.
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                relayed = await runtime.relay_once()
                break
        assert relayed == 1
        await rec.wait_all(WAIT)
    finally:
        await runtime.stop()
    assert rec.committed == Counter({before.id: 1, during.id: 1})


@pytest.mark.nats
@needs_nats
async def test_start_updates_an_existing_stream_and_keeps_operator_settings(
    make_bus: Callable[..., NatsBus],
) -> None:
    bus = make_bus()
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name=bus.stream,
                subjects=[f"{bus.subject_prefix}.old.>"],
                storage=StorageType.FILE,
                duplicate_window=30,
                max_msgs=100_000,
                description="set by the operator",
            )
        )

        async def deliver(handler: Handler, event: Event) -> bool:
            return True

        await bus.start([], deliver)
        await bus.stop()
        config = (await js.stream_info(bus.stream)).config
    finally:
        await nc.close()
    assert config.subjects == [f"{bus.subject_prefix}.>"]
    assert config.duplicate_window == bus.duplicate_window
    assert config.max_age == bus.max_age
    assert config.max_msgs == 100_000
    assert config.description == "set by the operator"
