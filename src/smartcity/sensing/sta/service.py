"""Creating SensorThings entities (A.3): deep insert, links to existing entities, automatic
HistoricalLocations, CreateObservations (A.6), and who may write. Updates and deletes are in
updates.py.

Observations go through ingest.py, which all writers of Observations share. Changes to the
other entities are audited; every created, updated or deleted entity is an event on the bus
(``sensing.entity.created|updated|deleted`` with entity_set, id and its JSON; new
Observations in ``sensing.observations.created`` batches, see ingest.py) for the MQTT bridge
and the rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import SYSTEM, Principal, authorize
from smartcity.core.errors import NotFound, Problem
from smartcity.core.geo import to_geometry
from smartcity.core.models import Account
from smartcity.core.text import text_problem
from smartcity.sensing import models as m
from smartcity.sensing.events import ENTITY_CREATED, OWNER_ASSIGNED, EntityCreated, OwnerAssigned
from smartcity.sensing.sta.entities import (
    GEOJSON_TYPES,
    MAX_ID,
    OM_COMPLEX,
    TYPES,
    BadRequest,
    EntityType,
    Nav,
    Prop,
    nav_target,
)
from smartcity.sensing.sta.ingest import (
    ObservationRow,
    feature_hash,
    ingest_observations,
    parse_row,
    refuse_computed,
)
from smartcity.sensing.sta.serialize import plain
from smartcity.sensing.sta.times import (
    Interval,
    check_range,
    horizon,
    parse_datetime,
    parse_time_value,
)

ACTIONS: dict[str, frozenset[str]] = {
    # Things, Sensors, Datastreams...: the departments' staff and machine accounts.
    "sensing.entity.write": frozenset({"staff", "admin", "system"}),
    # Observations: also devices, on the datastreams of their own Things (ingest.py).
    "sensing.observation.write": frozenset({"device", "staff", "admin", "system"}),
    "sensing.thing.assign_owner": frozenset({"staff", "admin"}),
}


def action_name(etype: EntityType) -> str:
    return "sensing.observation.write" if etype.name == "Observation" else "sensing.entity.write"


def audit_action(etype: EntityType, verb: str) -> str:
    return f"sensing.{etype.name[0].lower()}{etype.name[1:]}.{verb}"


# --- property values ---------------------------------------------------------------------------


def convert(etype: EntityType, prop: Prop, value: Any, data: dict[str, Any]) -> Any:
    """A JSON property value as stored; a 400 naming the property when it does not fit."""
    where = f"{etype.name}/{prop.name}"
    if value is None:
        if not prop.nullable or (prop.required and prop.kind != "json"):
            raise BadRequest(f"{where} cannot be null.")
        return None
    if prop.kind == "string":
        if not isinstance(value, str):
            raise BadRequest(f"{where} must be a string.")
        if prop.name in ("name", "description"):
            # The platform's one rule for typed names and text (core.text).
            problem = text_problem(value, multi_line=prop.name == "description")
            if problem:
                raise BadRequest(f"{where}: {problem}")
        elif "\x00" in value:
            raise BadRequest(f"{where} contains a NUL character.")
        if prop.name == "name" and len(value) > 255:
            raise BadRequest(f"{where} is longer than 255 characters.")
        return value
    if prop.kind == "instant":
        if not isinstance(value, str):
            raise BadRequest(f"{where} must be an ISO 8601 time string.")
        instant = parse_datetime(value)
        check_range(where, instant, latest=horizon())
        return instant
    if prop.kind == "interval":
        interval = parse_time_value(value)
        # A validTime says how long a result holds, which may well reach into the future.
        check_range(where, interval, latest=None if prop.name == "validTime" else horizon())
        return interval
    if prop.kind == "geometry":
        encoding = data.get("encodingType")
        if (encoding is None or encoding in GEOJSON_TYPES) and to_geometry(value) is None:
            raise BadRequest(f"{where} must be valid GeoJSON (a geometry or a Feature).")
        return value
    if prop.name in ("properties", "parameters") and not isinstance(value, dict):
        raise BadRequest(f"{where} must be a JSON object.")
    if prop.name == "unitOfMeasurement" and not isinstance(value, dict):
        raise BadRequest(f"{where} must be a JSON object with name, symbol and definition.")
    if prop.name == "unitOfMeasurements" and not (
        isinstance(value, list) and all(isinstance(u, dict) or u is None for u in value)
    ):
        raise BadRequest(f"{where} must be an array of JSON objects.")
    if prop.name == "multiObservationDataTypes" and not (
        isinstance(value, list) and value and all(isinstance(t, str) for t in value)
    ):
        raise BadRequest(f"{where} must be a non-empty array of observationType URIs.")
    return value


def assign(obj: Any, prop: Prop, value: Any) -> None:
    if prop.kind == "interval":
        interval: Interval | None = value
        setattr(obj, prop.column, interval.start if interval else None)
        setattr(obj, prop.end_column, interval.end if interval else None)
    else:
        setattr(obj, prop.column, value)


# --- the writer ---------------------------------------------------------------------------------


@dataclass
class Writer:
    """One create/update request: the entities it touched, for events and audit at the end."""

    session: AsyncSession
    principal: Principal
    created: list[tuple[EntityType, Any]] = field(default_factory=list)
    streams: set[tuple[str, int]] = field(default_factory=set)

    async def finish(self) -> None:
        await self.session.flush()
        for etype, obj in self.created:
            await ENTITY_CREATED.emit(
                self.session,
                EntityCreated(entity_set=etype.set_name, id=obj.id, entity=plain(etype, obj)),
            )
            await audit.log(
                self.session,
                self.principal,
                audit_action(etype, "create"),
                f"{etype.set_name}({obj.id})",
            )

    async def get(self, etype: EntityType, entity_id: int, *, link: bool = False) -> Any:
        obj = await self.session.get(etype.model, entity_id)
        if obj is None:
            if link:
                raise BadRequest(f"There is no {etype.name} with the id {entity_id} to link to.")
            raise NotFound(f"There is no {etype.name} with the id {entity_id}.")
        return obj

    async def link_or_create(self, etype: EntityType, value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            raise BadRequest(f"{where} must be a JSON object.")
        if "@iot.id" in value:
            return await self.get(etype, link_id(value, where), link=True)
        return await self.create(etype, value)

    async def create(self, etype: EntityType, data: Any) -> Any:
        """Create an entity with its nested entities and links (deep insert)."""
        if not isinstance(data, dict):
            raise BadRequest(f"A {etype.name} must be a JSON object.")
        if etype.name == "Observation":
            return await self.create_observation(data)
        authorize(self.principal, action_name(etype))
        values: dict[str, Any] = {}
        navs: dict[str, Any] = {}
        for key, value in data.items():
            if "@iot." in key:
                continue  # annotations; a client-given @iot.id is ignored on create
            if key in etype.navs:
                navs[key] = value
                continue
            prop = etype.prop(key)
            if prop is None or prop.name == "id":
                raise BadRequest(f"{etype.name} has no property '{key}'.")
            values[prop.name] = convert(etype, prop, value, data)
        for prop in etype.props.values():
            if prop.required and prop.name not in values:
                raise BadRequest(f"A {etype.name} needs {prop.name}.")
        obj = etype.model()
        for name, value in values.items():
            assign(obj, etype.props[name], value)
        for prop in etype.props.values():
            if prop.kind == "json" and prop.name not in values:
                setattr(obj, prop.column, None)
        # Links that live on this row come first: the row cannot exist without them.
        for name, nav in etype.navs.items():
            if nav.how != "here":
                continue
            if name in navs and navs[name] is not None:
                target = await self.link_or_create(
                    nav_target(nav), navs[name], f"{etype.name}/{name}"
                )
                setattr(obj, nav.column, target.id)
            elif nav.required:
                raise BadRequest(f"A {etype.name} needs a link to its {name}.")
        for name, nav in etype.navs.items():
            if nav.required and nav.many and not navs.get(name):
                raise BadRequest(f"A {etype.name} needs its {name}.")
        self.check_entity(etype, obj, navs)
        if etype.name == "FeatureOfInterest":
            obj.feature_hash = feature_hash(obj.encoding_type, obj.feature)
        self.session.add(obj)
        await self.session.flush()
        self.created.append((etype, obj))
        for name, value in navs.items():
            nav = etype.navs[name]
            if nav.how == "here" or value is None:
                continue
            if not isinstance(value, list):
                raise BadRequest(f"{etype.name}/{name} must be an array.")
            await self.add_many(etype, obj, nav, value)
        return obj

    def check_entity(self, etype: EntityType, obj: Any, navs: dict[str, Any]) -> None:
        if etype.name == "MultiDatastream":
            if obj.observation_type != OM_COMPLEX:
                raise BadRequest(f"A MultiDatastream's observationType must be {OM_COMPLEX}.")
            sizes = {
                len(obj.unit_of_measurements),
                len(obj.multi_observation_data_types),
                len(navs.get("ObservedProperties") or []),
            }
            if len(sizes) != 1:
                raise BadRequest(
                    "A MultiDatastream needs as many unitOfMeasurements and "
                    "multiObservationDataTypes as ObservedProperties, in the same order."
                )

    async def add_many(self, etype: EntityType, obj: Any, nav: Nav, items: list[Any]) -> None:
        child_type = nav_target(nav)
        where = f"{etype.name}/{nav.name}"
        if nav.how == "there":
            for item in items:
                if not isinstance(item, dict):
                    raise BadRequest(f"{where} must hold JSON objects.")
                if "@iot.id" in item:
                    child = await self.get(child_type, link_id(item, where), link=True)
                    setattr(child, nav.column, obj.id)
                    continue
                inverse = child_type.navs[nav.inverse]
                await self.create(child_type, {**item, inverse.name: {"@iot.id": obj.id}})
            return
        assert nav.assoc is not None
        linked: list[int] = []
        for item in items:
            child = await self.link_or_create(child_type, item, where)
            linked.append(child.id)
        if len(set(linked)) != len(linked):
            raise BadRequest(f"{where} lists the same entity twice.")
        await self.link_assoc(etype, obj.id, nav, linked)

    async def link_assoc(self, etype: EntityType, obj_id: int, nav: Nav, linked: list[int]) -> None:
        assert nav.assoc is not None
        if not linked:
            return
        existing = set(
            (
                await self.session.execute(
                    select(nav.assoc.c[nav.assoc_remote]).where(
                        nav.assoc.c[nav.assoc_local] == obj_id
                    )
                )
            ).scalars()
        )
        new = [i for i in linked if i not in existing]
        if not new:
            return
        rows = [{nav.assoc_local: obj_id, nav.assoc_remote: i} for i in new]
        if "position" in nav.assoc.c:
            start = len(existing)
            rows = [{**r, "position": start + n} for n, r in enumerate(rows)]
        await self.session.execute(insert(nav.assoc), rows)
        # A Thing at a new Location gets a HistoricalLocation (create-update-delete/
        # historical-location-auto-creation), whichever side the link was made from.
        if etype.name == "Thing" and nav.name == "Locations":
            await self.historical_location(obj_id, new)
        elif etype.name == "Location" and nav.name == "Things":
            for thing_id in new:
                await self.historical_location(thing_id, [obj_id])

    async def historical_location(self, thing_id: int, location_ids: list[int]) -> None:
        record = m.StaHistoricalLocation(time=clock.now(), thing_id=thing_id)
        self.session.add(record)
        await self.session.flush()
        await self.session.execute(
            insert(m.historical_location_location),
            [{"historical_location_id": record.id, "location_id": i} for i in location_ids],
        )
        self.created.append((TYPES["HistoricalLocation"], record))

    async def create_observation(self, data: dict[str, Any]) -> Any:
        feature = data.get("FeatureOfInterest")
        feature_id = None
        if isinstance(feature, dict) and "@iot.id" not in feature:
            # A nested FeatureOfInterest is created with the Observation, by whoever may
            # write the Observation (a device reporting what it observed).
            authorize(self.principal, "sensing.observation.write")
            foi_type = TYPES["FeatureOfInterest"]
            saved = self.principal
            self.principal = _as_writer(self.principal)
            try:
                feature_id = (await self.create(foi_type, feature)).id
            finally:
                self.principal = saved
        row = parse_row(data, feature_id=feature_id)
        outcome = (await ingest_observations(self.session, self.principal, [row]))[0]
        if isinstance(outcome, Problem):
            raise outcome
        obj = await self.session.get(m.StaObservation, outcome)
        assert obj is not None
        return obj


def _as_writer(principal: Principal) -> Principal:
    """The device's principal with the right to create the FeatureOfInterest it reports on."""
    return Principal(
        id=principal.id,
        kind=principal.kind,
        name=principal.name,
        department_id=principal.department_id,
        roles=principal.roles | {"system"},
        via=principal.via,
    )


def link_id(value: Any, where: str) -> int:
    raw = value.get("@iot.id") if isinstance(value, dict) else None
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < MAX_ID:
        raise BadRequest(f"{where}: @iot.id must be an integer id.")
    return raw


# --- the service functions -------------------------------------------------------------------


async def create_entity(
    session: AsyncSession,
    principal: Principal,
    etype: EntityType,
    data: Any,
    *,
    parent: tuple[EntityType, int, Nav] | None = None,
) -> Any:
    """POST to a collection, or to a navigation collection (``Things(1)/Datastreams``: the new
    entity is linked to its parent)."""
    if parent is not None and isinstance(data, dict):
        _parent_type, parent_id, nav = parent
        inverse = etype.navs.get(nav.inverse)
        if inverse is not None:
            data = {
                **data,
                inverse.name: [{"@iot.id": parent_id}] if inverse.many else {"@iot.id": parent_id},
            }
    writer = Writer(session, principal)
    obj = await writer.create(etype, data)
    await writer.finish()
    return obj


async def create_computed_datastream(session: AsyncSession, data: Any) -> m.StaDatastream:
    """A Datastream whose Observations only the platform writes (计算数据流), e.g. an air
    station's AQI: every client's write into it is a 403 (ingest.refuse_computed)."""
    stream = await create_entity(session, SYSTEM, TYPES["Datastream"], data)
    assert isinstance(stream, m.StaDatastream)
    stream.computed = True
    await session.flush()
    return stream


async def assign_thing_owner(
    session: AsyncSession, principal: Principal, thing_id: int, username: str | None
) -> m.StaThing:
    """Name the device account that may write a Thing's Observations (设备归属)."""
    authorize(principal, "sensing.thing.assign_owner")
    thing = await session.get(m.StaThing, thing_id)
    if thing is None:
        raise NotFound(f"There is no Thing with the id {thing_id}.")
    owner_id: uuid.UUID | None = None
    if username is not None:
        account = (
            await session.execute(select(Account).where(Account.username == username))
        ).scalar_one_or_none()
        if account is None or account.kind != "device":
            raise BadRequest(f"There is no device account named {username}.")
        owner_id = account.id
    before = thing.owner_account_id
    thing.owner_account_id = owner_id
    await session.flush()
    await audit.log(
        session, principal, "sensing.thing.assign_owner", f"Things({thing_id})", owner=username
    )
    if before != owner_id:
        # The MQTT broker's ACLs of both devices change (sensing/dynsec.py).
        await OWNER_ASSIGNED.emit(
            session,
            OwnerAssigned(
                thing_id=thing_id,
                owner_id=str(owner_id) if owner_id else None,
                before=str(before) if before else None,
            ),
        )
    return thing


async def create_observations(
    session: AsyncSession, principal: Principal, body: Any
) -> list[int | Problem]:
    """CreateObservations (A.6): dataArray groups per (Multi)Datastream; one outcome per row
    in request order. A malformed envelope is a 400 for the whole request."""
    if not isinstance(body, list):
        raise BadRequest("CreateObservations takes a JSON array of dataArray groups.")
    rows: list[ObservationRow | Problem] = []
    for index, group in enumerate(body):
        if not isinstance(group, dict):
            raise BadRequest(f"Group {index} must be a JSON object.")
        components = group.get("components")
        data = group.get("dataArray")
        if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
            raise BadRequest(f"Group {index} needs components, an array of names.")
        if "phenomenonTime" not in components or "result" not in components:
            raise BadRequest(f"Group {index}: components must include phenomenonTime and result.")
        allowed = {
            "phenomenonTime",
            "result",
            "resultTime",
            "resultQuality",
            "validTime",
            "parameters",
            "FeatureOfInterest/id",
        }
        unknown = [c for c in components if c not in allowed]
        if unknown:
            raise BadRequest(f"Group {index}: unknown components {', '.join(unknown)}.")
        if not isinstance(data, list):
            raise BadRequest(f"Group {index} needs dataArray, an array of rows.")
        stream_key = "Datastream" if "Datastream" in group else "MultiDatastream"
        stream_id = link_id(group.get(stream_key), f"Group {index}/{stream_key}")
        if stream_key == "Datastream":
            # The whole call is refused, not row by row: it names a stream it may not write.
            refuse_computed(principal, stream_key, await session.get(m.StaDatastream, stream_id))
        for values in data:
            if not isinstance(values, list) or len(values) != len(components):
                rows.append(
                    BadRequest(f"A row of group {index} must have {len(components)} values.")
                )
                continue
            observation: dict[str, Any] = {stream_key: {"@iot.id": stream_id}}
            feature_id = None
            for name, value in zip(components, values, strict=True):
                if name == "FeatureOfInterest/id":
                    feature_id = value
                else:
                    observation[name] = value
            if feature_id is not None:
                observation["FeatureOfInterest"] = {"@iot.id": feature_id}
            try:
                rows.append(parse_row(observation))
            except Problem as problem:
                rows.append(problem)
    parsed = [r for r in rows if isinstance(r, ObservationRow)]
    outcomes = iter(await ingest_observations(session, principal, parsed) if parsed else [])
    return [next(outcomes) if isinstance(r, ObservationRow) else r for r in rows]
