"""The unit of work of a request: one session, committed before the response is sent."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from smartcity.core.db import Database


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncSession:
    """The request's session, opened on first use; UnitOfWorkRoute commits or rolls it back."""
    session: AsyncSession | None = getattr(request.state, "db_session", None)
    if session is None:
        session = get_database(request).sessionmaker()
        request.state.db_session = session
    return session


DbSession = Annotated[AsyncSession, Depends(get_session)]


async def _finish(request: Request, *, commit: bool) -> None:
    session: AsyncSession | None = getattr(request.state, "db_session", None)
    if session is None:
        return
    request.state.db_session = None
    try:
        if commit:
            await session.commit()
        else:
            await session.rollback()
    finally:
        await session.close()


class UnitOfWorkRoute(APIRoute):
    """Commits the request's session after the endpoint returns and before the response goes.

    An endpoint that raises rolls back; one that returns (even a 4xx it built itself, such as
    a failed sign-in that must still count the failure) commits. Relying on yield-dependency
    teardown alone would let the client see a 200 for a write that then fails to commit.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except BaseException:
                await _finish(request, commit=False)
                raise
            await _finish(request, commit=True)
            return response

        return handler
