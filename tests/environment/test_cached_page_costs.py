"""A public page served from the cache costs no database work: no transaction begun, no
statement run (core/uow.py ends an unused session without committing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from smartcity.core import clock
from smartcity.core.db import Database
from tests.core import factories
from tests.core.test_pages import sign_in
from tests.environment.city import NOW, make_city

HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@contextmanager
def database_work(database: Database) -> Iterator[list[str]]:
    """What touched the database meanwhile: transactions begun, statements run."""
    seen: list[str] = []

    def began(_session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            seen.append("transaction")

    def executed(*_args: Any) -> None:
        seen.append("statement")

    engine = database.engine.sync_engine
    event.listen(Session, "after_transaction_create", began)
    event.listen(engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        event.remove(Session, "after_transaction_create", began)
        event.remove(engine, "before_cursor_execute", executed)


@pytest.mark.parametrize("path", ["/air", "/air/stations/{station}"])
async def test_a_cached_public_page_touches_no_database(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, database: Database, path: str
) -> None:
    city = await make_city(session)
    await session.commit()
    url = path.format(station=city.clean.thing)
    first = await client.get(url, headers=HTML)
    assert first.status_code == 200
    with database_work(database) as seen:
        again = await client.get(url, headers=HTML)
    assert again.status_code == 200 and app.state.public_pages.hits == 1
    assert seen == []


async def test_a_signed_in_page_still_reads_and_commits(
    client: httpx.AsyncClient, session: AsyncSession, database: Database
) -> None:
    await make_city(session)
    account = await factories.create_account(session)
    await session.commit()
    await sign_in(client, account.username)
    with database_work(database) as seen:
        page = await client.get("/air", headers=HTML)
    # The header names the signed-in person by display name: the page is theirs, not cached.
    assert page.status_code == 200 and account.display_name in page.text
    assert "transaction" in seen and "statement" in seen
