"""Updating and deleting SensorThings entities (A.3): PATCH (merge), PUT (replace),
JSON-Patch (RFC 6902), and DELETE with the standard's cascades. Creation is in service.py."""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Forbidden, NotFound
from smartcity.sensing import models as m
from smartcity.sensing.events import ENTITY_DELETED, ENTITY_UPDATED, EntityDeleted, EntityUpdated
from smartcity.sensing.sta.entities import OM_COMPLEX, TYPES, BadRequest, EntityType, nav_target
from smartcity.sensing.sta.ingest import (
    feature_hash,
    parse_row,
    refuse_computed,
    result_columns,
    result_problem,
)
from smartcity.sensing.sta.serialize import plain
from smartcity.sensing.sta.service import (
    Writer,
    action_name,
    assign,
    audit_action,
    convert,
    link_id,
)
from smartcity.sensing.sta.store import recompute_stream


async def _authorize_change(
    session: AsyncSession, principal: Principal, etype: EntityType, obj: Any
) -> None:
    authorize(principal, action_name(etype))
    if etype.name == "Datastream":
        # The computed Datastream itself is the platform's too: a client that renamed,
        # re-pointed or deleted it would take the station's AQI off every public page.
        refuse_computed(principal, "Datastream", obj)
    if etype.name == "Observation" and obj.datastream_id is not None:
        stream = await session.get(m.StaDatastream, obj.datastream_id)
        refuse_computed(principal, "Datastream", stream)
    if etype.name == "Observation" and principal.kind == "device":
        stream_type = TYPES["Datastream" if obj.datastream_id is not None else "MultiDatastream"]
        stream_id = obj.datastream_id or obj.multi_datastream_id
        owner = await session.scalar(
            select(m.StaThing.owner_account_id)
            .join(stream_type.model, stream_type.model.thing_id == m.StaThing.id)
            .where(stream_type.model.id == stream_id)
        )
        if owner != principal.id:
            raise Forbidden("This device may change only the Observations of its own Things.")


async def update_entity(
    session: AsyncSession,
    principal: Principal,
    etype: EntityType,
    entity_id: int,
    data: Any,
    *,
    replace: bool = False,
) -> Any:
    """PATCH (merge: only the given properties change) or PUT (``replace``: every property
    is set, a missing mandatory one is a 400). Navigation properties may only link existing
    entities: a single-valued one is replaced, a collection is added to (a Thing's Locations
    are replaced, as a Thing is at one place at a time)."""
    writer = Writer(session, principal)
    obj = await writer.get(etype, entity_id)
    await _authorize_change(session, principal, etype, obj)
    if not isinstance(data, dict):
        raise BadRequest(f"The update of a {etype.name} must be a JSON object.")
    before = plain(etype, obj)
    changed: list[str] = []
    values: dict[str, Any] = {}
    links: dict[str, Any] = {}
    for key, value in data.items():
        if "@iot." in key:
            continue
        if key in etype.navs:
            links[key] = value
            continue
        prop = etype.prop(key)
        if prop is None:
            raise BadRequest(f"{etype.name} has no property '{key}'.")
        if prop.computed:
            continue  # id and the kept time ranges: ignored, as the standard says
        values[prop.name] = value
    if replace:
        for prop in etype.props.values():
            if prop.computed or prop.name in values:
                continue
            if prop.required:
                raise BadRequest(f"PUT replaces the whole {etype.name}: {prop.name} is missing.")
            values[prop.name] = None
    if etype.name == "Observation":
        await _update_observation(writer, obj, values, links)
    else:
        for name, value in values.items():
            prop = etype.props[name]
            merged = {**before, **data}
            assign(obj, prop, convert(etype, prop, value, merged))
        if etype.name == "FeatureOfInterest" and ("feature" in values or "encodingType" in values):
            obj.feature_hash = feature_hash(obj.encoding_type, obj.feature)
        await _relink(writer, etype, obj, links)
        if etype.name == "MultiDatastream":
            await _check_multi(session, obj)
    await session.flush()
    after = plain(etype, obj)
    changed = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    changed += sorted(links)
    await writer.finish()
    if changed:
        await ENTITY_UPDATED.emit(
            session,
            EntityUpdated(entity_set=etype.set_name, id=obj.id, entity=after, changed=changed),
        )
        if etype.name != "Observation":
            await audit.log(
                session,
                principal,
                audit_action(etype, "update"),
                f"{etype.set_name}({obj.id})",
                changed=changed,
            )
    return obj


async def _relink(writer: Writer, etype: EntityType, obj: Any, links: dict[str, Any]) -> None:
    for name, value in links.items():
        nav = etype.navs[name]
        where = f"{etype.name}/{name}"
        target_type = nav_target(nav)
        if not nav.many:
            if not isinstance(value, dict) or (
                set(value) - {"@iot.id"} and not all("@iot." in k for k in value)
            ):
                raise BadRequest(
                    f"{where}: an update may only link an existing entity by "
                    "@iot.id; nested entities are not updated."
                )
            if nav.how != "here":
                raise BadRequest(f"{where} cannot be changed here.")
            target = await writer.get(target_type, link_id(value, where), link=True)
            setattr(obj, nav.column, target.id)
            continue
        if not isinstance(value, list):
            raise BadRequest(f"{where} must be an array of links.")
        ids = []
        for item in value:
            if not isinstance(item, dict) or any(k != "@iot.id" and "@iot." not in k for k in item):
                raise BadRequest(
                    f"{where}: an update may only link existing entities by "
                    "@iot.id; nested entities are not updated."
                )
            ids.append((await writer.get(target_type, link_id(item, where), link=True)).id)
        if nav.how == "there":
            for child_id in ids:
                child = await writer.get(target_type, child_id)
                setattr(child, nav.column, obj.id)
            continue
        assert nav.assoc is not None
        if etype.name == "Thing" and name == "Locations":
            current = set(
                (
                    await writer.session.execute(
                        select(m.thing_location.c.location_id).where(
                            m.thing_location.c.thing_id == obj.id
                        )
                    )
                ).scalars()
            )
            if current == set(ids):
                continue
            await writer.session.execute(
                delete(m.thing_location).where(m.thing_location.c.thing_id == obj.id)
            )
            await writer.session.execute(
                insert(m.thing_location), [{"thing_id": obj.id, "location_id": i} for i in ids]
            )
            if ids:
                await writer.historical_location(obj.id, ids)
            continue
        if etype.name == "MultiDatastream" and name == "ObservedProperties":
            raise BadRequest(
                "A MultiDatastream's ObservedProperties are fixed: its results "
                "are arrays in their order."
            )
        await writer.link_assoc(etype, obj.id, nav, ids)


async def _check_multi(session: AsyncSession, obj: m.StaMultiDatastream) -> None:
    count = len(
        list(
            (
                await session.execute(
                    select(m.StaMultiDatastreamObservedProperty.position).where(
                        m.StaMultiDatastreamObservedProperty.multi_datastream_id == obj.id
                    )
                )
            ).scalars()
        )
    )
    if obj.observation_type != OM_COMPLEX:
        raise BadRequest(f"A MultiDatastream's observationType must be {OM_COMPLEX}.")
    if not len(obj.unit_of_measurements) == len(obj.multi_observation_data_types) == count:
        raise BadRequest(
            "A MultiDatastream needs as many unitOfMeasurements and "
            "multiObservationDataTypes as ObservedProperties."
        )


async def _update_observation(
    writer: Writer, obj: m.StaObservation, values: dict[str, Any], links: dict[str, Any]
) -> None:
    old_streams = {("Datastream", obj.datastream_id), ("MultiDatastream", obj.multi_datastream_id)}
    etype = TYPES["Observation"]
    for name in links:
        if name not in etype.navs:
            raise BadRequest(f"Observation has no navigation property '{name}'.")
    row = parse_row(
        {
            k: v
            for k, v in values.items()
            if k in ("phenomenonTime", "resultTime", "validTime") and v is not None
        }
    )
    for name, value in values.items():
        prop = etype.props[name]
        if name == "phenomenonTime":
            if value is None:
                raise BadRequest("Observation/phenomenonTime cannot be null.")
            assign(obj, prop, row.phenomenon_time)
        elif name == "resultTime":
            obj.result_time = row.result_time
        elif name == "validTime":
            if value is not None and (row.valid_time is None or row.valid_time.end is None):
                raise BadRequest("validTime must be an interval, start/end.")
            assign(obj, prop, row.valid_time)
        elif name == "result":
            for column, stored in result_columns(value).items():
                setattr(obj, column, stored)
        elif name in ("parameters", "resultQuality"):
            assign(obj, prop, convert(etype, prop, value, values))
    await _relink(writer, etype, obj, links)
    if obj.datastream_id is not None:
        # Moving an Observation into a computed Datastream is writing into it.
        target = await writer.session.get(m.StaDatastream, obj.datastream_id)
        refuse_computed(writer.principal, "Datastream", target)
    if (obj.datastream_id is None) == (obj.multi_datastream_id is None):
        raise BadRequest("An Observation belongs to a Datastream or a MultiDatastream (one).")
    await _check_observation(writer.session, obj)
    await writer.session.flush()
    for kind, stream_id in old_streams | {
        ("Datastream", obj.datastream_id),
        ("MultiDatastream", obj.multi_datastream_id),
    }:
        if stream_id is not None:
            await recompute_stream(writer.session, kind, stream_id)


async def _check_observation(session: AsyncSession, obj: m.StaObservation) -> None:
    from smartcity.sensing.sta.query import result_of

    value = result_of(obj)
    if obj.datastream_id is not None:
        stream = await session.get(m.StaDatastream, obj.datastream_id)
        assert stream is not None
        reason = result_problem(stream.observation_type, value)
        if reason:
            raise BadRequest(f"Wrong result type for Datastream {stream.id}: {reason}.")
        return
    multi = await session.get(m.StaMultiDatastream, obj.multi_datastream_id)
    assert multi is not None
    kinds = multi.multi_observation_data_types
    if not isinstance(value, list) or len(value) != len(kinds):
        raise BadRequest(
            f"A MultiDatastream {multi.id} result must be an array of {len(kinds)} values."
        )
    for index, (kind, element) in enumerate(zip(kinds, value, strict=True)):
        reason = result_problem(kind, element)
        if reason:
            raise BadRequest(f"Wrong result element {index}: {reason}.")


async def patch_entity_json(
    session: AsyncSession,
    principal: Principal,
    etype: EntityType,
    entity_id: int,
    operations: Any,
) -> Any:
    """JSON-Patch (RFC 6902) on the entity's properties, applied as a PATCH of what changed."""
    obj = await session.get(etype.model, entity_id)
    if obj is None:
        raise NotFound(f"There is no {etype.name} with the id {entity_id}.")
    if not isinstance(operations, list):
        raise BadRequest("A JSON-Patch document is an array of operations.")
    document = plain(etype, obj)
    document.pop("@iot.id", None)
    try:
        patched = jsonpatch.apply_patch(document, operations)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise BadRequest(f"The JSON-Patch cannot be applied: {exc}") from exc
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise BadRequest(f"The JSON-Patch is not valid: {exc}") from exc
    if not isinstance(patched, dict):
        raise BadRequest("The JSON-Patch must leave an entity (a JSON object).")
    changes = {k: v for k, v in patched.items() if k not in document or document[k] != v}
    for key in document:
        if key not in patched:
            changes[key] = None
    return await update_entity(session, principal, etype, entity_id, changes)


async def delete_entity(
    session: AsyncSession, principal: Principal, etype: EntityType, entity_id: int
) -> None:
    """DELETE with the standard's integrity rules: a Thing takes its Datastreams (and their
    Observations) and HistoricalLocations, a Location its HistoricalLocations, a Sensor or an
    ObservedProperty its Datastreams and MultiDatastreams, a FeatureOfInterest its
    Observations. Foreign keys cascade the rest in the database."""
    obj = await session.get(etype.model, entity_id)
    if obj is None:
        raise NotFound(f"There is no {etype.name} with the id {entity_id}.")
    await _authorize_change(session, principal, etype, obj)
    stream: tuple[str, int] | None = None
    if etype.name == "Observation":
        stream = (
            ("Datastream", obj.datastream_id)
            if obj.datastream_id is not None
            else ("MultiDatastream", obj.multi_datastream_id)
        )
    elif etype.name == "Location":
        await session.execute(
            delete(m.StaHistoricalLocation).where(
                m.StaHistoricalLocation.id.in_(
                    select(m.historical_location_location.c.historical_location_id).where(
                        m.historical_location_location.c.location_id == entity_id
                    )
                )
            )
        )
    elif etype.name == "ObservedProperty":
        await session.execute(
            delete(m.StaMultiDatastream).where(
                m.StaMultiDatastream.id.in_(
                    select(m.StaMultiDatastreamObservedProperty.multi_datastream_id).where(
                        m.StaMultiDatastreamObservedProperty.observed_property_id == entity_id
                    )
                )
            )
        )
    await session.execute(delete(etype.model).where(etype.model.id == entity_id))
    await session.flush()
    # Entities the database deleted by cascade may still sit in the identity map.
    for stale in [o for o in session.identity_map.values() if type(o).__module__ == m.__name__]:
        session.expunge(stale)
    if stream is not None and stream[1] is not None:
        await recompute_stream(session, stream[0], stream[1])
    await ENTITY_DELETED.emit(session, EntityDeleted(entity_set=etype.set_name, id=entity_id))
    if etype.name != "Observation":
        await audit.log(
            session, principal, audit_action(etype, "delete"), f"{etype.set_name}({entity_id})"
        )
