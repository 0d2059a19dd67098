"""The SensorThings data model as data: entity types, their properties and navigation
properties, and how each navigation joins in SQL. Paths, filters, serialization and the
create/update/delete rules all read this one description."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, exists, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnClause

from smartcity.core.errors import Problem
from smartcity.sensing import models as m

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
OM_MEASUREMENT = OM + "OM_Measurement"
OM_COUNT = OM + "OM_CountObservation"
OM_TRUTH = OM + "OM_TruthObservation"
OM_CATEGORY = OM + "OM_CategoryObservation"
OM_OBSERVATION = OM + "OM_Observation"
OM_COMPLEX = OM + "OM_ComplexObservation"
GEOJSON_TYPES = ("application/vnd.geo+json", "application/geo+json")
# Ids and integers bound to SQL stay within BIGINT.
MAX_ID = 2**63 - 1


class BadRequest(Problem):
    """400: the SensorThings clients expect a 400 for bad query options and bad entities."""

    status, slug, title = 400, "bad-request", "Bad request"


class QueryTooCostly(Problem):
    """400: a query whose answer would cost more than this service spends on one request
    (nested $expand deeper than the limit, or more entities than one response holds)."""

    status, slug, title = 400, "query-too-costly", "Query too costly"


class NotImplementedOption(Problem):
    """501 for query options this service does not support (request-data/query-status-code)."""

    status, slug, title = 501, "not-implemented", "Not implemented"


@dataclass(frozen=True)
class Prop:
    """A property of an entity type.

    kind: ``id`` | ``string`` | ``json`` (object or any JSON; sub-paths allowed) | ``geometry``
    (GeoJSON, possibly a Feature) | ``instant`` | ``interval`` (start/end columns; an
    Observation's phenomenonTime may be an instant: ``end`` null) | ``result``.
    """

    name: str
    kind: str
    column: str = ""  # model attribute; for intervals the start
    end_column: str = ""  # intervals only
    required: bool = False
    # Not set by clients: kept by the service (Datastream time ranges may still be given).
    computed: bool = False
    nullable: bool = True


@dataclass(frozen=True)
class Nav:
    """A navigation property. ``how``: ``here`` (a foreign key on this table), ``there`` (a
    foreign key on the target table) or ``assoc`` (an association table)."""

    name: str
    target: str
    many: bool
    how: str
    column: str  # here: our FK attribute; there: the target's FK attribute
    assoc: Table | None = None
    assoc_local: str = ""
    assoc_remote: str = ""
    inverse: str = ""
    required: bool = False


@dataclass
class EntityType:
    name: str
    set_name: str
    model: Any
    props: dict[str, Prop] = field(default_factory=dict)
    navs: dict[str, Nav] = field(default_factory=dict)

    def prop(self, name: str) -> Prop | None:
        if name in ("id", "@iot.id"):
            return self.props["id"]
        return self.props.get(name)


def _props(*props: Prop) -> dict[str, Prop]:
    return {p.name: p for p in (Prop("id", "id", "id", computed=True, nullable=False), *props)}


_NAME = Prop("name", "string", "name", required=True, nullable=False)
_DESCRIPTION = Prop("description", "string", "description", required=True, nullable=False)
_PROPERTIES = Prop("properties", "json", "properties")
_ENCODING = Prop("encodingType", "string", "encoding_type", required=True, nullable=False)

_mdop = m.StaMultiDatastreamObservedProperty.__table__
assert isinstance(_mdop, Table)

TYPES: dict[str, EntityType] = {
    "Thing": EntityType(
        "Thing",
        "Things",
        m.StaThing,
        _props(_NAME, _DESCRIPTION, _PROPERTIES),
        {
            "Locations": Nav(
                "Locations",
                "Location",
                True,
                "assoc",
                "",
                m.thing_location,
                "thing_id",
                "location_id",
                "Things",
            ),
            "HistoricalLocations": Nav(
                "HistoricalLocations",
                "HistoricalLocation",
                True,
                "there",
                "thing_id",
                inverse="Thing",
            ),
            "Datastreams": Nav(
                "Datastreams", "Datastream", True, "there", "thing_id", inverse="Thing"
            ),
            "MultiDatastreams": Nav(
                "MultiDatastreams", "MultiDatastream", True, "there", "thing_id", inverse="Thing"
            ),
        },
    ),
    "Location": EntityType(
        "Location",
        "Locations",
        m.StaLocation,
        _props(
            _NAME,
            _DESCRIPTION,
            _ENCODING,
            Prop("location", "geometry", "location", required=True, nullable=False),
            _PROPERTIES,
        ),
        {
            "Things": Nav(
                "Things",
                "Thing",
                True,
                "assoc",
                "",
                m.thing_location,
                "location_id",
                "thing_id",
                "Locations",
            ),
            "HistoricalLocations": Nav(
                "HistoricalLocations",
                "HistoricalLocation",
                True,
                "assoc",
                "",
                m.historical_location_location,
                "location_id",
                "historical_location_id",
                "Locations",
            ),
        },
    ),
    "HistoricalLocation": EntityType(
        "HistoricalLocation",
        "HistoricalLocations",
        m.StaHistoricalLocation,
        _props(Prop("time", "instant", "time", required=True, nullable=False)),
        {
            "Thing": Nav(
                "Thing",
                "Thing",
                False,
                "here",
                "thing_id",
                inverse="HistoricalLocations",
                required=True,
            ),
            "Locations": Nav(
                "Locations",
                "Location",
                True,
                "assoc",
                "",
                m.historical_location_location,
                "historical_location_id",
                "location_id",
                "HistoricalLocations",
            ),
        },
    ),
    "Sensor": EntityType(
        "Sensor",
        "Sensors",
        m.StaSensor,
        _props(
            _NAME,
            _DESCRIPTION,
            _ENCODING,
            Prop("metadata", "json", "sensor_metadata", required=True),
            _PROPERTIES,
        ),
        {
            "Datastreams": Nav(
                "Datastreams", "Datastream", True, "there", "sensor_id", inverse="Sensor"
            ),
            "MultiDatastreams": Nav(
                "MultiDatastreams",
                "MultiDatastream",
                True,
                "there",
                "sensor_id",
                inverse="Sensor",
            ),
        },
    ),
    "ObservedProperty": EntityType(
        "ObservedProperty",
        "ObservedProperties",
        m.StaObservedProperty,
        _props(
            _NAME,
            Prop("definition", "string", "definition", required=True, nullable=False),
            _DESCRIPTION,
            _PROPERTIES,
        ),
        {
            "Datastreams": Nav(
                "Datastreams",
                "Datastream",
                True,
                "there",
                "observed_property_id",
                inverse="ObservedProperty",
            ),
            "MultiDatastreams": Nav(
                "MultiDatastreams",
                "MultiDatastream",
                True,
                "assoc",
                "",
                _mdop,
                "observed_property_id",
                "multi_datastream_id",
                "ObservedProperties",
            ),
        },
    ),
    "Datastream": EntityType(
        "Datastream",
        "Datastreams",
        m.StaDatastream,
        _props(
            _NAME,
            _DESCRIPTION,
            Prop("unitOfMeasurement", "json", "unit_of_measurement", required=True),
            Prop("observationType", "string", "observation_type", required=True, nullable=False),
            Prop("observedArea", "geometry", "observed_area", computed=True),
            Prop(
                "phenomenonTime",
                "interval",
                "phenomenon_time_start",
                "phenomenon_time_end",
                computed=True,
            ),
            Prop("resultTime", "interval", "result_time_start", "result_time_end", computed=True),
            _PROPERTIES,
        ),
        {
            "Thing": Nav(
                "Thing", "Thing", False, "here", "thing_id", inverse="Datastreams", required=True
            ),
            "Sensor": Nav(
                "Sensor", "Sensor", False, "here", "sensor_id", inverse="Datastreams", required=True
            ),
            "ObservedProperty": Nav(
                "ObservedProperty",
                "ObservedProperty",
                False,
                "here",
                "observed_property_id",
                inverse="Datastreams",
                required=True,
            ),
            "Observations": Nav(
                "Observations", "Observation", True, "there", "datastream_id", inverse="Datastream"
            ),
        },
    ),
    "MultiDatastream": EntityType(
        "MultiDatastream",
        "MultiDatastreams",
        m.StaMultiDatastream,
        _props(
            _NAME,
            _DESCRIPTION,
            Prop(
                "unitOfMeasurements", "json", "unit_of_measurements", required=True, nullable=False
            ),
            Prop("observationType", "string", "observation_type", required=True, nullable=False),
            Prop(
                "multiObservationDataTypes",
                "json",
                "multi_observation_data_types",
                required=True,
                nullable=False,
            ),
            Prop("observedArea", "geometry", "observed_area", computed=True),
            Prop(
                "phenomenonTime",
                "interval",
                "phenomenon_time_start",
                "phenomenon_time_end",
                computed=True,
            ),
            Prop("resultTime", "interval", "result_time_start", "result_time_end", computed=True),
            _PROPERTIES,
        ),
        {
            "Thing": Nav(
                "Thing",
                "Thing",
                False,
                "here",
                "thing_id",
                inverse="MultiDatastreams",
                required=True,
            ),
            "Sensor": Nav(
                "Sensor",
                "Sensor",
                False,
                "here",
                "sensor_id",
                inverse="MultiDatastreams",
                required=True,
            ),
            "ObservedProperties": Nav(
                "ObservedProperties",
                "ObservedProperty",
                True,
                "assoc",
                "",
                _mdop,
                "multi_datastream_id",
                "observed_property_id",
                "MultiDatastreams",
                required=True,
            ),
            "Observations": Nav(
                "Observations",
                "Observation",
                True,
                "there",
                "multi_datastream_id",
                inverse="MultiDatastream",
            ),
        },
    ),
    "Observation": EntityType(
        "Observation",
        "Observations",
        m.StaObservation,
        _props(
            Prop(
                "phenomenonTime",
                "interval",
                "phenomenon_time_start",
                "phenomenon_time_end",
                nullable=False,
            ),
            Prop("resultTime", "instant", "result_time"),
            Prop("result", "result", "result_json", required=True),
            Prop("resultQuality", "json", "result_quality"),
            Prop("validTime", "interval", "valid_time_start", "valid_time_end"),
            Prop("parameters", "json", "parameters"),
        ),
        {
            "Datastream": Nav(
                "Datastream", "Datastream", False, "here", "datastream_id", inverse="Observations"
            ),
            "MultiDatastream": Nav(
                "MultiDatastream",
                "MultiDatastream",
                False,
                "here",
                "multi_datastream_id",
                inverse="Observations",
            ),
            "FeatureOfInterest": Nav(
                "FeatureOfInterest",
                "FeatureOfInterest",
                False,
                "here",
                "feature_of_interest_id",
                inverse="Observations",
            ),
        },
    ),
    "FeatureOfInterest": EntityType(
        "FeatureOfInterest",
        "FeaturesOfInterest",
        m.StaFeatureOfInterest,
        _props(
            _NAME,
            _DESCRIPTION,
            _ENCODING,
            Prop("feature", "geometry", "feature", required=True, nullable=False),
            _PROPERTIES,
        ),
        {
            "Observations": Nav(
                "Observations",
                "Observation",
                True,
                "there",
                "feature_of_interest_id",
                inverse="FeatureOfInterest",
            ),
        },
    ),
}

BY_SET: dict[str, EntityType] = {t.set_name: t for t in TYPES.values()}
SET_ORDER = [
    "Things",
    "Locations",
    "HistoricalLocations",
    "Datastreams",
    "MultiDatastreams",
    "Sensors",
    "Observations",
    "ObservedProperties",
    "FeaturesOfInterest",
]


def col(source: Any, name: str) -> ColumnElement[Any]:
    """The column ``name`` of a mapped class or an alias of one."""
    value: ColumnElement[Any] = getattr(source, name)
    return value


def nav_target(nav: Nav) -> EntityType:
    return TYPES[nav.target]


def related_condition(nav: Nav, parent_id: int) -> ColumnElement[bool]:
    """A condition on the target type: 'is related to the parent with this id'."""
    target = nav_target(nav).model
    owner_type = TYPES[nav_owner(nav)]
    if nav.how == "there":
        return col(target, nav.column) == parent_id
    if nav.how == "here":
        fk = select(col(owner_type.model, nav.column)).where(owner_type.model.id == parent_id)
        return col(target, "id") == fk.scalar_subquery()
    assert nav.assoc is not None
    assoc_ids = select(nav.assoc.c[nav.assoc_remote]).where(
        nav.assoc.c[nav.assoc_local] == parent_id
    )
    return col(target, "id").in_(assoc_ids)


_OWNERS: dict[int, str] = {id(n): t.name for t in TYPES.values() for n in t.navs.values()}


def nav_owner(nav: Nav) -> str:
    return _OWNERS[id(nav)]


def join_step(nav: Nav, source: Any) -> tuple[Any, list[Any], list[ColumnElement[bool]]]:
    """Join one navigation from ``source`` (a mapped class or alias): the new alias, the extra
    FROM objects it needs and the join conditions."""
    target_alias = aliased(nav_target(nav).model)
    if nav.how == "here":
        return target_alias, [target_alias], [col(target_alias, "id") == col(source, nav.column)]
    if nav.how == "there":
        return target_alias, [target_alias], [col(target_alias, nav.column) == col(source, "id")]
    assert nav.assoc is not None
    link = nav.assoc.alias()
    local: ColumnClause[Any] = link.c[nav.assoc_local]
    remote: ColumnClause[Any] = link.c[nav.assoc_remote]
    return (
        target_alias,
        [link, target_alias],
        [local == col(source, "id"), remote == col(target_alias, "id")],
    )


def exists_through(root: Any, navs: list[Nav], build: Any) -> tuple[ColumnElement[bool], Any]:
    """EXISTS over a chain of navigations from ``root``; ``build(alias)`` gives the condition
    on the last alias. Used for filters through navigation paths ("any" semantics)."""
    froms: list[Any] = []
    conditions: list[ColumnElement[bool]] = []
    source = root
    for nav in navs:
        source, extra, joins = join_step(nav, source)
        froms.extend(extra)
        conditions.extend(joins)
    condition = build(source)
    return exists(select(1).select_from(*froms).where(and_(*conditions, condition))), source


@dataclass(frozen=True)
class Resolved:
    """A property path resolved against an entity type: the navigations to follow, the
    type reached, its property, and a sub-path inside a JSON property."""

    navs: tuple[Nav, ...]
    etype: EntityType
    prop: Prop
    subpath: tuple[str, ...] = ()

    @property
    def many(self) -> bool:
        return any(n.many for n in self.navs)


def resolve_path(etype: EntityType, segments: tuple[str, ...]) -> Resolved:
    """``Datastream/Thing/name`` from Observation, ``properties/owner`` from Thing; a 400 for
    names the type does not have."""
    navs: list[Nav] = []
    current = etype
    i = 0
    while i < len(segments) and segments[i] in current.navs:
        nav = current.navs[segments[i]]
        navs.append(nav)
        current = nav_target(nav)
        i += 1
    if i == len(segments):
        raise BadRequest(
            f"'{'/'.join(segments)}' ends on a navigation property; name a property of "
            f"{current.name}, e.g. {'/'.join(segments)}/id."
        )
    prop = current.prop(segments[i])
    if prop is None:
        raise BadRequest(f"{current.name} has no property or navigation '{segments[i]}'.")
    subpath = tuple(segments[i + 1 :])
    if subpath and prop.kind not in ("json", "result", "geometry"):
        raise BadRequest(f"{current.name}/{prop.name} has no sub-properties.")
    return Resolved(tuple(navs), current, prop, subpath)
