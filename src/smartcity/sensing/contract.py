"""What domains may use of the sensing engine (物联感知引擎的契约): plain functions and frozen
data types, so a domain (environment, traffic, the demo) never touches the SensorThings
tables, the ingestion internals or the rules' rows.

- **Entities**, idempotent by a domain's key: an ObservedProperty by its definition, a Sensor
  by its name; a computed Datastream (only the platform writes its Observations). They are
  made through the SensorThings service as the platform, so they are ordinary entities
  (created events, audit) that any client reads.
- **Reading**: the Things a caller may read with a given ``properties`` value, with their
  locations; their Datastreams by ObservedProperty definition; the Datastreams of
  device-owned Things; Observations of a Datastream (newest, in a period, their start
  times); hourly means in SQL; for a domain's periodic job over many streams, the streams
  of some definitions with their Things (``streams_of_definitions``) and minute means of
  them in one grouped query (``minute_means``, optionally only Observations newer than an
  id, so late readings are seen).
- **Writing**: ``ingest_observations`` with ``ObservationRow``s, the path every client's
  Observations take (bus event, rules, MQTT); for seeders, ``create_things``: many Things
  with their Datastreams and history in bulk (sensing/bulk.py).
- **Declared rules**: a domain lists ``DeclaredRule``s in its ``MODULE.extends``; the
  sensing module's ``DECLARED_RULES`` extension point takes them at start-up and
  ``ensure_declared_rules`` makes the missing ones (a rule an operator deactivated stays
  as it is: only a missing one is made again).

Devices reach MQTT at ``broker_address(SMARTCITY_MQTT_URL)`` under ``device_topic``.
Geometry is ``smartcity.core.geo``'s (``to_geometry``…), which domains import directly;
times are the standard's (``Interval``, ``format_datetime``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import SYSTEM, Principal
from smartcity.core.errors import Problem
from smartcity.core.models import Account, Department
from smartcity.core.module import ExtensionPoint, ModuleError, Seeder
from smartcity.sensing import access
from smartcity.sensing import models as m
from smartcity.sensing.bulk import Created, NewDatastream, NewReading, NewThing, create_things
from smartcity.sensing.events import (
    ENTITY_CREATED,
    ENTITY_DELETED,
    ENTITY_UPDATED,
    VISIBILITY_CHANGED,
)
from smartcity.sensing.mqtt.bridge import broker_address
from smartcity.sensing.mqtt.topics import device_topic
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.models import SensingRule
from smartcity.sensing.service import NUMERIC_KINDS, epoch_seconds
from smartcity.sensing.sta import service as sta
from smartcity.sensing.sta.entities import OM_COUNT, OM_MEASUREMENT, TYPES
from smartcity.sensing.sta.ingest import ObservationRow, ingest_observations
from smartcity.sensing.sta.times import Interval, format_datetime

__all__ = [
    "ABOVE",
    "BELOW",
    "DECLARED_RULES",
    "DECLARED_RULES_SEEDER",
    "ENTITY_CREATED",
    "ENTITY_DELETED",
    "ENTITY_UPDATED",
    "OM_COUNT",
    "OM_MEASUREMENT",
    "RESULT_INTEGER",
    "RESULT_NULL",
    "RESULT_NUMBER",
    "THRESHOLD",
    "VISIBILITY_CHANGED",
    "Created",
    "Datastream",
    "DeclaredRule",
    "DeviceDatastream",
    "Interval",
    "MinuteMeans",
    "NewDatastream",
    "NewReading",
    "NewThing",
    "Observation",
    "ObservationRow",
    "Rule",
    "StreamOfThing",
    "Thing",
    "broker_address",
    "count_things_owned",
    "create_computed_datastream",
    "create_things",
    "datastreams_of",
    "device_datastreams",
    "device_topic",
    "ensure_declared_rules",
    "ensure_observed_property",
    "ensure_sensor",
    "find_things",
    "format_datetime",
    "hourly_means",
    "ingest_observations",
    "minute_means",
    "newest_observations",
    "observation_starts",
    "observations_between",
    "observed_property_id",
    "streams_of_definitions",
]

# How an Observation's result is stored (Observation.result_kind).
RESULT_NUMBER, RESULT_INTEGER, RESULT_NULL = m.RESULT_NUMBER, m.RESULT_INTEGER, m.RESULT_NULL
# Rule kinds and threshold directions a DeclaredRule may use.
THRESHOLD, ABOVE, BELOW = rules.THRESHOLD, rules.ABOVE, rules.BELOW


# --- what the engine hands out ----------------------------------------------------------


@dataclass(frozen=True)
class Thing:
    """A Thing (物) as a domain sees it; ``locations`` are its Locations' GeoJSON, oldest
    first."""

    id: int
    name: str
    properties: Mapping[str, Any]
    public: bool
    locations: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Datastream:
    """A Datastream (数据流) with the definition of its ObservedProperty."""

    id: int
    thing_id: int
    name: str
    observed_property_id: int
    definition: str
    unit_of_measurement: Any
    computed: bool
    phenomenon_time_start: datetime | None
    phenomenon_time_end: datetime | None
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class Observation:
    """An Observation (观测) of a Datastream, with its typed result."""

    id: int
    datastream_id: int
    phenomenon_time_start: datetime
    phenomenon_time_end: datetime | None
    result_kind: int
    result_number: float | None
    parameters: Mapping[str, Any] | None


@dataclass(frozen=True)
class Rule:
    """A sensing rule (感知规则) as made by ``ensure_declared_rules``."""

    id: int
    name: str
    kind: str
    severity: str
    params: Mapping[str, Any]
    observed_property_id: int | None
    department_id: uuid.UUID | None
    active: bool


def _datastream(stream: m.StaDatastream, definition: str) -> Datastream:
    return Datastream(
        id=stream.id,
        thing_id=stream.thing_id,
        name=stream.name,
        observed_property_id=stream.observed_property_id,
        definition=definition,
        unit_of_measurement=stream.unit_of_measurement,
        computed=bool(stream.computed),
        phenomenon_time_start=stream.phenomenon_time_start,
        phenomenon_time_end=stream.phenomenon_time_end,
        properties=dict(stream.properties or {}),
    )


def _observation(row: m.StaObservation) -> Observation:
    return Observation(
        id=row.id,
        datastream_id=int(row.datastream_id) if row.datastream_id is not None else 0,
        phenomenon_time_start=row.phenomenon_time_start,
        phenomenon_time_end=row.phenomenon_time_end,
        result_kind=row.result_kind,
        result_number=row.result_number,
        parameters=dict(row.parameters) if isinstance(row.parameters, dict) else row.parameters,
    )


def _rule(rule: SensingRule) -> Rule:
    return Rule(
        id=rule.id,
        name=rule.name,
        kind=rule.kind,
        severity=rule.severity,
        params=dict(rule.params or {}),
        observed_property_id=rule.observed_property_id,
        department_id=rule.department_id,
        active=bool(rule.active),
    )


# --- entities, idempotent by a domain's key ----------------------------------------------


async def observed_property_id(session: AsyncSession, definition: str) -> int | None:
    """The oldest ObservedProperty of the definition, if any."""
    found = await session.scalar(
        select(m.StaObservedProperty.id)
        .where(m.StaObservedProperty.definition == definition)
        .order_by(m.StaObservedProperty.id)
        .limit(1)
    )
    return int(found) if found is not None else None


async def ensure_observed_property(
    session: AsyncSession,
    definition: str,
    *,
    name: str,
    description: str,
    principal: Principal = SYSTEM,
) -> tuple[int, bool]:
    """The ObservedProperty of the definition, made (as the platform, unless another
    principal is given) when missing; its id and whether it was made now."""
    found = await observed_property_id(session, definition)
    if found is not None:
        return found, False
    prop = await sta.create_entity(
        session,
        principal,
        TYPES["ObservedProperty"],
        {"name": name, "definition": definition, "description": description},
    )
    return int(prop.id), True


async def ensure_sensor(
    session: AsyncSession,
    *,
    name: str,
    description: str,
    encoding_type: str,
    metadata: Any,
    same_encoding: bool = False,
    principal: Principal = SYSTEM,
) -> int:
    """The oldest Sensor of the name (and of the encoding type, with ``same_encoding``),
    made (as the platform, unless another principal is given) when missing."""
    query = select(m.StaSensor.id).where(m.StaSensor.name == name)
    if same_encoding:
        query = query.where(m.StaSensor.encoding_type == encoding_type)
    found = await session.scalar(query.order_by(m.StaSensor.id).limit(1))
    if found is not None:
        return int(found)
    sensor = await sta.create_entity(
        session,
        principal,
        TYPES["Sensor"],
        {
            "name": name,
            "description": description,
            "encodingType": encoding_type,
            "metadata": metadata,
        },
    )
    return int(sensor.id)


async def create_computed_datastream(session: AsyncSession, data: Mapping[str, Any]) -> Datastream:
    """A Datastream (SensorThings JSON, linking its Thing, Sensor and ObservedProperty by
    ``@iot.id``) whose Observations only the platform writes: every client's write into it
    is refused (403 computed-datastream)."""
    stream = await sta.create_computed_datastream(session, dict(data))
    definition = await session.scalar(
        select(m.StaObservedProperty.definition).where(
            m.StaObservedProperty.id == stream.observed_property_id
        )
    )
    return _datastream(stream, str(definition))


# --- reading -------------------------------------------------------------------------------


async def find_things(
    session: AsyncSession,
    principal: Principal | None,
    *,
    properties: Mapping[str, str],
    ids: Sequence[int] | None = None,
) -> list[Thing]:
    """The Things the caller may read (sensing.access: an anonymous reader sees public ones
    only) whose ``properties`` have these string values, with their locations."""
    query = select(m.StaThing)
    for key, value in properties.items():
        query = query.where(m.StaThing.properties[key].as_string() == value)
    condition = access.thing_condition(principal)
    if condition is not None:
        query = query.where(condition)
    if ids is not None:
        query = query.where(m.StaThing.id.in_(list(ids)))
    things = list((await session.scalars(query)).all())
    if not things:
        return []
    located: dict[int, list[Any]] = {}
    rows = await session.execute(
        select(m.thing_location.c.thing_id, m.StaLocation.location)
        .join(m.StaLocation, m.StaLocation.id == m.thing_location.c.location_id)
        .where(m.thing_location.c.thing_id.in_([t.id for t in things]))
        .order_by(m.StaLocation.id)
    )
    for thing_id, location in rows.all():
        located.setdefault(int(thing_id), []).append(location)
    return [
        Thing(
            id=t.id,
            name=t.name,
            properties=dict(t.properties or {}),
            public=bool(t.public),
            locations=tuple(located.get(t.id, ())),
        )
        for t in things
    ]


async def datastreams_of(
    session: AsyncSession, thing_ids: Sequence[int], *, definitions: Sequence[str]
) -> list[Datastream]:
    """The Datastreams of the Things whose ObservedProperty has one of the definitions, in
    the order they were made. The caller has read the Things through ``find_things``."""
    if not thing_ids:
        return []
    rows = await session.execute(
        select(m.StaDatastream, m.StaObservedProperty.definition)
        .join(
            m.StaObservedProperty,
            m.StaObservedProperty.id == m.StaDatastream.observed_property_id,
        )
        .where(
            m.StaDatastream.thing_id.in_(list(thing_ids)),
            m.StaObservedProperty.definition.in_(list(definitions)),
        )
        .order_by(m.StaDatastream.id)
    )
    return [_datastream(stream, definition) for stream, definition in rows.all()]


@dataclass(frozen=True)
class DeviceDatastream:
    """A Datastream of a Thing owned by an active device account (设备账号), with the
    account's username and the definition of its ObservedProperty."""

    thing: Thing
    owner: str
    datastream_id: int
    definition: str


async def device_datastreams(session: AsyncSession) -> list[DeviceDatastream]:
    """Every Datastream of a Thing that an active device account owns, by Thing id then
    Datastream id (the simulator's devices are among them)."""
    rows = await session.execute(
        select(m.StaThing, Account.username, m.StaDatastream.id, m.StaObservedProperty.definition)
        .join(Account, Account.id == m.StaThing.owner_account_id)
        .join(m.StaDatastream, m.StaDatastream.thing_id == m.StaThing.id)
        .join(
            m.StaObservedProperty,
            m.StaObservedProperty.id == m.StaDatastream.observed_property_id,
        )
        .where(Account.kind == "device", Account.active.is_(True))
        .order_by(m.StaThing.id, m.StaDatastream.id)
    )
    return [
        DeviceDatastream(
            thing=Thing(
                id=thing.id,
                name=thing.name,
                properties=dict(thing.properties or {}),
                public=bool(thing.public),
            ),
            owner=str(owner),
            datastream_id=int(stream_id),
            definition=str(definition),
        )
        for thing, owner, stream_id, definition in rows.all()
    ]


async def count_things_owned(session: AsyncSession, account_id: uuid.UUID) -> int:
    """How many Things the account owns."""
    found = await session.scalar(
        select(func.count())
        .select_from(m.StaThing)
        .where(m.StaThing.owner_account_id == account_id)
    )
    return int(found or 0)


async def newest_observations(
    session: AsyncSession, datastream_id: int, limit: int
) -> list[Observation]:
    """A Datastream's newest Observations by phenomenon time, newest first (one backward
    probe of the (datastream, time) index)."""
    obs = m.StaObservation
    rows = await session.scalars(
        select(obs)
        .where(obs.datastream_id == datastream_id)
        .order_by(obs.phenomenon_time_start.desc(), obs.id.desc())
        .limit(limit)
    )
    return [_observation(row) for row in rows]


async def observations_between(
    session: AsyncSession,
    datastream_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    include_end: bool = False,
) -> list[Observation]:
    """The Observations of the Datastreams whose phenomenon time starts in [start, end)
    (or [start, end] with ``include_end``), oldest first."""
    if not datastream_ids:
        return []
    obs = m.StaObservation
    until = obs.phenomenon_time_start <= end if include_end else obs.phenomenon_time_start < end
    rows = await session.scalars(
        select(obs)
        .where(
            obs.datastream_id.in_(list(datastream_ids)),
            obs.phenomenon_time_start >= start,
            until,
        )
        .order_by(obs.phenomenon_time_start, obs.id)
    )
    return [_observation(row) for row in rows]


async def observation_starts(
    session: AsyncSession, datastream_id: int, start: datetime, end: datetime
) -> set[datetime]:
    """The phenomenon start times of a Datastream's Observations in [start, end]."""
    obs = m.StaObservation
    rows = await session.scalars(
        select(obs.phenomenon_time_start).where(
            obs.datastream_id == datastream_id,
            obs.phenomenon_time_start >= start,
            obs.phenomenon_time_start <= end,
        )
    )
    return set(rows)


async def hourly_means(
    session: AsyncSession,
    datastream_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    bound: float | None = None,
) -> dict[int, dict[datetime, float]]:
    """Per Datastream, the mean of its numeric results per hour (UTC) for the hours starting
    in [start, end): one grouped query over the (datastream, phenomenon time) index. An
    Observation counts in the hour its phenomenonTime starts in; results whose magnitude is
    ``bound`` or more are left out."""
    if not datastream_ids:
        return {}
    obs = m.StaObservation
    epoch = epoch_seconds(session.get_bind().dialect.name, obs.phenomenon_time_start)
    hour = (epoch // 3600 * 3600).label("hour")
    query = (
        select(obs.datastream_id, hour, func.avg(obs.result_number))
        .where(
            obs.datastream_id.in_(list(datastream_ids)),
            obs.phenomenon_time_start >= start,
            obs.phenomenon_time_start < end,
            obs.result_kind.in_(NUMERIC_KINDS),
        )
        .group_by(obs.datastream_id, hour)
    )
    if bound is not None:
        query = query.where(func.abs(obs.result_number) < bound)
    means: dict[int, dict[datetime, float]] = {}
    for stream_id, bucket, mean in (await session.execute(query)).all():
        if mean is None:
            continue
        at = datetime.fromtimestamp(int(bucket), UTC)
        means.setdefault(int(stream_id), {})[at] = float(mean)
    return means


@dataclass(frozen=True)
class StreamOfThing:
    """A Datastream with its Thing's name and ``properties`` (one row of
    ``streams_of_definitions``)."""

    datastream_id: int
    definition: str
    thing_id: int
    thing_name: str
    thing_properties: Mapping[str, Any]


async def streams_of_definitions(
    session: AsyncSession, definitions: Sequence[str]
) -> list[StreamOfThing]:
    """Every Datastream whose ObservedProperty has one of the definitions, with its Thing's
    name and properties, by Datastream id: one joined query, no list of ids (a domain's
    periodic job maps tens of thousands of streams to its own objects with it). For the
    platform's jobs: it does not filter by reader."""
    if not definitions:
        return []
    rows = await session.execute(
        select(
            m.StaDatastream.id,
            m.StaObservedProperty.definition,
            m.StaThing.id,
            m.StaThing.name,
            m.StaThing.properties,
        )
        .join(
            m.StaObservedProperty,
            m.StaObservedProperty.id == m.StaDatastream.observed_property_id,
        )
        .join(m.StaThing, m.StaThing.id == m.StaDatastream.thing_id)
        .where(m.StaObservedProperty.definition.in_(list(definitions)))
        .order_by(m.StaDatastream.id)
    )
    return [
        StreamOfThing(int(sid), str(definition), int(tid), str(name), dict(props or {}))
        for sid, definition, tid, name, props in rows.all()
    ]


@dataclass(frozen=True)
class MinuteMeans:
    """Per (Datastream, minute start in UTC), the mean and count of the numeric results;
    ``max_id`` is the largest Observation id among the rows read (0 for none)."""

    means: dict[tuple[int, datetime], tuple[float, int]]
    max_id: int


async def minute_means(
    session: AsyncSession,
    definitions: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    after_id: int = 0,
    bound: float | None = None,
) -> MinuteMeans:
    """The minute means of every Datastream of the definitions whose Observations' phenomenon
    time starts in [start, end): one grouped query over the (datastream, time) index. With
    ``after_id`` only Observations of a larger id count (those that came in since a reader's
    last look, late ones included), so a job can tell which minutes got new data. Results
    whose magnitude is ``bound`` or more are left out."""
    if not definitions:
        return MinuteMeans({}, 0)
    obs = m.StaObservation
    epoch = epoch_seconds(session.get_bind().dialect.name, obs.phenomenon_time_start)
    minute = (epoch // 60 * 60).label("minute")
    query = (
        select(
            obs.datastream_id, minute, func.avg(obs.result_number), func.count(), func.max(obs.id)
        )
        .join(m.StaDatastream, m.StaDatastream.id == obs.datastream_id)
        .join(
            m.StaObservedProperty,
            m.StaObservedProperty.id == m.StaDatastream.observed_property_id,
        )
        .where(
            m.StaObservedProperty.definition.in_(list(definitions)),
            obs.phenomenon_time_start >= start,
            obs.phenomenon_time_start < end,
            obs.result_kind.in_(NUMERIC_KINDS),
        )
        .group_by(obs.datastream_id, minute)
    )
    if after_id:
        query = query.where(obs.id > after_id)
    if bound is not None:
        query = query.where(func.abs(obs.result_number) < bound)
    means: dict[tuple[int, datetime], tuple[float, int]] = {}
    top = 0
    for stream_id, bucket, mean, count, biggest in (await session.execute(query)).all():
        top = max(top, int(biggest or 0))
        if mean is None:
            continue
        at = datetime.fromtimestamp(int(bucket), UTC)
        means[(int(stream_id), at)] = (float(mean), int(count))
    return MinuteMeans(means, top)


# --- declared rules ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredRule:
    """A sensing rule a domain needs in every city, on every Datastream of an ObservedProperty
    (e.g. the AQI category thresholds). Listed in the domain's ``MODULE.extends``. ``key``
    names the params that make two rules the same one: a rule of the same property and kind
    with those params equal counts as this one, whatever its name, severity or activity
    (an operator may have tuned or deactivated it)."""

    observed_property: str  # the ObservedProperty's definition
    kind: str
    params: Mapping[str, Any]
    name: str  # as staff read it (data of the city, in Chinese)
    severity: str = "warning"
    department_code: str | None = None  # the department notified, when it exists
    key: tuple[str, ...] = ("op", "value")

    def identity(self) -> tuple[Any, ...]:
        return (self.observed_property, self.kind, *(_same(self.params.get(k)) for k in self.key))

    def same_as(self, params: Mapping[str, Any]) -> bool:
        """Whether a stored rule's params (of this property and kind) make it this rule."""
        return all(_same(params.get(k)) == _same(self.params.get(k)) for k in self.key)


def _same(value: Any) -> Any:
    """Params compared as the rules store them: numbers as floats (100 is 100.0)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


_declared: tuple[DeclaredRule, ...] = ()


def install_declared_rules(declared: Sequence[DeclaredRule]) -> None:
    """The extension point's install: every module's declared rules, replacing the earlier
    ones; a rule declared twice (same property, kind and key params) refuses to start."""
    global _declared
    seen: set[tuple[Any, ...]] = set()
    for rule in declared:
        identity = rule.identity()
        if identity in seen:
            raise ModuleError(f"the sensing rule {rule.name!r} is declared twice")
        seen.add(identity)
        try:
            rules.check_params(rule.kind, dict(rule.params))
        except Problem as exc:
            raise ModuleError(f"the sensing rule {rule.name!r}: {exc.detail}") from exc
    _declared = tuple(declared)


def declared_rules() -> tuple[DeclaredRule, ...]:
    return _declared


DECLARED_RULES = ExtensionPoint(accepts=DeclaredRule, install=install_declared_rules)
"""The sensing module's extension point for DeclaredRule (in its MODULE.extension_points)."""


async def ensure_declared_rules(
    session: AsyncSession, principal: Principal, *, observed_property: str | None = None
) -> list[Rule]:
    """Make the declared rules (of one ObservedProperty definition, or all) that are missing,
    in declaration order; a rule whose ObservedProperty does not exist yet waits for it.
    Idempotent; returns the rules made now."""
    wanted = [d for d in _declared if observed_property in (None, d.observed_property)]
    made: list[Rule] = []
    # The params of the rules of each (property, kind) there are, read once.
    existing: dict[tuple[int, str], list[Mapping[str, Any]]] = {}
    for declared in wanted:
        prop_id = await observed_property_id(session, declared.observed_property)
        if prop_id is None:
            continue
        have = existing.get((prop_id, declared.kind))
        if have is None:
            rows = await session.scalars(
                select(SensingRule).where(
                    SensingRule.observed_property_id == prop_id,
                    SensingRule.kind == declared.kind,
                )
            )
            have = existing[(prop_id, declared.kind)] = [dict(r.params or {}) for r in rows]
        if any(declared.same_as(params) for params in have):
            continue
        department_id = None
        if declared.department_code is not None:
            department_id = await session.scalar(
                select(Department.id).where(Department.code == declared.department_code)
            )
        rule = await rules.create_rule(
            session,
            principal,
            name=declared.name,
            kind=declared.kind,
            params=dict(declared.params),
            severity=declared.severity,
            observed_property_id=prop_id,
            department_id=department_id,
        )
        have.append(dict(rule.params or {}))
        made.append(_rule(rule))
    return made


async def _seed_declared_rules(session: AsyncSession, principal: Principal) -> int:
    return len(await ensure_declared_rules(session, principal))


DECLARED_RULES_SEEDER = Seeder("sensing.declared_rules", _seed_declared_rules)
"""Reference data: the declared rules whose ObservedProperty exists (sensing's
MODULE.reference_data), so a domain's rules are there after ``smartcity db seed``."""
