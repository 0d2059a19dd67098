"""Back-pressure of HTTP ingestion (接入限流): at most ``sta_ingest_max_requests`` requests
that write Observations run at once in this process (POST to an Observations collection,
CreateObservations, a $batch that mentions Observations). A request that finds them all
busy waits up to ``sta_ingest_wait_seconds`` for a place, then gets 503 problem+json with
``Retry-After``. So when the database falls behind, callers slow down or retry; requests are
never parked in an unbounded buffer, and a 503 means nothing of that request was stored.

The gate wraps the whole unit of work, commit included (``GatedRoute``): the commit is where
a slow database makes requests pile up.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from smartcity.core.errors import Problem
from smartcity.core.uow import UnitOfWorkRoute
from smartcity.settings import get_settings


class Overloaded(Problem):
    status = 503
    slug = "ingestion-overloaded"
    title = "Ingestion is busy"


class Gate:
    """A counting gate whose limit is read at each entry (settings may change in tests)."""

    def __init__(self) -> None:
        self.active = 0
        self.waiting = 0
        self._changed = asyncio.Condition()

    async def enter(self, limit: int, wait_seconds: float, retry_after: int) -> None:
        async with self._changed:
            if self.active >= limit:
                self.waiting += 1
                self._changed.notify_all()
                try:
                    async with asyncio.timeout(max(wait_seconds, 0.0)):
                        await self._changed.wait_for(lambda: self.active < limit)
                except TimeoutError:
                    raise Overloaded(
                        f"{self.active} requests are writing Observations; try again in "
                        f"{retry_after} s.",
                        headers={"Retry-After": str(retry_after)},
                    ) from None
                finally:
                    self.waiting -= 1
                    self._changed.notify_all()
            self.active += 1
            self._changed.notify_all()

    async def leave(self) -> None:
        async with self._changed:
            self.active -= 1
            self._changed.notify_all()

    async def wait_until(self, check: Callable[[Gate], bool]) -> None:
        """Wait until ``check(gate)`` holds (tests: "a request is waiting")."""
        async with self._changed:
            await self._changed.wait_for(lambda: check(self))

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        settings = get_settings()
        await self.enter(
            settings.sta_ingest_max_requests,
            settings.sta_ingest_wait_seconds,
            max(1, math.ceil(settings.sta_ingest_retry_after_seconds)),
        )
        try:
            yield
        finally:
            await self.leave()


# asyncio primitives belong to one event loop; one gate per loop (one per process in
# production, one per test loop in tests).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Gate] = weakref.WeakKeyDictionary()


def gate() -> Gate:
    loop = asyncio.get_running_loop()
    found = _gates.get(loop)
    if found is None:
        found = _gates[loop] = Gate()
    return found


async def ingests_observations(request: Request) -> bool:
    """Whether this SensorThings request writes Observations (the gated ones)."""
    if request.method != "POST":
        return False
    path = request.url.path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if last == "CreateObservations" or last.endswith("Observations"):
        return True
    if last == "$batch":
        # A cheap over-approximation: a batch that names Observations anywhere.
        return b"Observations" in await request.body()
    return False


class GatedRoute(UnitOfWorkRoute):
    """UnitOfWorkRoute whose Observation-writing requests pass the gate first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if not await ingests_observations(request):
                return await inner(request)
            async with gate().admit():
                return await inner(request)

        return handler
