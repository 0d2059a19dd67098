"""The unit of work of a request: one session, committed before the response is sent,
rolled back when the request fails, times out in the database or its client goes away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from smartcity.core.db import STATEMENT_TIMEOUT_MS, Database
from smartcity.core.errors import Problem

log = logging.getLogger(__name__)
# PostgreSQL's query_canceled: what a statement stopped by statement_timeout raises.
QUERY_CANCELED = "57014"
# Nobody reads the answer to a client that left; nginx's code for it, for the access log.
CLIENT_CLOSED = 499


class QueryTimeout(Problem):
    """503: the request's database work ran past its statement timeout."""

    status, slug, title = 503, "query-timeout", "Query took too long"


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncSession:
    """The request's session, opened on first use; UnitOfWorkRoute commits or rolls it back."""
    session: AsyncSession | None = getattr(request.state, "db_session", None)
    if session is None:
        from smartcity.settings import get_settings

        session = get_database(request).sessionmaker()
        # core.db sets it on the transaction (SET LOCAL) when it begins, on PostgreSQL.
        seconds = get_settings().request_statement_timeout_seconds
        if seconds > 0:
            session.info[STATEMENT_TIMEOUT_MS] = max(1, round(seconds * 1000))
        request.state.db_session = session
    return session


DbSession = Annotated[AsyncSession, Depends(get_session)]


async def _finish(request: Request, *, commit: bool) -> None:
    session: AsyncSession | None = getattr(request.state, "db_session", None)
    if session is None:
        return
    request.state.db_session = None
    if not session.in_transaction():
        # Never used (a page served from the public-page cache, a visitor without a session
        # cookie): committing would begin a transaction only to end it, on every request of a
        # crowd; there is no connection to give back either.
        return
    try:
        if commit:
            await session.commit()
        else:
            await session.rollback()
    finally:
        await session.close()


def _timed_out(exc: DBAPIError) -> bool:
    cause: BaseException | None = exc.orig
    while cause is not None:
        if QUERY_CANCELED in (getattr(cause, "sqlstate", None), getattr(cause, "pgcode", None)):
            return True
        cause = cause.__cause__
    return False


async def _unit_of_work(
    original: Callable[[Request], Awaitable[Response]], request: Request
) -> Response:
    try:
        response = await original(request)
    except DBAPIError as exc:
        await _finish(request, commit=False)
        if _timed_out(exc):
            raise QueryTimeout(
                "The request's database work took longer than this service allows "
                "(request_statement_timeout_seconds); narrow the query and retry.",
                headers={"Retry-After": "5"},
            ) from exc
        raise
    except BaseException:
        await _finish(request, commit=False)
        raise
    await _finish(request, commit=True)
    return response


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects. Only called once the body has been read, so it
    takes no message the endpoint needs; after the response the server answers
    http.disconnect too, but by then this waiter has been cancelled."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class UnitOfWorkRoute(APIRoute):
    """Commits the request's session after the endpoint returns and before the response goes.

    An endpoint that raises rolls back; one that returns (even a 4xx it built itself, such as
    a failed sign-in that must still count the failure) commits. Relying on yield-dependency
    teardown alone would let the client see a 200 for a write that then fails to commit.

    The endpoint runs as a task that is cancelled (and its transaction rolled back) when the
    client disconnects: Starlette lets it run on otherwise, holding SQLite's one connection or
    a PostgreSQL one "idle in transaction" for an answer nobody reads.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            # Read first (the endpoint gets it from the cache), so the disconnect watcher
            # below is the only reader of what the server sends afterwards.
            await request.body()
            work = asyncio.ensure_future(_unit_of_work(original, request))
            watcher = asyncio.ensure_future(_client_gone(request))
            try:
                done, _pending = await asyncio.wait(
                    {work, watcher}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                # Also when this handler itself is cancelled (the server shutting down).
                watcher.cancel()
                work.cancel()
            if work in done:
                return work.result()
            # The work task rolls its transaction back as the cancellation unwinds it.
            await asyncio.gather(work, return_exceptions=True)
            log.info("client left %s %s: work cancelled", request.method, request.url.path)
            return Response(status_code=CLIENT_CLOSED)

        return handler
