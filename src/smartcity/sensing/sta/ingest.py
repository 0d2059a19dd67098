"""Observation ingestion (观测数据接入): the one path every Observation takes, from a single
POST, a deep insert, CreateObservations, a $batch part, and MQTT.

Rows are checked one by one (known stream, the caller may write it, time not far in the
future, result fits the observationType, a FeatureOfInterest), then the accepted rows are
written in one statement (COPY on PostgreSQL, executemany on SQLite), the streams'
phenomenonTime, resultTime and observedArea are widened once per stream, and the new
Observations are announced as ``sensing.observations.created`` events of up to
OBSERVATIONS_PER_EVENT each; the writing, widening and announcing are store.py's.
A refused row never stops the others: the caller gets a Problem in its place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM, Principal, authorize
from smartcity.core.errors import Forbidden, Problem
from smartcity.sensing import models as m
from smartcity.sensing.events import ENTITY_CREATED, EntityCreated
from smartcity.sensing.sta.entities import (
    GEOJSON_TYPES,
    MAX_ID,
    OM_CATEGORY,
    OM_COUNT,
    OM_MEASUREMENT,
    OM_TRUTH,
    TYPES,
    BadRequest,
)
from smartcity.sensing.sta.store import (
    emit_observations,
    observation_json,
    widen,
    write_rows,
)
from smartcity.sensing.sta.times import (
    Interval,
    check_range,
    parse_datetime,
    parse_time_value,
)
from smartcity.settings import get_settings

OBSERVATION_KEYS = frozenset(
    {
        "phenomenonTime",
        "resultTime",
        "result",
        "resultQuality",
        "validTime",
        "parameters",
        "Datastream",
        "MultiDatastream",
        "FeatureOfInterest",
    }
)


@dataclass
class ObservationRow:
    """One Observation to write, already parsed from JSON (or a dataArray row)."""

    datastream_id: int | None = None
    multi_datastream_id: int | None = None
    phenomenon_time: Interval | None = None
    result_time: datetime | None = None
    result: Any = None
    has_result: bool = False
    result_quality: Any = None
    valid_time: Interval | None = None
    parameters: dict[str, Any] | None = None
    feature_of_interest_id: int | None = None


@dataclass
class Stream:
    kind: str  # Datastream or MultiDatastream
    obj: Any
    owner_account_id: Any
    thing_id: int
    touched: dict[str, Any] = field(default_factory=dict)


def feature_hash(encoding_type: str, feature: Any) -> str:
    canonical = json.dumps(
        [encoding_type, feature], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _link_id(value: Any, name: str) -> int:
    if not isinstance(value, dict) or "@iot.id" not in value:
        raise BadRequest(f'{name} must be a link such as {{"@iot.id": 1}}.')
    raw = value["@iot.id"]
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < MAX_ID:
        raise BadRequest(f"{name}/@iot.id must be an integer id.")
    return raw


def parse_row(data: Any, *, feature_id: int | None = None) -> ObservationRow:
    """An Observation's JSON (links only, no nested entities: the caller created those)."""
    if not isinstance(data, dict):
        raise BadRequest("An Observation must be a JSON object.")
    for key in data:
        if "@iot." not in key and key not in OBSERVATION_KEYS:
            raise BadRequest(f"Observation has no property '{key}'.")
    row = ObservationRow()
    if data.get("Datastream") is not None:
        row.datastream_id = _link_id(data["Datastream"], "Datastream")
    if data.get("MultiDatastream") is not None:
        row.multi_datastream_id = _link_id(data["MultiDatastream"], "MultiDatastream")
    if data.get("phenomenonTime") is not None:
        row.phenomenon_time = parse_time_value(data["phenomenonTime"])
    if data.get("resultTime") is not None:
        if not isinstance(data["resultTime"], str):
            raise BadRequest("resultTime must be an ISO 8601 time string.")
        row.result_time = parse_datetime(data["resultTime"])
    if data.get("validTime") is not None:
        valid = parse_time_value(data["validTime"])
        if valid.end is None:
            raise BadRequest("validTime must be an interval, start/end.")
        row.valid_time = valid
    if "result" in data:
        row.result, row.has_result = data["result"], True
    row.result_quality = data.get("resultQuality")
    parameters = data.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise BadRequest("parameters must be a JSON object.")
    row.parameters = parameters
    if feature_id is not None:
        row.feature_of_interest_id = feature_id
    elif data.get("FeatureOfInterest") is not None:
        row.feature_of_interest_id = _link_id(data["FeatureOfInterest"], "FeatureOfInterest")
    return row


def result_problem(observation_type: str, value: Any) -> str | None:
    """Why a result does not fit the observationType, or None when it does."""
    if observation_type == OM_MEASUREMENT:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "an OM_Measurement result must be a number"
    if observation_type == OM_COUNT:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
        return None if ok else "an OM_CountObservation result must be an integer"
    if observation_type == OM_TRUTH:
        return (
            None
            if isinstance(value, bool)
            else "an OM_TruthObservation result must be true or false"
        )
    if observation_type == OM_CATEGORY:
        return (
            None
            if isinstance(value, str)
            else "an OM_CategoryObservation result must be a URI string"
        )
    return None


def result_columns(value: Any) -> dict[str, Any]:
    """The typed result columns for a JSON value (see models.StaObservation)."""
    columns: dict[str, Any] = {
        "result_number": None,
        "result_string": None,
        "result_boolean": None,
        "result_json": None,
    }
    if value is None:
        columns["result_kind"] = m.RESULT_NULL
    elif isinstance(value, bool):
        columns.update(result_kind=m.RESULT_BOOLEAN, result_boolean=value)
    elif isinstance(value, int):
        columns.update(result_kind=m.RESULT_INTEGER, result_number=float(value), result_json=value)
    elif isinstance(value, float):
        columns.update(result_kind=m.RESULT_NUMBER, result_number=value)
    elif isinstance(value, str):
        columns.update(result_kind=m.RESULT_STRING, result_string=value)
    else:
        columns.update(result_kind=m.RESULT_JSON, result_json=value)
    return columns


class ComputedDatastream(Forbidden):
    """403: the Datastream's Observations are computed by the platform (e.g. an AQI)."""

    slug, title = "computed-datastream", "Computed datastream"


def is_platform(principal: Principal) -> bool:
    """The platform itself (its jobs), not a key, token, session or MQTT client."""
    return principal == SYSTEM


def refuse_computed(principal: Principal, kind: str, stream: Any) -> None:
    """403 when anyone but the platform writes into a computed Datastream: what it shows
    (an air station's AQI) is derived from other readings, and a written value would stand
    beside the computed ones on every public page."""
    if kind == "Datastream" and getattr(stream, "computed", False) and not is_platform(principal):
        raise ComputedDatastream(
            f"Datastream {stream.id} is computed by the platform; clients can neither change "
            "or delete it nor write, change or delete its Observations."
        )


class Ingest:
    """One ingestion call: caches streams, owners and features across its rows."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.now = clock.now()
        self.horizon = self.now + timedelta(hours=get_settings().sta_future_tolerance_hours)
        self.streams: dict[tuple[str, int], Stream | None] = {}
        self.features: dict[int, Any] = {}  # id -> feature GeoJSON (None: unknown id)
        self.derived: dict[int, int | Problem] = {}  # thing id -> feature id

    async def load_streams(self, rows: list[ObservationRow]) -> None:
        for kind, attr in (
            ("Datastream", "datastream_id"),
            ("MultiDatastream", "multi_datastream_id"),
        ):
            wanted = {getattr(r, attr) for r in rows} - {None}
            wanted -= {k[1] for k in self.streams if k[0] == kind}
            if not wanted:
                continue
            model = TYPES[kind].model
            found = await self.session.execute(
                select(model, m.StaThing.owner_account_id)
                .join(m.StaThing, m.StaThing.id == model.thing_id)
                .where(model.id.in_(wanted))
            )
            for obj, owner in found.all():
                self.streams[(kind, obj.id)] = Stream(kind, obj, owner, obj.thing_id)
            for missing in wanted:
                self.streams.setdefault((kind, missing), None)

    async def load_features(self, ids: set[int]) -> None:
        wanted = ids - set(self.features)
        if not wanted:
            return
        found = await self.session.execute(
            select(m.StaFeatureOfInterest.id, m.StaFeatureOfInterest.feature).where(
                m.StaFeatureOfInterest.id.in_(wanted)
            )
        )
        for feature_id, feature in found.all():
            self.features[feature_id] = feature
        for missing in wanted:
            self.features.setdefault(missing, None)

    def stream_of(self, row: ObservationRow) -> Stream:
        if (row.datastream_id is None) == (row.multi_datastream_id is None):
            raise BadRequest("An Observation needs a Datastream or a MultiDatastream (one).")
        key = (
            ("Datastream", row.datastream_id)
            if row.datastream_id is not None
            else ("MultiDatastream", row.multi_datastream_id)
        )
        stream = self.streams.get(key)  # type: ignore[arg-type]
        if stream is None:
            raise BadRequest(f"There is no {key[0]} with the id {key[1]}.")
        refuse_computed(self.principal, stream.kind, stream.obj)
        if self.principal.kind == "device" and stream.owner_account_id != self.principal.id:
            raise Forbidden(
                f"This device may write only to the datastreams of its own Things, not to "
                f"{key[0]} {key[1]}."
            )
        return stream

    def check(self, row: ObservationRow, stream: Stream) -> None:
        if not row.has_result:
            raise BadRequest("An Observation needs a result.")
        if row.phenomenon_time is None:
            # The standard: a missing phenomenonTime is the server's time of receipt.
            row.phenomenon_time = Interval(self.now)
        check_range("phenomenonTime", row.phenomenon_time, latest=self.horizon)
        if row.result_time is not None:
            check_range("resultTime", row.result_time, latest=self.horizon)
        if row.valid_time is not None:
            check_range("validTime", row.valid_time, latest=None)
        obj = stream.obj
        if stream.kind == "Datastream":
            reason = result_problem(obj.observation_type, row.result)
            if reason:
                raise BadRequest(f"Wrong result type for Datastream {obj.id}: {reason}.")
            return
        types = obj.multi_observation_data_types or []
        if not isinstance(row.result, list) or len(row.result) != len(types):
            raise BadRequest(
                f"A MultiDatastream {obj.id} result must be an array of {len(types)} values, "
                "one per ObservedProperty."
            )
        for index, (kind, value) in enumerate(zip(types, row.result, strict=True)):
            reason = result_problem(kind, value)
            if reason:
                raise BadRequest(f"Wrong result element {index}: {reason}.")

    async def feature_for(self, row: ObservationRow, stream: Stream) -> int:
        if row.feature_of_interest_id is not None:
            if self.features.get(row.feature_of_interest_id) is None:
                raise BadRequest(
                    f"There is no FeatureOfInterest with the id {row.feature_of_interest_id}."
                )
            return row.feature_of_interest_id
        if stream.thing_id not in self.derived:
            try:
                self.derived[stream.thing_id] = await self._derive_feature(stream.thing_id)
            except Problem as problem:
                self.derived[stream.thing_id] = problem
        found = self.derived[stream.thing_id]
        if isinstance(found, Problem):
            raise found
        return found

    async def _derive_feature(self, thing_id: int) -> int:
        """The FeatureOfInterest made from the Thing's Location, reused when identical."""
        locations = list(
            (
                await self.session.execute(
                    select(m.StaLocation)
                    .join(m.thing_location, m.thing_location.c.location_id == m.StaLocation.id)
                    .where(m.thing_location.c.thing_id == thing_id)
                    .order_by(m.StaLocation.id)
                )
            ).scalars()
        )
        if not locations:
            raise BadRequest(
                f"The Observation has no FeatureOfInterest and its Thing {thing_id} has no "
                "Location to derive one from."
            )
        # Several Locations (different encodings): the GeoJSON one is the default.
        location = next(
            (loc for loc in locations if loc.encoding_type in GEOJSON_TYPES), locations[0]
        )
        digest = feature_hash(location.encoding_type, location.location)
        existing = await self.session.scalar(
            select(m.StaFeatureOfInterest.id)
            .where(m.StaFeatureOfInterest.feature_hash == digest)
            .order_by(m.StaFeatureOfInterest.id)
            .limit(1)
        )
        if existing is not None:
            self.features[existing] = location.location
            return int(existing)
        feature = m.StaFeatureOfInterest(
            name=location.name,
            description=location.description,
            encoding_type=location.encoding_type,
            feature=location.location,
            properties=None,
            feature_hash=digest,
        )
        self.session.add(feature)
        await self.session.flush()
        self.features[feature.id] = feature.feature
        from smartcity.sensing.sta.serialize import plain

        await ENTITY_CREATED.emit(
            self.session,
            EntityCreated(
                entity_set="FeaturesOfInterest",
                id=feature.id,
                entity=plain(TYPES["FeatureOfInterest"], feature),
            ),
        )
        return feature.id

    async def run(self, rows: list[ObservationRow]) -> list[int | Problem]:
        authorize(self.principal, "sensing.observation.write")
        await self.load_streams(rows)
        await self.load_features({r.feature_of_interest_id for r in rows} - {None})  # type: ignore[arg-type]
        outcomes: list[int | Problem] = []
        accepted: list[tuple[int, dict[str, Any], Stream]] = []
        for index, row in enumerate(rows):
            try:
                stream = self.stream_of(row)
                self.check(row, stream)
                feature_id = await self.feature_for(row, stream)
            except Problem as problem:
                outcomes.append(problem)
                continue
            outcomes.append(-1)
            assert row.phenomenon_time is not None
            values = {
                "phenomenon_time_start": row.phenomenon_time.start,
                "phenomenon_time_end": row.phenomenon_time.end,
                "result_time": row.result_time,
                "result_quality": row.result_quality,
                "valid_time_start": row.valid_time.start if row.valid_time else None,
                "valid_time_end": row.valid_time.end if row.valid_time else None,
                "parameters": row.parameters,
                "datastream_id": row.datastream_id,
                "multi_datastream_id": row.multi_datastream_id,
                "feature_of_interest_id": feature_id,
                **result_columns(row.result),
            }
            accepted.append((index, values, stream))
        if not accepted:
            return outcomes
        ids = await write_rows(self.session, [values for _i, values, _s in accepted])
        payloads = []
        touched: dict[int, tuple[Stream, list[dict[str, Any]]]] = {}
        for (index, values, stream), new_id in zip(accepted, ids, strict=True):
            outcomes[index] = new_id
            touched.setdefault(id(stream), (stream, []))[1].append(values)
            payloads.append(
                {
                    "entity_set": "Observations",
                    "id": new_id,
                    "entity": observation_json(new_id, values, rows[index].result),
                    "stream": {"kind": stream.kind, "id": stream.obj.id},
                }
            )
        for stream, batch in touched.values():
            widen(stream.obj, batch, self.features)
        await emit_observations(self.session, payloads)
        await self.session.flush()
        return outcomes


async def ingest_observations(
    session: AsyncSession, principal: Principal, rows: list[ObservationRow]
) -> list[int | Problem]:
    """Write Observations in one batch; the id of each accepted row, or the Problem that
    refused it (400 with the reason, 403 for a device writing another's datastream)."""
    return await Ingest(session, principal).run(rows)
