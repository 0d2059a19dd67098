"""Monthly partitions of the Observations table on PostgreSQL (migration 0006 makes the table
range-partitioned by phenomenon_time_start, with a DEFAULT partition for anything else).

The job creates the partitions of this month and the next MONTHS_AHEAD months before data for
them arrives. Rows outside the prepared months (back-filled history) land in the default
partition: correct, only without pruning. A month whose rows already sit in the default
partition cannot get its own partition (PostgreSQL refuses); that month is skipped and logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock

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
