"""The outbox, the relay and idempotent delivery, on the in-process bus.

These tests commit for real (the relay and the handlers each open their own transactions), so
they run on a throwaway database of their own instead of the rolled-back test transaction:
a fresh SQLite file always, and a fresh PostgreSQL database when SMARTCITY_TEST_POSTGRES_URL
is set. Both tables the bus writes are emptied before and after every test.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import migrate
from smartcity.core.bus import Event, emit
from smartcity.core.db import Database, make_engine
from smartcity.core.models import Department, OutboxEvent, ProcessedEvent
from smartcity.core.module import Handler, Module
from smartcity.core.runtime import InProcessBus, Runtime, topic_matches
from smartcity.settings import Settings
from tests.conftest import postgres_database_name

POSTGRES_URL = os.environ.get("SMARTCITY_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


# --- a committing database of the test module's own ---------------------------------------


async def _fresh_postgres_database(base_url: str, name: str) -> str:
    import asyncpg

    url = make_url(base_url)
    admin = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.set(database=name, drivername="postgresql+asyncpg").render_as_string(
        hide_password=False
    )


def migrated_url(backend: str, tmp: Path, name: str) -> str:
    """A new database built by the real migrations; ``name`` keeps modules apart on PostgreSQL."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'bus.db'}"
    else:
        url = asyncio.run(_fresh_postgres_database(POSTGRES_URL, postgres_database_name(name)))
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def bus_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_url(request.param, tmp_path_factory.mktemp(request.param), "bus")


async def _clear(db: Database) -> None:
    async with db.session_scope() as session:
        await session.execute(delete(ProcessedEvent))
        await session.execute(delete(OutboxEvent))
        await session.execute(delete(Department).where(Department.code.like("BUSTEST%")))


@pytest.fixture
async def db(bus_db_url: str) -> AsyncIterator[Database]:
    database = Database(make_engine(bus_db_url))
    await _clear(database)
    try:
        yield database
    finally:
        await _clear(database)
        await database.dispose()


# --- helpers ------------------------------------------------------------------------------


class Recorder:
    """A handler that counts its runs, and separately the runs whose transaction committed:
    "handled exactly once" means one committed run, however many attempts it took."""

    def __init__(self, consumer: str, topic: str, *, fail_first: int = 0) -> None:
        self.consumer, self.topic = consumer, topic
        self.fail_first = fail_first  # attempts per event that raise before one succeeds
        self.calls: Counter[uuid.UUID] = Counter()
        self.committed: Counter[uuid.UUID] = Counter()
        self._expected: set[uuid.UUID] = set()
        self._all_committed = asyncio.Event()

    @property
    def handler(self) -> Handler:
        return Handler(consumer=self.consumer, topic=self.topic, handle=self.handle)

    async def handle(self, session: AsyncSession, event: Event) -> None:
        self.calls[event.id] += 1
        if self.calls[event.id] <= self.fail_first:
            raise RuntimeError(f"{self.consumer} fails on attempt {self.calls[event.id]}")

        def committed(_session: object) -> None:
            self.committed[event.id] += 1
            if self._expected and self._expected <= self.committed.keys():
                self._all_committed.set()

        sa_event.listen(session.sync_session, "after_commit", committed, once=True)

    def expect(self, ids: Iterable[uuid.UUID]) -> None:
        self._expected = set(ids)
        self._all_committed.clear()
        if self._expected <= self.committed.keys():
            self._all_committed.set()

    async def wait_all(self, within: float) -> None:
        """Until every expected event was handled once; bounded, so a lost event fails fast."""
        try:
            await asyncio.wait_for(self._all_committed.wait(), within)
        except TimeoutError:
            missing = len(self._expected - self.committed.keys())
            pytest.fail(f"{self.consumer}: {missing} of {len(self._expected)} events never handled")


def runtime_for(settings: Settings, db: Database, *recorders: Recorder) -> Runtime:
    module = Module(name="bustest", handlers=[r.handler for r in recorders])
    return Runtime(settings, db, [module])


async def emit_committed(db: Database, topic: str, payload: dict[str, object]) -> Event:
    async with db.session_scope() as session:
        return await emit(session, topic, payload)


async def outbox(db: Database) -> list[OutboxEvent]:
    async with db.session_scope() as session:
        return list((await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))).all())


async def processed(db: Database, consumer: str) -> int:
    async with db.session_scope() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ProcessedEvent)
            .where(ProcessedEvent.consumer == consumer)
        )
        return int(count or 0)


async def mark_unpublished(db: Database, event: Event) -> None:
    """What a relay crash between publish and marking leaves behind."""
    async with db.session_scope() as session:
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event.id).values(published_at=None)
        )


# --- tests --------------------------------------------------------------------------------


async def test_event_of_a_rolled_back_transaction_is_never_published(
    settings: Settings, db: Database
) -> None:
    rec = Recorder("bustest.rollback", "bustest.>")
    runtime = runtime_for(settings, db, rec)
    await runtime.start(background=False)
    try:
        with pytest.raises(RuntimeError, match="business rule"):
            async with db.session_scope() as session:
                await emit(session, "bustest.thing.created", {"n": 1})
                await session.flush()  # the row really was written, then rolled back
                raise RuntimeError("business rule violated")
        assert await runtime.relay_once() == 0
        assert await outbox(db) == []
        assert rec.calls == Counter()
    finally:
        await runtime.stop()


async def test_committed_event_is_relayed_and_delivered_once(
    settings: Settings, db: Database
) -> None:
    subscriber = Recorder("bustest.subscriber", "bustest.thing.*")
    other = Recorder("bustest.other", "elsewhere.>")
    runtime = runtime_for(settings, db, subscriber, other)
    assert isinstance(runtime.backend, InProcessBus)
    await runtime.start(background=False)
    try:
        event = await emit_committed(db, "bustest.thing.created", {"n": 1})
        assert subscriber.calls == Counter()  # nothing happens before the relay runs

        assert await runtime.relay_once() == 1
        assert subscriber.committed == Counter({event.id: 1})
        assert other.calls == Counter()
        [row] = await outbox(db)
        assert row.id == event.id and row.published_at is not None
        assert row.payload == event.to_wire()

        assert await runtime.relay_once() == 0  # marked: not relayed again
        assert subscriber.committed == Counter({event.id: 1})
        assert await processed(db, subscriber.consumer) == 1
    finally:
        await runtime.stop()


async def test_relay_wakes_after_commit_in_the_background(settings: Settings, db: Database) -> None:
    rec = Recorder("bustest.background", "bustest.>")
    runtime = runtime_for(settings, db, rec)
    await runtime.start()  # the relay loop, woken by the commit, not by polling
    try:
        event = await emit_committed(db, "bustest.thing.created", {})
        rec.expect([event.id])
        await rec.wait_all(within=10)
        assert rec.committed == Counter({event.id: 1})
    finally:
        await runtime.stop()


async def test_republished_event_runs_the_handler_once(settings: Settings, db: Database) -> None:
    rec = Recorder("bustest.idempotent", "bustest.>")
    runtime = runtime_for(settings, db, rec)
    await runtime.start(background=False)
    try:
        event = await emit_committed(db, "bustest.thing.created", {"n": 1})
        assert await runtime.relay_once() == 1

        # A relay that crashed after publishing and before marking publishes again...
        await mark_unpublished(db, event)
        assert await runtime.relay_once() == 1
        # ...and so may anything that replays the outbox.
        await runtime.backend.publish(event)

        assert rec.calls == Counter({event.id: 1})
        assert rec.committed == Counter({event.id: 1})
        assert await runtime.deliver(rec.handler, event) is False
        assert await processed(db, rec.consumer) == 1
    finally:
        await runtime.stop()


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a.b.c", "a.b.c", True),
        ("a.b.c", "a.b", False),
        ("a.b", "a.b.c", False),
        ("a.b.c", "a.b.d", False),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a", False),
        ("a.*", "b.c", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.d", False),
        ("*.b", "a.b", True),
        ("a.>", "a.b", True),
        ("a.>", "a.b.c.d", True),
        ("a.>", "a", False),
        ("a.>", "b.c", False),
        (">", "a", True),
        (">", "a.b.c", True),
        ("a.*.>", "a.b.c", True),
        ("a.*.>", "a.b", False),
        ("core.account.created", "core.account.created", True),
        ("core.account.created", "core.account.created.extra", False),
        ("core.*.created", "core.account.deleted", False),
    ],
)
def test_topic_matching(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


async def test_failing_handler_neither_blocks_others_nor_loses_its_event(
    settings: Settings, db: Database
) -> None:
    flaky = Recorder("bustest.flaky", "bustest.>", fail_first=1)
    steady = Recorder("bustest.steady", "bustest.>")
    runtime = runtime_for(settings, db, flaky, steady)
    await runtime.start(background=False)
    try:
        event = await emit_committed(db, "bustest.thing.created", {})
        assert await runtime.relay_once() == 1
        assert steady.committed == Counter({event.id: 1})
        assert flaky.calls == Counter({event.id: 1})
        assert flaky.committed == Counter()
        # Its failure rolled back the idempotency mark too, so the event is still due to it.
        assert await processed(db, flaky.consumer) == 0

        # Delivered again later (replayed from the outbox), it succeeds, once.
        await mark_unpublished(db, event)
        assert await runtime.relay_once() == 1
        await mark_unpublished(db, event)
        assert await runtime.relay_once() == 1

        assert flaky.calls == Counter({event.id: 2})
        assert flaky.committed == Counter({event.id: 1})
        assert steady.calls == Counter({event.id: 1})
        assert steady.committed == Counter({event.id: 1})
    finally:
        await runtime.stop()


async def test_integrity_error_inside_a_handler_is_a_failure_not_a_duplicate(
    settings: Settings, db: Database
) -> None:
    async def clashing(session: AsyncSession, event: Event) -> None:
        session.add(Department(code="BUSTEST-DUP", name="一"))
        session.add(Department(code="BUSTEST-DUP", name="二"))
        await session.flush()

    handler = Handler(consumer="bustest.clashing", topic="bustest.>", handle=clashing)
    runtime = Runtime(settings, db, [Module(name="bustest", handlers=[handler])])
    event = Event(topic="bustest.thing.created", payload={})
    # Taking it for a concurrent duplicate would acknowledge an event that was never handled.
    with pytest.raises(IntegrityError):
        await runtime.deliver(handler, event)
    assert await processed(db, handler.consumer) == 0


async def test_concurrent_deliveries_of_one_event_run_the_handler_once(
    settings: Settings, db: Database
) -> None:
    rec = Recorder("bustest.concurrent", "bustest.>")
    runtime = runtime_for(settings, db, rec)
    event = Event(topic="bustest.thing.created", payload={})
    results = await asyncio.gather(*(runtime.deliver(rec.handler, event) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert rec.committed == Counter({event.id: 1})
    assert await processed(db, rec.consumer) == 1


async def test_stop_leaves_behind_a_task_that_will_not_stop(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A long-running task that keeps working after its cancellation (a bridge flushing a
    backlog) must not hold the process: stop() waits its grace, then goes on."""
    started, release = asyncio.Event(), asyncio.Event()

    async def stubborn(_runtime: Runtime) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # ignores the cancellation until released

    runtime = Runtime(settings, db, [Module(name="bustest", tasks=[stubborn])])
    await runtime.start()
    await started.wait()
    await runtime.stop(grace_seconds=0.05)
    assert "bustest-task did not stop" in caplog.text
    left = [t for t in asyncio.all_tasks() if t.get_name() == "bustest-task"]
    assert len(left) == 1 and not left[0].done()
    release.set()
    await left[0]
