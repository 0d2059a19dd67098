"""What runs beside the web app: the bus backend, the outbox relay and periodic jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartcity.core import clock
from smartcity.core.bus import Event
from smartcity.core.db import Database
from smartcity.core.models import OutboxEvent, ProcessedEvent
from smartcity.core.module import Handler, Job, Module

if TYPE_CHECKING:
    from smartcity.settings import Settings

log = logging.getLogger(__name__)

Deliver = Callable[[Handler, Event], Awaitable[bool]]


class BusBackend(Protocol):
    """Carries relayed events to subscribed handlers. ``deliver`` is idempotent by event id."""

    async def start(self, handlers: list[Handler], deliver: Deliver) -> None: ...

    async def publish(self, event: Event) -> None: ...

    async def stop(self) -> None: ...


def topic_matches(pattern: str, topic: str) -> bool:
    """NATS subject rules: ``*`` matches one token, a final ``>`` matches the rest."""
    want, have = pattern.split("."), topic.split(".")
    for i, part in enumerate(want):
        if part == ">":
            return len(have) > i
        if i >= len(have) or (part != "*" and part != have[i]):
            return False
    return len(want) == len(have)


class InProcessBus:
    """The default backend: handlers run in this process, right after the relay publishes."""

    def __init__(self) -> None:
        self.handlers: list[Handler] = []
        self.deliver: Deliver | None = None

    async def start(self, handlers: list[Handler], deliver: Deliver) -> None:
        self.handlers, self.deliver = handlers, deliver

    async def publish(self, event: Event) -> None:
        assert self.deliver is not None
        for handler in self.handlers:
            if topic_matches(handler.topic, event.topic):
                try:
                    await self.deliver(handler, event)
                except Exception:
                    # In-process delivery has no redelivery of its own; the failure is logged
                    # and the event stays in the outbox log for replay by an operator.
                    log.exception("handler %s failed on event %s", handler.consumer, event.id)

    async def stop(self) -> None:
        self.handlers = []


def make_backend(settings: Settings) -> BusBackend:
    if settings.bus_url.startswith("nats://"):
        from smartcity.core.nats_bus import NatsBus

        backend: BusBackend = NatsBus(settings.bus_url)
        return backend
    return InProcessBus()


class _AlreadyProcessed(Exception):
    """Another delivery of the same event to the same consumer committed first."""


_relay_wakers: set[asyncio.Event] = set()


@sa_event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    if session.info.pop("outbox", False):
        for waker in list(_relay_wakers):
            waker.set()


class Runtime:
    """Started by the app's lifespan (and by CLI commands that need the bus)."""

    def __init__(self, settings: Settings, db: Database, modules: list[Module]) -> None:
        self.settings, self.db = settings, db
        self.handlers = [h for m in modules for h in m.handlers]
        self.jobs = {j.name: j for m in modules for j in m.jobs}
        self.long_running = [(m.name, t) for m in modules for t in m.tasks]
        self.backend: BusBackend = make_backend(settings)
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()

    async def start(self, *, background: bool = True) -> None:
        await self.backend.start(self.handlers, self.deliver)
        if background:
            _relay_wakers.add(self._wake)
            self._tasks.append(asyncio.create_task(self._relay_loop(), name="outbox-relay"))
            for job in self.jobs.values():
                self._tasks.append(asyncio.create_task(self._job_loop(job), name=job.name))
            for name, run in self.long_running:
                self._tasks.append(asyncio.create_task(run(self), name=f"{name}-task"))

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Cancel the relay, the jobs and the long-running tasks, waiting at most
        ``grace_seconds`` (default: the shutdown_grace_seconds setting) for them: a task
        still busy after that (e.g. the MQTT bridge flushing a backlog to its broker) is
        left behind, so the process can exit."""
        if grace_seconds is None:
            grace_seconds = self.settings.shutdown_grace_seconds
        _relay_wakers.discard(self._wake)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("task %s failed", task.get_name(), exc_info=task.exception())
            for task in pending:
                log.warning(
                    "task %s did not stop within %.0f s; left behind",
                    task.get_name(),
                    grace_seconds,
                )
        self._tasks.clear()
        await self.backend.stop()

    async def deliver(self, handler: Handler, event: Event) -> bool:
        """Run a handler once per event id; False when it had already run (a redelivery)."""
        try:
            async with self.db.session_scope() as session:
                done = await session.get(ProcessedEvent, (handler.consumer, event.id))
                if done is not None:
                    return False
                session.add(ProcessedEvent(consumer=handler.consumer, event_id=event.id))
                try:
                    await session.flush()
                except IntegrityError as exc:
                    # A concurrent delivery of the same event won the race and committed first.
                    raise _AlreadyProcessed from exc
                # An IntegrityError from the handler itself is a failure to retry, not a
                # duplicate: treating it as one would acknowledge an event never handled.
                await handler.handle(session, event)
        except _AlreadyProcessed:
            return False
        return True

    async def relay_once(self, batch: int = 500) -> int:
        """Publish pending outbox events in order, then mark them; returns how many."""
        # Read, publish and mark in separate steps: publishing inside the reading transaction
        # would hold SQLite's write lock (BEGIN IMMEDIATE) across network round trips and
        # across in-process delivery, whose own transaction then waits for that lock until
        # busy_timeout and fails with "database is locked".
        async with self.db.session_scope() as session:
            rows = (
                await session.execute(
                    select(OutboxEvent.seq, OutboxEvent.payload)
                    .where(OutboxEvent.published_at.is_(None))
                    .order_by(OutboxEvent.seq)
                    .limit(batch)
                )
            ).all()
        for _seq, payload in rows:
            # A crash after publish and before the marking below republishes these; the
            # consumers' idempotency by event id makes that harmless.
            await self.backend.publish(Event.from_wire(payload))
        if rows:
            async with self.db.session_scope() as session:
                # By seq, not "seq <= last": a transaction that committed later may hold a
                # smaller seq (PostgreSQL) and has not been published yet.
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.seq.in_([seq for seq, _payload in rows]))
                    .values(published_at=clock.now())
                )
        return len(rows)

    async def _relay_loop(self) -> None:
        while True:
            try:
                while await self.relay_once() > 0:
                    pass
            except Exception:
                log.exception("outbox relay failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    async def run_job(self, name: str) -> bool:
        """Run one job now, unless another process holds its lock; True if it ran."""
        job = self.jobs[name]
        async with self.db.session_scope() as session:
            if self.db.dialect == "postgresql":
                # One runner per job across processes: whoever holds the lock runs it.
                key = zlib.crc32(name.encode())
                got = (
                    await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
                ).scalar_one()
                if not got:
                    return False
            await job.run(session)
        return True

    async def _job_loop(self, job: Job) -> None:
        while True:
            await asyncio.sleep(job.every_seconds)
            try:
                await self.run_job(job.name)
            except Exception:
                log.exception("job %s failed", job.name)
