"""The NATS JetStream bus backend (``SMARTCITY_BUS_URL=nats://host:4222``).

One stream holds every event under ``<prefix>.<topic>``; each Handler gets a durable pull
consumer, so events wait in the stream while its process is down and several app processes
share the work of one handler. Delivery is at least once: the outbox relay may publish an
event again after a crash (JetStream drops a repeat inside the duplicate window by its
``Nats-Msg-Id``), and a message is redelivered when its ack does not arrive in time;
``Runtime.deliver`` makes both harmless by running a handler once per event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable
from urllib.parse import urlsplit, urlunsplit

import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
)

from smartcity.core.bus import Event
from smartcity.core.module import Handler
from smartcity.core.runtime import Deliver

log = logging.getLogger(__name__)

DEFAULT_STREAM = "SMARTCITY"
DEFAULT_SUBJECT_PREFIX = "smartcity"


def durable_name(consumer: str) -> str:
    """The durable consumer name of a handler: NATS allows only [A-Za-z0-9_-] here."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", consumer)
    if not name:
        raise ValueError("a handler needs a non-empty consumer name")
    return name


def redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class NatsBus:
    """BusBackend on NATS JetStream. Stream and consumers are created or updated at start."""

    def __init__(
        self,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        subject_prefix: str = DEFAULT_SUBJECT_PREFIX,
        duplicate_window: float = 120.0,
        max_age: float = 7 * 24 * 3600.0,
        ack_wait: float = 30.0,
        max_deliver: int = 10,
        nak_delay: float = 1.0,
        max_nak_delay: float = 60.0,
        fetch_batch: int = 64,
        fetch_timeout: float = 5.0,
        publish_timeout: float = 10.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.duplicate_window = duplicate_window
        # Limits retention: the outbox table stays the record of every event; the stream only
        # needs to hold what a consumer that was down for a while has not fetched yet.
        self.max_age = max_age
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver
        self.nak_delay = nak_delay
        self.max_nak_delay = max_nak_delay
        self.fetch_batch = fetch_batch
        self.fetch_timeout = fetch_timeout
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        # Publishes that JetStream recognised as repeats inside the duplicate window.
        self.duplicates = 0
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: list[JetStreamContext.PullSubscription] = []
        self._fetching: set[asyncio.Task[None]] = set()  # consumer loops waiting for messages
        self._stopping = False
        self._closing = False  # a disconnect we asked for is no warning
        self._last_error: Exception | None = None

    def subject(self, topic: str) -> str:
        return f"{self.subject_prefix}.{topic}"

    async def start(self, handlers: list[Handler], deliver: Deliver) -> None:
        names: dict[str, str] = {}
        for handler in handlers:
            name = durable_name(handler.consumer)
            if names.setdefault(name, handler.consumer) != handler.consumer:
                raise ValueError(
                    f"handlers {names[name]!r} and {handler.consumer!r} map to the same "
                    f"NATS durable consumer {name!r}; rename one"
                )
        self._nc = await self._connect()
        self._js = self._nc.jetstream(timeout=self.publish_timeout)
        try:
            await self._ensure_stream(self._js)
            subscriptions = [
                (handler, await self._subscribe(self._js, handler)) for handler in handlers
            ]
        except BaseException:
            await self._close(drain=False)
            raise
        self._subs = [sub for _handler, sub in subscriptions]
        for handler, sub in subscriptions:
            self._tasks.append(
                asyncio.create_task(
                    self._consume(handler, sub, deliver), name=f"nats-consumer:{handler.consumer}"
                )
            )

    async def publish(self, event: Event) -> None:
        """Publish and wait for the PubAck, so the relay marks an event only once it is stored."""
        if self._js is None:
            raise RuntimeError("NatsBus.publish called before start()")
        ack = await self._js.publish(
            self.subject(event.topic),
            orjson.dumps(event.to_wire()),
            timeout=self.publish_timeout,
            # A subject outside the stream fails here instead of vanishing unstored.
            stream=self.stream,
            headers={"Nats-Msg-Id": str(event.id)},
        )
        if ack.duplicate:
            self.duplicates += 1
            log.debug("event %s was already in stream %s", event.id, self.stream)

    async def stop(self) -> None:
        # A handler that is running may finish (up to ack_wait), so its transaction is not cut
        # off half-way; loops that only wait for messages stop at once.
        await self._cancel_consumers(grace=self.ack_wait)
        await self._close(drain=True)

    async def abort(self) -> None:
        """Stop at once, without draining: what a crash looks like to the server. Messages
        fetched and not yet acknowledged come back to the durable consumers after ack_wait."""
        await self._cancel_consumers(grace=0)
        await self._close(drain=False)

    async def _close(self, *, drain: bool) -> None:
        nc, self._nc, self._js = self._nc, None, None
        subs, self._subs = self._subs, []
        if nc is None or nc.is_closed:
            return
        self._closing = True
        try:
            if drain:
                # nats-py's drain waits until each subscription's buffered messages are
                # consumed, which for a pull subscription nobody does any more: it would hang
                # for the whole drain timeout. Messages fetched and not handled come back
                # after ack_wait anyway.
                for sub in subs:
                    await sub.unsubscribe()
                # Drain flushes acks still buffered, so their messages are not redelivered.
                await nc.drain()
            else:
                await nc.close()
        except Exception:
            log.warning("closing the NATS connection failed", exc_info=True)
            with contextlib.suppress(Exception):
                await nc.close()
        finally:
            self._closing = False

    async def _cancel_consumers(self, *, grace: float) -> None:
        self._stopping = True
        for task in self._tasks:
            if grace <= 0 or task in self._fetching:
                task.cancel()
        if self._tasks:
            _done, busy = await asyncio.wait(self._tasks, timeout=grace or None)
            for task in busy:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._fetching.clear()
        self._stopping = False

    async def _connect(self) -> NATS:
        nc = NATS()

        async def on_error(exc: Exception) -> None:
            self._last_error = exc
            log.warning("NATS %s: %s", redact(self.url), exc)

        async def on_disconnected() -> None:
            if not self._closing:
                log.warning("disconnected from NATS %s", redact(self.url))

        async def on_reconnected() -> None:
            log.info("reconnected to NATS %s", redact(self.url))

        try:
            # With max_reconnect_attempts=-1 nats-py also retries the first connect forever,
            # which would hang start-up silently; the bound turns that into a clear error.
            await asyncio.wait_for(
                nc.connect(
                    servers=[self.url],
                    name="smartcity",
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=2,
                    connect_timeout=max(1, int(self.connect_timeout / 2)),
                    error_cb=on_error,
                    disconnected_cb=on_disconnected,
                    reconnected_cb=on_reconnected,
                ),
                timeout=self.connect_timeout,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            self._closing = True
            try:
                with contextlib.suppress(Exception):
                    await nc.close()
            finally:
                self._closing = False
            cause = self._last_error or exc
            raise RuntimeError(
                f"cannot connect to the NATS server at {redact(self.url)}: {cause!r}"
            ) from exc
        return nc

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.subject_prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=self.duplicate_window,
            max_age=self.max_age,
        )
        try:
            try:
                existing = await js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                await js.add_stream(config)
            else:
                # Keep what an operator set on the server (replicas, placement, limits) and
                # the storage type, which cannot change; update only what the platform owns.
                await js.update_stream(
                    existing.config.evolve(
                        subjects=config.subjects,
                        duplicate_window=config.duplicate_window,
                        max_age=config.max_age,
                    )
                )
        except nats.errors.NoRespondersError as exc:
            raise RuntimeError(
                f"JetStream is not enabled on the NATS server at {redact(self.url)} "
                "(start nats-server with -js)"
            ) from exc
        except nats.js.errors.APIError as exc:
            raise RuntimeError(
                f"cannot create or update stream {self.stream!r} on {redact(self.url)}: {exc}"
            ) from exc

    async def _subscribe(
        self, js: JetStreamContext, handler: Handler
    ) -> JetStreamContext.PullSubscription:
        name = durable_name(handler.consumer)
        config = ConsumerConfig(
            name=name,
            durable_name=name,
            description=f"smartcity handler {handler.consumer}",
            filter_subject=self.subject(handler.topic),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            # A handler's first start begins with the events published from then on, as with
            # the in-process bus; replaying the stream's whole history into a new handler would
            # repeat old side effects (notices, messages) it was never meant to have.
            deliver_policy=DeliverPolicy.NEW,
        )
        try:
            existing = await js.consumer_info(self.stream, name)
        except nats.js.errors.NotFoundError:
            pass
        else:
            # The server refuses to change where a durable consumer starts; keep its own.
            config = config.evolve(
                deliver_policy=existing.config.deliver_policy,
                opt_start_seq=existing.config.opt_start_seq,
                opt_start_time=existing.config.opt_start_time,
            )
        try:
            # Creates the consumer, or updates its filter, ack wait and redelivery limit.
            await js.add_consumer(self.stream, config)
        except nats.js.errors.APIError as exc:
            raise RuntimeError(
                f"cannot create or update NATS consumer {name!r} on stream {self.stream!r}: {exc}"
            ) from exc
        return await js.pull_subscribe_bind(durable=name, stream=self.stream)

    async def _consume(
        self, handler: Handler, sub: JetStreamContext.PullSubscription, deliver: Deliver
    ) -> None:
        # One message at a time per handler keeps a handler's events in stream order within
        # this process; other processes bound to the same durable consumer share the load.
        task = asyncio.current_task()
        assert task is not None
        while not self._stopping:
            self._fetching.add(task)
            try:
                msgs = await sub.fetch(self.fetch_batch, timeout=self.fetch_timeout)
            except TimeoutError:
                # Nothing new within the long poll (nats-py raises its own TimeoutError or
                # asyncio's, depending on where the wait ran out).
                continue
            except Exception:
                # E.g. a fetch during a reconnect; nats-py reconnects by itself.
                log.warning("fetch for %s failed; retrying", handler.consumer, exc_info=True)
                await asyncio.sleep(self.nak_delay)
                continue
            finally:
                self._fetching.discard(task)
            for msg in msgs:
                if self._stopping:
                    break  # the rest return to the consumer after ack_wait
                await self._process(handler, msg, deliver)

    async def _process(self, handler: Handler, msg: Msg, deliver: Deliver) -> None:
        try:
            event = Event.from_wire(orjson.loads(msg.data))
        except Exception:
            # Will never parse, however often it is redelivered: stop its redelivery.
            log.error("undecodable message on %s for %s; dropped", msg.subject, handler.consumer)
            await self._settle(msg.term())
            return
        keepalive = asyncio.create_task(self._keep_in_progress(msg))
        try:
            await deliver(handler, event)
        except Exception:
            attempt = _delivery_count(msg)
            if attempt >= self.max_deliver:
                log.exception(
                    "handler %s failed on event %s for the last time (delivery %d of %d); "
                    "it stays in the outbox table for replay",
                    handler.consumer,
                    event.id,
                    attempt,
                    self.max_deliver,
                )
            else:
                log.exception(
                    "handler %s failed on event %s (delivery %d of %d); will retry",
                    handler.consumer,
                    event.id,
                    attempt,
                    self.max_deliver,
                )
            delay = min(self.nak_delay * 2 ** max(attempt - 1, 0), self.max_nak_delay)
            await self._settle(msg.nak(delay=delay))
            return
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
        # True or False alike: False means an earlier delivery already ran the handler.
        await self._settle(msg.ack())

    async def _keep_in_progress(self, msg: Msg) -> None:
        # A handler slower than ack_wait (e.g. waiting for SQLite's write lock) would otherwise
        # get its message redelivered while it still runs.
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    @staticmethod
    async def _settle(reply: Awaitable[None]) -> None:
        try:
            await reply
        except Exception:
            # A lost ack means one more redelivery, which deliver() turns into a no-op.
            log.warning("could not acknowledge a NATS message", exc_info=True)


def _delivery_count(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1
