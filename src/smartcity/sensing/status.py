"""How the city's devices are doing (设备状态): per Thing, whether it is reporting, has gone
silent or never sent anything, and the MQTT messages that could not become Observations
(死信). What the staff pages under /sensing show.

A Thing is *silent* when the newest Observation of all its (Multi)Datastreams is older than
its threshold: three times its ``reportingIntervalSeconds`` property (three missed reports
are a pattern, one is noise), or 15 minutes for a Thing that does not say how often it
reports. The newest Observation per stream is one backward probe of the (stream, phenomenon
time) index per stream, all in one statement, so the page costs the same with a billion
rows as with a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.geo import point_of
from smartcity.core.i18n import N_
from smartcity.sensing import models as m

ACTIONS: dict[str, frozenset[str]] = {
    "sensing.status.read": frozenset({"staff", "supervisor", "admin"}),
    # Dead letters carry what devices sent, verbatim: not for supervisors' overviews.
    "sensing.dead_letter.read": frozenset({"staff", "admin"}),
}

REPORTING, SILENT, NO_DATA = "reporting", "silent", "no_data"
STATUSES = (REPORTING, SILENT, NO_DATA)
STATUS_LABELS = {REPORTING: N_("reporting"), SILENT: N_("silent"), NO_DATA: N_("no data")}
DEFAULT_THRESHOLD = timedelta(minutes=15)
MISSED_REPORTS = 3
INTERVAL_PROPERTY = "reportingIntervalSeconds"


def silence_threshold(properties: dict[str, Any] | None) -> timedelta:
    """How old a Thing's newest Observation may be before it counts as silent."""
    interval = (properties or {}).get(INTERVAL_PROPERTY)
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        return DEFAULT_THRESHOLD
    if not 0 < interval < 366 * 86400:  # nonsense (or NaN) falls back to the default
        return DEFAULT_THRESHOLD
    return timedelta(seconds=float(interval) * MISSED_REPORTS)


def status_of(last_seen: datetime | None, threshold: timedelta, now: datetime) -> str:
    if last_seen is None:
        return NO_DATA
    return SILENT if last_seen < now - threshold else REPORTING


def last_seen_statement(thing_ids: Sequence[int] | None = None) -> Select[Any]:
    """(thing id, newest phenomenon time over its streams) for Things that have streams.

    Per stream a correlated ``ORDER BY phenomenon_time_start DESC LIMIT 1``: a backward probe
    of ``ix_sta_observation_stream_time`` (on PostgreSQL a Merge Append of the month
    partitions' copies, each stopping at its first row), never a scan of the table; a plain
    ``GROUP BY datastream_id`` would read every row, as neither database skips through an
    index. Then a GROUP BY over the few hundred or thousand streams."""
    obs = m.StaObservation
    parts = []
    for table, column in (
        (m.StaDatastream, obs.datastream_id),
        (m.StaMultiDatastream, obs.multi_datastream_id),
    ):
        newest = (
            select(obs.phenomenon_time_start)
            .where(column == table.id)
            .order_by(obs.phenomenon_time_start.desc())
            .limit(1)
            .correlate(table)
            .scalar_subquery()
        )
        part = select(table.thing_id.label("thing_id"), newest.label("newest"))
        if thing_ids is not None:
            part = part.where(table.thing_id.in_(thing_ids))
        parts.append(part)
    streams = union_all(*parts).subquery("streams")
    return select(streams.c.thing_id, func.max(streams.c.newest)).group_by(streams.c.thing_id)


async def last_seen(
    session: AsyncSession, thing_ids: Sequence[int] | None = None
) -> dict[int, datetime | None]:
    """The newest phenomenon time per Thing (None: streams but no Observations)."""
    rows = await session.execute(last_seen_statement(thing_ids))
    return {int(thing_id): newest for thing_id, newest in rows.all()}


@dataclass(frozen=True)
class Device:
    """A Thing as the devices page shows it."""

    id: int
    name: str
    description: str
    properties: dict[str, Any]
    kind: str
    status: str
    last_seen: datetime | None
    threshold: timedelta
    lon: float | None = None
    lat: float | None = None


async def devices(
    session: AsyncSession,
    principal: Principal,
    *,
    thing_ids: Sequence[int] | None = None,
) -> list[Device]:
    """Every Thing (or those named) with its status, kind and position, by name."""
    authorize(principal, "sensing.status.read")
    now = clock.now()
    things_query = select(m.StaThing).order_by(m.StaThing.name, m.StaThing.id)
    if thing_ids is not None:
        things_query = things_query.where(m.StaThing.id.in_(thing_ids))
    things = list((await session.scalars(things_query)).all())
    seen = await last_seen(session, thing_ids)
    places = await _positions(session, thing_ids)
    found: list[Device] = []
    for thing in things:
        properties = thing.properties if isinstance(thing.properties, dict) else {}
        threshold = silence_threshold(properties)
        newest = seen.get(thing.id)
        lon_lat = places.get(thing.id)
        found.append(
            Device(
                id=thing.id,
                name=thing.name,
                description=thing.description,
                properties=properties,
                kind=str(properties.get("kind") or ""),
                status=status_of(newest, threshold, now),
                last_seen=newest,
                threshold=threshold,
                lon=lon_lat[0] if lon_lat else None,
                lat=lon_lat[1] if lon_lat else None,
            )
        )
    return found


async def _positions(
    session: AsyncSession, thing_ids: Sequence[int] | None
) -> dict[int, tuple[float, float]]:
    """Per Thing the point of its Location (the lowest id, when it has several)."""
    link = m.thing_location
    query = (
        select(link.c.thing_id, m.StaLocation.location)
        .join(m.StaLocation, m.StaLocation.id == link.c.location_id)
        .order_by(link.c.thing_id, m.StaLocation.id)
    )
    if thing_ids is not None:
        query = query.where(link.c.thing_id.in_(thing_ids))
    positions: dict[int, tuple[float, float]] = {}
    for thing_id, location in (await session.execute(query)).all():
        if thing_id not in positions and (point := point_of(location)) is not None:
            positions[int(thing_id)] = point
    return positions


def counts(found: Sequence[Device]) -> dict[str, int]:
    tally = dict.fromkeys(STATUSES, 0)
    for device in found:
        tally[device.status] += 1
    return tally


# --- dead letters (死信) -----------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetterPage:
    items: list[m.StaMqttDeadLetter]
    has_more: bool


def _day_range(day: date) -> tuple[datetime, datetime]:
    """A calendar day of the city (Asia/Shanghai) as a UTC range."""
    start = datetime.combine(day, time(0), tzinfo=clock.CITY_TZ)
    return start, start + timedelta(days=1)


async def dead_letters(
    session: AsyncSession,
    principal: Principal,
    *,
    topic: str | None = None,
    day: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> DeadLetterPage:
    """MQTT dead letters newest first; ``topic`` a substring of the topic, ``day`` a city
    day. No total count: the table may grow large under a misbehaving device, and the page
    only needs to know whether more follow."""
    authorize(principal, "sensing.dead_letter.read")
    letter = m.StaMqttDeadLetter
    conditions: list[ColumnElement[bool]] = []
    if topic:
        conditions.append(letter.topic.contains(topic, autoescape=True))
    if day is not None:
        start, end = _day_range(day)
        conditions.append(letter.received_at >= start)
        conditions.append(letter.received_at < end)
    query = (
        select(letter)
        .where(*conditions)
        .order_by(letter.received_at.desc(), letter.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    rows = list((await session.scalars(query)).all())
    return DeadLetterPage(rows[:limit], len(rows) > limit)


async def thing_datastreams(session: AsyncSession, thing_id: int) -> list[m.StaDatastream]:
    """A Thing's Datastreams by name, for its page (the caller has already read the Thing)."""
    found = await session.scalars(
        select(m.StaDatastream)
        .where(m.StaDatastream.thing_id == thing_id)
        .order_by(m.StaDatastream.name, m.StaDatastream.id)
    )
    return list(found.all())


async def observed_property_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """ObservedProperty names by id."""
    if not ids:
        return {}
    rows = await session.execute(
        select(m.StaObservedProperty.id, m.StaObservedProperty.name).where(
            m.StaObservedProperty.id.in_(ids)
        )
    )
    return {int(i): str(n) for i, n in rows.all()}
