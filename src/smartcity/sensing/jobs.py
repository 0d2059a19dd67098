"""Periodic jobs of the sensing engine (the rules' silence check is in rules/jobs.py).

Retention per Datastream (数据保留期限, not part of the SensorThings standard): Observations
older than a stream's ``retention_days`` are deleted by the daily job ``sensing.retention``
and by ``smartcity sensing retention``, which share ``apply_retention``.

Monthly partitions of the Observations table on PostgreSQL (migration 0006 makes the table
range-partitioned by phenomenon_time_start, with a DEFAULT partition for anything else):
``sensing.observation_partitions`` creates the partitions of this month and the next
MONTHS_AHEAD months before data for them arrives. Rows outside the prepared months
(back-filled history) land in the default partition: correct, only without pruning. A month
whose rows already sit in the default partition cannot get its own partition (PostgreSQL
refuses); that month is skipped and logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput, NotFound
from smartcity.sensing import models as m
from smartcity.sensing.sta.store import recompute_stream

RETENTION_BATCH = 5_000
# Rows one run deletes at most: the daily job catches up over several days after a
# retention is first set on a long history, instead of one huge transaction.
RETENTION_RUN_LIMIT = 200_000
MAX_RETENTION_DAYS = 36_500


@dataclass
class RetentionItem:
    kind: str  # Datastream or MultiDatastream
    stream_id: int
    name: str
    days: int
    cutoff: datetime
    count: int  # older rows (dry run) or rows deleted


async def set_retention(
    session: AsyncSession, principal: Principal, datastream_id: int, days: int | None
) -> m.StaDatastream:
    """Keep a Datastream's Observations for ``days`` days (None: for ever)."""
    authorize(principal, "sensing.datastream.set_retention")
    if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(
            f"days must be between 1 and {MAX_RETENTION_DAYS}, or null.", field="days"
        )
    stream = await session.get(m.StaDatastream, datastream_id)
    if stream is None:
        raise NotFound(f"There is no Datastream with the id {datastream_id}.")
    before = stream.retention_days
    stream.retention_days = days
    await session.flush()
    await audit.log(
        session,
        principal,
        "sensing.datastream.set_retention",
        f"Datastreams({datastream_id})",
        days=days,
        before=before,
    )
    return stream


async def _streams_with_retention(session: AsyncSession) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for kind, model in (("Datastream", m.StaDatastream), ("MultiDatastream", m.StaMultiDatastream)):
        rows = await session.execute(
            select(model).where(model.retention_days.is_not(None)).order_by(model.id)
        )
        found.extend((kind, stream) for stream in rows.scalars())
    return found


def _stream_column(kind: str) -> Any:
    obs = m.StaObservation
    return obs.datastream_id if kind == "Datastream" else obs.multi_datastream_id


async def apply_retention(
    session: AsyncSession,
    principal: Principal,
    *,
    dry_run: bool = False,
    batch_size: int = RETENTION_BATCH,
    run_limit: int = RETENTION_RUN_LIMIT,
) -> list[RetentionItem]:
    """Delete Observations older than their stream's retention (by phenomenonTime start), in
    batches of ``batch_size`` and at most ``run_limit`` rows per run; with ``dry_run`` only
    count them. The job and ``smartcity sensing retention`` share this."""
    obs = m.StaObservation
    now = clock.now()
    budget = run_limit
    items: list[RetentionItem] = []
    for kind, stream in await _streams_with_retention(session):
        cutoff = now - timedelta(days=stream.retention_days)
        column = _stream_column(kind)
        old = [column == stream.id, obs.phenomenon_time_start < cutoff]
        if dry_run:
            count = int(await session.scalar(select(func.count()).where(*old)) or 0)
            items.append(
                RetentionItem(kind, stream.id, stream.name, stream.retention_days, cutoff, count)
            )
            continue
        deleted = 0
        while budget > 0:
            size = min(batch_size, budget)
            oldest = select(obs.id).where(*old).order_by(obs.phenomenon_time_start).limit(size)
            # The time condition repeated outside the subquery lets PostgreSQL prune month
            # partitions.
            result: Any = await session.execute(
                delete(obs)
                .where(*old, obs.id.in_(oldest))
                .execution_options(synchronize_session=False)
            )
            count = int(result.rowcount or 0)
            deleted += count
            budget -= count
            if count < size:
                break
        if deleted:
            await recompute_stream(session, kind, stream.id)
            await audit.log(
                session,
                principal,
                "sensing.retention.delete",
                f"{kind}s({stream.id})",
                deleted=deleted,
                cutoff=cutoff.isoformat(),
            )
        items.append(
            RetentionItem(kind, stream.id, stream.name, stream.retention_days, cutoff, deleted)
        )
    await session.flush()
    return items


async def retention_job(session: AsyncSession) -> None:
    """The daily job ``sensing.retention``."""
    from smartcity.core.authz import SYSTEM

    await apply_retention(session, SYSTEM)


# --- monthly partitions of the Observations table (PostgreSQL) ---

log = logging.getLogger(__name__)
MONTHS_AHEAD = 2
TABLE = "sta_observation"


def month_start(year: int, month: int) -> datetime:
    while month > 12:
        year, month = year + 1, month - 12
    return datetime(year, month, 1, tzinfo=UTC)


def partition_ddl(year: int, month: int) -> str:
    start, end = month_start(year, month), month_start(year, month + 1)
    name = f"{TABLE}_y{start.year:04d}m{start.month:02d}"
    return (
        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


async def ensure_partitions(session: AsyncSession) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    now = clock.now()
    for offset in range(MONTHS_AHEAD + 1):
        start = month_start(now.year, now.month + offset)
        try:
            async with session.begin_nested():
                await session.execute(text(partition_ddl(start.year, start.month)))
        except DBAPIError:
            log.warning(
                "no partition for %s: its rows are already in the default partition",
                start.strftime("%Y-%m"),
            )
