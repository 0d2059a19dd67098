"""Beyond the SensorThings standard (标准之外的扩展), what users of existing servers keep asking
for: the latest Observation of many Datastreams in one call, temporal aggregates bucketed in
SQL, retention per Datastream, and who may read a Thing (the conditions are in access.py).

All reads start from what the caller may read (``access.readable_datastreams``): a Datastream
of a non-public Thing is a 404, or simply absent from a list, never a 403.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    case,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput, NotFound, Problem
from smartcity.sensing import access
from smartcity.sensing import models as m
from smartcity.sensing.events import VISIBILITY_CHANGED, VisibilityChanged
from smartcity.sensing.sta.entities import OM_COUNT, OM_MEASUREMENT, OM_OBSERVATION
from smartcity.sensing.sta.query import result_of
from smartcity.sensing.sta.times import format_datetime, format_interval, parse_datetime

ACTIONS: dict[str, frozenset[str]] = {
    "sensing.datastream.set_retention": frozenset({"staff", "admin"}),
    "sensing.thing.set_visibility": frozenset({"staff", "admin"}),
}


# --- latest Observation per Datastream (最新观测) -----------------------------------------------

LATEST_DEFAULT = 100
LATEST_MAX = 1000


class LatestObservation(BaseModel):
    id: int
    self_link: str
    phenomenon_time: str | None
    result_time: str | None
    result: Any = None


class LatestItem(BaseModel):
    datastream_id: int
    datastream_self_link: str
    name: str
    observation: LatestObservation | None


class LatestPage(BaseModel):
    value: list[LatestItem]
    # The datastream id to pass as ``after`` for the next page; None on the last page.
    next_after: int | None


def parse_ids(text: str | None, field: str) -> list[int] | None:
    """``1,2,3`` as ids; a 422 naming the field for anything else."""
    if text is None or not text.strip():
        return None
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or len(part) > 18:
            raise InvalidInput(f"{field} must be a comma-separated list of ids.", field=field)
        ids.append(int(part))
    if len(ids) > LATEST_MAX:
        raise InvalidInput(f"{field} lists more than {LATEST_MAX} ids.", field=field)
    return ids


def latest_statement(
    principal: Principal | None,
    dialect: str,
    *,
    datastreams: list[int] | None = None,
    things: list[int] | None = None,
    observed_properties: list[int] | None = None,
    after: int = 0,
    limit: int = LATEST_DEFAULT,
) -> Any:
    """One set-based query: a page of readable Datastreams, each with its latest Observation
    found by ``ORDER BY phenomenon_time_start DESC, id DESC LIMIT 1``, a backward probe of the
    (datastream_id, phenomenon_time_start, id) index. PostgreSQL takes it as a LATERAL join
    that returns the row itself (an id lookup would probe every month partition's primary
    key again); SQLite has no LATERAL and gets the id from a correlated subquery, then the
    row by primary key."""
    ds = m.StaDatastream
    obs = m.StaObservation
    conditions: list[ColumnElement[bool]] = [ds.id > after]
    if not access.sees_all(principal):
        conditions.append(ds.id.in_(access.readable_datastreams(principal)))
    if datastreams is not None:
        conditions.append(ds.id.in_(datastreams))
    if things is not None:
        conditions.append(ds.thing_id.in_(things))
    if observed_properties is not None:
        conditions.append(ds.observed_property_id.in_(observed_properties))
    newest = (obs.phenomenon_time_start.desc(), obs.id.desc())
    if dialect == "postgresql":
        streams = (
            select(ds.id, ds.name).where(*conditions).order_by(ds.id).limit(limit + 1)
        ).subquery("streams")
        latest = (
            select(obs)
            .where(obs.datastream_id == streams.c.id)
            .order_by(*newest)
            .limit(1)
            .lateral("latest")
        )
        row = aliased(obs, latest)
        return (
            select(streams.c.id, streams.c.name, row)
            .select_from(streams)
            .outerjoin(latest, true())
            .order_by(streams.c.id)
        )
    latest_id = (
        select(obs.id)
        .where(obs.datastream_id == ds.id)
        .order_by(*newest)
        .limit(1)
        .correlate(ds)
        .scalar_subquery()
    )
    streams = (
        select(ds.id, ds.name, latest_id.label("observation_id"))
        .where(*conditions)
        .order_by(ds.id)
        .limit(limit + 1)
        .subquery("streams")
    )
    return (
        select(streams.c.id, streams.c.name, obs)
        .select_from(streams)
        .outerjoin(obs, obs.id == streams.c.observation_id)
        .order_by(streams.c.id)
    )


async def latest_observations(
    session: AsyncSession,
    principal: Principal | None,
    base: str,
    *,
    datastreams: list[int] | None = None,
    things: list[int] | None = None,
    observed_properties: list[int] | None = None,
    after: int = 0,
    limit: int = LATEST_DEFAULT,
) -> LatestPage:
    """The latest Observation (by phenomenonTime) of each readable Datastream that matches the
    filters, in id order, one page at a time; ``observation`` is null for an empty stream.
    ``base`` is the SensorThings service root for the selfLinks."""
    if not 1 <= limit <= LATEST_MAX:
        raise InvalidInput(f"limit must be between 1 and {LATEST_MAX}.", field="limit")
    if after < 0:
        raise InvalidInput("after must be a datastream id.", field="after")
    stmt = latest_statement(
        principal,
        session.get_bind().dialect.name,
        datastreams=datastreams,
        things=things,
        observed_properties=observed_properties,
        after=after,
        limit=limit,
    )
    rows = list((await session.execute(stmt)).all())
    items: list[LatestItem] = []
    for stream_id, name, observation in rows[:limit]:
        latest = None
        if observation is not None:
            latest = LatestObservation(
                id=observation.id,
                self_link=f"{base}/Observations({observation.id})",
                phenomenon_time=format_interval(
                    observation.phenomenon_time_start, observation.phenomenon_time_end
                ),
                result_time=(
                    format_datetime(observation.result_time) if observation.result_time else None
                ),
                result=result_of(observation),
            )
        items.append(
            LatestItem(
                datastream_id=stream_id,
                datastream_self_link=f"{base}/Datastreams({stream_id})",
                name=name,
                observation=latest,
            )
        )
    return LatestPage(
        value=items, next_after=items[-1].datastream_id if len(rows) > limit else None
    )


# --- temporal aggregates (时间聚合) ------------------------------------------------------------

INTERVALS: dict[str, int] = {"1min": 60, "5min": 300, "1h": 3600, "1d": 86400}
FUNCTIONS = ("avg", "min", "max", "count", "sum")
DEFAULT_FUNCTIONS = ("avg", "min", "max", "count")
MAX_BUCKETS = 10_000
# Buckets are counted from 1970-01-01T00:00+08:00, so day buckets start at Asia/Shanghai
# midnight (UTC+8 without daylight saving since 1991) and shorter ones at whole minutes/hours.
ORIGIN = -8 * 3600
NUMERIC_TYPES = (OM_MEASUREMENT, OM_COUNT, OM_OBSERVATION)
NUMERIC_KINDS = (m.RESULT_NUMBER, m.RESULT_INTEGER)


class Bucket(BaseModel):
    start: str
    end: str
    values: dict[str, float | int | None]


class Aggregates(BaseModel):
    datastream_id: int
    interval: str
    start: str
    end: str
    functions: list[str]
    buckets: list[Bucket]
    # Observations in the range whose result is not a number (ignored by the functions).
    skipped: int


@dataclass(frozen=True)
class AggregateRequest:
    start: datetime
    end: datetime
    interval: str
    functions: tuple[str, ...]


def parse_aggregate_request(
    start: str | None, end: str | None, interval: str | None, functions: str | None
) -> AggregateRequest:
    """The query of an aggregates request; a 422 naming the field for bad input."""
    if interval not in INTERVALS:
        raise InvalidInput(f"interval must be one of {', '.join(INTERVALS)}.", field="interval")
    given = ",".join(DEFAULT_FUNCTIONS) if functions is None else functions
    names = tuple(f.strip() for f in given.split(","))
    if not set(names) <= set(FUNCTIONS):
        raise InvalidInput(f"functions must be some of {', '.join(FUNCTIONS)}.", field="functions")
    until = _instant(end, "to") if end else clock.now()
    since = _instant(start, "from") if start else until - timedelta(days=1)
    if since.year < 1992:
        raise InvalidInput("from must be after 1992.", field="from")
    if since >= until:
        raise InvalidInput("from must be before to.", field="from")
    step = INTERVALS[interval]
    first = _bucket_of(_epoch(since), step)
    buckets = math.ceil((_epoch(until) - first) / step)
    if buckets > MAX_BUCKETS:
        raise InvalidInput(
            f"The range holds {buckets} buckets of {interval}; at most {MAX_BUCKETS}.",
            field="interval",
        )
    return AggregateRequest(since, until, interval, tuple(dict.fromkeys(names)))


def _instant(text: str, field: str) -> datetime:
    try:
        return parse_datetime(text)
    except Problem as problem:
        raise InvalidInput(
            f"{field} must be an ISO 8601 time with an offset, e.g. 2026-01-01T00:00:00+08:00.",
            field=field,
        ) from problem


def _epoch(instant: datetime) -> float:
    return instant.timestamp()


def _bucket_of(epoch: float, step: int) -> int:
    return int((epoch - ORIGIN) // step) * step + ORIGIN


def epoch_seconds(dialect: str, column: Any) -> ColumnElement[int]:
    """Whole seconds since 1970 of a stored UTC time. SQLite keeps UTCDateTime as text
    'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, which strftime('%s') reads; PostgreSQL has
    timestamptz."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


async def readable_datastream(
    session: AsyncSession, principal: Principal | None, datastream_id: int
) -> m.StaDatastream:
    stmt = select(m.StaDatastream).where(m.StaDatastream.id == datastream_id)
    if not access.sees_all(principal):
        stmt = stmt.where(m.StaDatastream.id.in_(access.readable_datastreams(principal)))
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"There is no Datastream with the id {datastream_id}.")
    return found


async def aggregates(
    session: AsyncSession,
    principal: Principal | None,
    datastream_id: int,
    request: AggregateRequest,
) -> Aggregates:
    """avg/min/max/count/sum of a Datastream's numeric results per time bucket over
    [start, end), in one grouped query over the (datastream, phenomenon time) index. Buckets
    without numeric results are left out."""
    stream = await readable_datastream(session, principal, datastream_id)
    if stream.observation_type not in NUMERIC_TYPES:
        raise InvalidInput(
            f"Datastream {datastream_id} does not hold numbers ({stream.observation_type}).",
            field="datastream",
        )
    obs = m.StaObservation
    dialect = session.get_bind().dialect.name
    step = INTERVALS[request.interval]
    epoch = epoch_seconds(dialect, obs.phenomenon_time_start)
    bucket = ((epoch - ORIGIN) // step * step + ORIGIN).label("bucket")
    numeric = obs.result_kind.in_(NUMERIC_KINDS)
    value = case((numeric, obs.result_number))
    columns = {
        "avg": func.avg(value),
        "min": func.min(value),
        "max": func.max(value),
        "count": func.count(value),
        "sum": func.sum(value),
    }
    stmt = (
        select(
            bucket,
            func.count(value).label("numeric"),
            func.count().label("total"),
            *(columns[name].label(name) for name in request.functions),
        )
        .where(
            obs.datastream_id == datastream_id,
            obs.phenomenon_time_start >= request.start,
            obs.phenomenon_time_start < request.end,
        )
        .group_by(bucket)
        .order_by(bucket)
    )
    buckets: list[Bucket] = []
    skipped = 0
    for row in (await session.execute(stmt)).mappings():
        skipped += int(row["total"]) - int(row["numeric"])
        if not row["numeric"]:
            continue
        start = datetime.fromtimestamp(int(row["bucket"]), UTC)
        values: dict[str, float | int | None] = {}
        for name in request.functions:
            raw = row[name]
            values[name] = int(raw) if name == "count" else (None if raw is None else float(raw))
        buckets.append(
            Bucket(
                start=format_datetime(start),
                end=format_datetime(start + timedelta(seconds=step)),
                values=values,
            )
        )
    return Aggregates(
        datastream_id=datastream_id,
        interval=request.interval,
        start=format_datetime(request.start),
        end=format_datetime(request.end),
        functions=list(request.functions),
        buckets=buckets,
        skipped=skipped,
    )


# --- read access per Thing --------------------------------------------------------------------


async def set_visibility(
    session: AsyncSession, principal: Principal, thing_id: int, public: bool
) -> m.StaThing:
    """Make a Thing and everything under it readable by anyone, or only by staff and its
    owner device (公开/不公开)."""
    authorize(principal, "sensing.thing.set_visibility")
    thing = await session.get(m.StaThing, thing_id)
    if thing is None:
        raise NotFound(f"There is no Thing with the id {thing_id}.")
    before = thing.public
    thing.public = public
    await session.flush()
    await audit.log(
        session,
        principal,
        "sensing.thing.set_visibility",
        f"Things({thing_id})",
        public=public,
        before=before,
    )
    if before != public:
        # The MQTT bridge and caches care: what they publish for this Thing changes.
        await VISIBILITY_CHANGED.emit(session, VisibilityChanged(thing_id=thing_id, public=public))
    return thing
