"""Database access: async engine and sessions for SQLite (WAL) and PostgreSQL, one unit of work."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry

from smartcity.core import clock

# One naming convention so Alembic names constraints the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamptz that always comes back aware in UTC, also from SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use smartcity.core.clock.now()")
        value = value.astimezone(UTC)
        # SQLite keeps text; store it without offset so it sorts and compares as text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class UUIDPk:
    """Mixin: a UUID primary key for business records."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy, not pysqlite, emit BEGIN (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front. A deferred transaction that read first
    # and writes later fails with SQLITE_BUSY_SNAPSHOT when another writer committed in
    # between; the hash-chained audit trail reads-then-writes in every transaction.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


# Session.info key: the statement timeout (ms) of the session's transactions (core.uow sets it
# for requests; jobs, CLI commands and migrations have none).
STATEMENT_TIMEOUT_MS = "statement_timeout_ms"


@event.listens_for(Session, "after_begin")
def _set_statement_timeout(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    # SET LOCAL at the start of the request's transaction: it ends with the transaction, so a
    # pooled connection goes back without it, and one runaway query is cancelled server-side
    # instead of holding the connection.
    timeout = session.info.get(STATEMENT_TIMEOUT_MS)
    if timeout and connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout)}")


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine for the URL with the platform's per-dialect settings."""
    if url.startswith("sqlite"):
        # One connection: SQLite has one writer anyway, and waiting for the pool is an
        # asyncio wait, where waiting for SQLite's lock is its busy handler sleeping in steps
        # of up to 100 ms (p99 of a second under 32 concurrent requests).
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """The engine and session factory of one running platform."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session_scope(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on normal exit, rolls back on error (CLI, jobs, bus)."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
