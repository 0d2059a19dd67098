"""地理空间库: places under the division tree (区 → 街道 → 社区 → 网格, then buildings,
addresses, road segments and points of interest), their geometry and point-in-polygon
resolution of a coordinate or an address to its grid."""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity
from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import DIVISIONS, SHENZHEN_DISTRICTS
from smartcity.registry import history, records, sources, stewardship
from smartcity.registry.models import Person, Place
from smartcity.registry.place_schemas import PlaceCreate, PlaceUpdate

ACTIONS = {
    "registry.place.read": {"admin", "staff", "supervisor", "system"},
    "registry.place.manage": {"admin", "staff", "system"},
}

PLACE_KINDS = ("street", "community", "grid", "building", "address", "road_segment", "poi")
AREA_KINDS = ("street", "community", "grid")
KIND_LABELS = {
    "district": N_("district"),
    "street": N_("street"),
    "community": N_("community"),
    "grid": N_("grid"),
    "building": N_("building"),
    "address": N_("address"),
    "road_segment": N_("road segment"),
    "poi": N_("point of interest"),
}


def kind_label(kind: str) -> str:
    """The kind of place in the reader's language (区, 街道, 社区, 网格 …)."""
    return _(KIND_LABELS.get(kind, kind))


# What a place of each kind may sit in; "district" is a code of core.ids, not a Place row.
PARENT_KINDS: dict[str, tuple[str, ...]] = {
    "street": ("district",),
    "community": ("street",),
    "grid": ("community",),
    "building": ("grid", "community"),
    "address": ("building", "grid", "community"),
    "road_segment": ("district", "street", "community", "grid"),
    "poi": ("building", "grid", "community", "street"),
}
_AREA = ("Polygon", "MultiPolygon")
GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "street": _AREA,
    "community": _AREA,
    "grid": _AREA,
    "building": (*_AREA, "Point"),
    "address": ("Point",),
    "poi": ("Point",),
    "road_segment": ("LineString", "MultiLineString"),
}
DISTRICT_CODES = frozenset(d.code for d in SHENZHEN_DISTRICTS)
# Shenzhen's rough extent: a geometry outside it is allowed but most likely has lon/lat
# swapped or is in GCJ-02/BD-09 rather than WGS 84.
SHENZHEN_BBOX = (113.7, 22.4, 114.7, 22.9)


# 一数一源: the geography group's source (规划和自然资源局) keeps places.
GEOGRAPHY = next(g for g in sources.groups_of("place") if g.name == "geography")


# --- geometry ----------------------------------------------------------------------------


def _bad_geometry(detail: str) -> InvalidInput:
    return InvalidInput(detail, field="geometry")


def parse_geometry(kind: str, geometry: Any) -> BaseGeometry:
    """A valid shapely geometry of the type the kind needs, in WGS 84 degrees, or a 422."""
    allowed = GEOMETRY_TYPES[kind]
    if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
        raise _bad_geometry(_("The geometry must be a GeoJSON geometry object with a type."))
    if geometry["type"] not in allowed:
        raise _bad_geometry(
            _("A {kind} needs a {allowed} geometry, not {given}.").format(
                kind=kind_label(kind), allowed=" / ".join(allowed), given=geometry["type"]
            )
        )
    try:
        geom = shape(geometry)
    except (shapely.errors.ShapelyError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise _bad_geometry(
            _("The geometry's coordinates are malformed ({error}).").format(error=exc)
        ) from exc
    if geom.is_empty:
        raise _bad_geometry(_("The geometry is empty."))
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    finite = all(math.isfinite(v) for v in geom.bounds)
    if not finite or min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        raise _bad_geometry(
            _(
                "Coordinates must be WGS 84 longitude and latitude in degrees "
                "(longitude -180 to 180, latitude -90 to 90)."
            )
        )
    if not geom.is_valid:
        raise _bad_geometry(
            _("The geometry is not valid: {reason}.").format(reason=explain_validity(geom))
        )
    return geom


def plain_geometry(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON with lists, not tuples, so stored and compared values are the same."""
    value: dict[str, Any] = orjson.loads(orjson.dumps(mapping(geom)))
    return value


def geometry_warnings(geom: BaseGeometry, parent: BaseGeometry | None = None) -> list[str]:
    """Sanity warnings that do not stop a write: outside Shenzhen, or outside the parent."""
    warnings = []
    if not box(*SHENZHEN_BBOX).covers(geom):
        warnings.append(
            _(
                "The geometry lies outside Shenzhen (113.7-114.7 E, 22.4-22.9 N): check that "
                "longitude and latitude are not swapped and that it is WGS 84, not GCJ-02."
            )
        )
    # A small tolerance: shared edges computed in floating point may stick out by a hair.
    if parent is not None and not parent.buffer(1e-7).covers(geom):
        warnings.append(_("The geometry is not inside its parent place."))
    return warnings


def point_of(geom: BaseGeometry) -> tuple[float, float]:
    """A point on the geometry: itself for a point, else a point surely inside it."""
    point = geom if geom.geom_type == "Point" else geom.representative_point()
    return float(point.x), float(point.y)  # type: ignore[attr-defined]


# --- reads -------------------------------------------------------------------------------


def readable_places(principal: Principal) -> Select[Place]:
    """Places are reference data, not personal data: every admitted caller reads them all."""
    return select(Place)


async def get_place(session: AsyncSession, principal: Principal, code: str) -> Place:
    query = readable_places(principal).where(Place.code == code)
    place = (await session.execute(query)).scalar_one_or_none()
    if place is None:
        raise NotFound(_("There is no place with code {code}.").format(code=code))
    return place


async def list_places(
    session: AsyncSession,
    principal: Principal,
    *,
    parent: str | None = None,
    kind: str | None = None,
    district: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Place], int]:
    """Places by parent, kind and district, ordered by code, with the total count."""
    query = readable_places(principal)
    if parent is not None:
        query = query.where(Place.parent_code == parent)
    if kind is not None:
        if kind not in PLACE_KINDS:
            raise InvalidInput(
                _("Unknown kind {kind}; use one of {kinds}.").format(
                    kind=kind, kinds=", ".join(PLACE_KINDS)
                ),
                field="kind",
            )
        query = query.where(Place.kind == kind)
    if district is not None:
        query = query.where(Place.district_code == district)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(Place.code).limit(limit).offset(offset))
    return list(rows.scalars()), int(total)


async def district_places(
    session: AsyncSession,
    principal: Principal,
    district_code: str | None,
    kinds: Sequence[str] = AREA_KINDS,
) -> list[Place]:
    """Streets, communities and grids of a district (or of the city), for maps and trees."""
    query = readable_places(principal).where(Place.kind.in_(kinds))
    if district_code is not None:
        query = query.where(Place.district_code == district_code)
    return list((await session.execute(query.order_by(Place.code))).scalars())


async def grid_person_counts(
    session: AsyncSession, principal: Principal, district_code: str | None = None
) -> dict[str, int]:
    """Residents per grid (an aggregate: no personal data), for the map."""
    authorize(principal, "registry.place.read")
    query = (
        select(Person.residence_place_code, func.count())
        .where(Person.residence_place_code.is_not(None))
        .group_by(Person.residence_place_code)
    )
    if district_code is not None:
        grids = select(Place.code).where(Place.kind == "grid", Place.district_code == district_code)
        query = query.where(Person.residence_place_code.in_(grids))
    return {str(code): int(n) for code, n in (await session.execute(query)).all()}


# --- writes ------------------------------------------------------------------------------


async def _place_by_code(session: AsyncSession, code: str) -> Place | None:
    query = select(Place).where(Place.code == code)
    return (await session.execute(query)).scalar_one_or_none()


def _district_problem(code: str | None, field: str) -> InvalidInput:
    return InvalidInput(
        _(
            "{code} is not a Shenzhen district code (440303 to 440311, or 4403DP for 大鹏新区)."
        ).format(code=code or "—"),
        field=field,
    )


async def _check_parent(
    session: AsyncSession, kind: str, parent_code: str | None, district_code: str | None
) -> tuple[str, str, Place | None]:
    """(district code, parent code, parent place) for a place of ``kind``, or a 422."""
    allowed = PARENT_KINDS[kind]
    if district_code is not None and district_code not in DISTRICT_CODES:
        raise _district_problem(district_code, "district_code")
    if parent_code is None or parent_code in DISTRICT_CODES:
        if "district" not in allowed:
            raise InvalidInput(
                _("A {kind} needs a parent place ({allowed}).").format(
                    kind=kind_label(kind), allowed=" / ".join(kind_label(a) for a in allowed)
                ),
                field="parent_code",
            )
        district = parent_code or district_code
        if district is None:
            raise _district_problem(None, "district_code")
        if district_code is not None and district != district_code:
            raise InvalidInput(
                _("The parent district {district} and the district code {code} differ.").format(
                    district=district, code=district_code
                ),
                field="district_code",
            )
        return district, district, None
    parent = await _place_by_code(session, parent_code)
    if parent is None:
        raise InvalidInput(
            _("There is no place with code {code}.").format(code=parent_code), field="parent_code"
        )
    if parent.kind not in allowed:
        raise InvalidInput(
            _("A {kind} cannot be inside a {parent}; its parent must be a {allowed}.").format(
                kind=kind_label(kind),
                parent=kind_label(parent.kind),
                allowed=" / ".join(kind_label(a) for a in allowed),
            ),
            field="parent_code",
        )
    if district_code is not None and district_code != parent.district_code:
        raise InvalidInput(
            _("The parent {parent} is in district {district}, not {code}.").format(
                parent=parent_code, district=parent.district_code, code=district_code
            ),
            field="district_code",
        )
    return parent.district_code, parent.code, parent


def _set_geometry(place: Place, geom: BaseGeometry) -> None:
    place.geometry = plain_geometry(geom)
    place.min_lon, place.min_lat, place.max_lon, place.max_lat = (float(v) for v in geom.bounds)


async def _add_version(
    session: AsyncSession,
    principal: Principal,
    place: Place,
    *,
    changes: dict[str, Any],
    reason: str,
) -> None:
    await history.write_version(
        session,
        principal,
        "place",
        place,
        changes=changes,
        attribute_group=GEOGRAPHY.name,
        source_department_code=GEOGRAPHY.department_code,
        reason=reason,
    )
    await session.flush()


async def create_place(session: AsyncSession, principal: Principal, data: PlaceCreate) -> Place:
    """Add a place under an existing parent, with a valid geometry (地理空间库 登记)."""
    authorize(principal, "registry.place.manage")
    await stewardship.require_source(session, principal, [GEOGRAPHY])
    if await _place_by_code(session, data.code) is not None:
        raise Conflict(
            _("A place with code {code} already exists.").format(code=data.code), field="code"
        )
    district, parent_code, _parent = await _check_parent(
        session, data.kind, data.parent_code, data.district_code
    )
    geom = parse_geometry(data.kind, data.geometry)
    now = clock.now()
    place = Place(
        code=data.code,
        kind=data.kind,
        name=data.name.strip(),
        parent_code=parent_code,
        district_code=district,
        properties=dict(data.properties),
        version=1,
        created_at=now,
        updated_at=now,
    )
    _set_geometry(place, geom)
    session.add(place)
    await session.flush()
    await _add_version(session, principal, place, changes={}, reason="")
    await audit.log(session, principal, "registry.place.create", target=f"place:{place.code}")
    return place


async def update_place(
    session: AsyncSession, principal: Principal, code: str, data: PlaceUpdate
) -> Place:
    """Change a place's name, parent, geometry or properties, keeping its history."""
    authorize(principal, "registry.place.manage")
    await stewardship.require_source(session, principal, [GEOGRAPHY])
    place = await get_place(session, principal, code)
    before = records.snapshot("place", place)
    if data.name is not None:
        place.name = data.name.strip()
    if data.parent_code is not None and data.parent_code != place.parent_code:
        # Moving across districts would leave the children's district codes wrong.
        _district, place.parent_code, _parent = await _check_parent(
            session, place.kind, data.parent_code, place.district_code
        )
    if data.geometry is not None:
        _set_geometry(place, parse_geometry(place.kind, data.geometry))
    if data.properties is not None:
        place.properties = dict(data.properties)
    after = records.snapshot("place", place)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changes:
        return place
    place.version += 1
    place.updated_at = clock.now()
    await session.flush()
    forget_geometry(place.code)
    await _add_version(session, principal, place, changes=changes, reason=data.reason)
    await audit.log(
        session,
        principal,
        "registry.place.update",
        target=f"place:{place.code}",
        fields=sorted(changes),
    )
    return place


async def warnings_for(session: AsyncSession, place: Place) -> list[str]:
    """The sanity warnings of a stored place (outside Shenzhen, outside its parent)."""
    if place.geometry is None:
        return []
    parent_geom = None
    if place.parent_code and place.parent_code not in DISTRICT_CODES:
        parent = await _place_by_code(session, place.parent_code)
        if parent is not None and parent.geometry is not None:
            parent_geom = shape(parent.geometry)
    return geometry_warnings(shape(place.geometry), parent_geom)


def place_feature(place: Place, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """A place as a GeoJSON Feature."""
    bbox = None
    if place.min_lon is not None:
        bbox = [place.min_lon, place.min_lat, place.max_lon, place.max_lat]
    district = DIVISIONS.get(place.district_code)
    return {
        "type": "Feature",
        "id": place.code,
        "bbox": bbox,
        "geometry": place.geometry,
        "properties": {
            "code": place.code,
            "kind": place.kind,
            "name": place.name,
            "parent_code": place.parent_code,
            "district_code": place.district_code,
            "district_name": district.name if district else "",
            "version": place.version,
            **{k: v for k, v in (place.properties or {}).items() if k not in ("code", "kind")},
        },
        "warnings": list(warnings),
    }


# --- point-in-polygon --------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceRef:
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class ResolvedPlace:
    """Where a point lies: its grid (网格) and the community, street and district above it."""

    lon: float
    lat: float
    grid: PlaceRef
    community: PlaceRef | None
    street: PlaceRef | None
    district: PlaceRef
    address: PlaceRef | None = None

    @property
    def chain(self) -> list[PlaceRef]:
        """Grid first, district last."""
        return [p for p in (self.grid, self.community, self.street, self.district) if p]


# Prepared geometries of grids, per process, keyed by code and checked against the row's id
# and version: an update anywhere (another process too) bumps the version, and a place
# created anew (after a rollback) has a new id, so a stale entry is never used;
# update_place also drops it here at once.
_PREPARED: dict[str, tuple[tuple[uuid.UUID, int], BaseGeometry]] = {}
_PREPARED_MAX = 200_000


def forget_geometry(code: str | None = None) -> None:
    """Drop a cached geometry (or all of them)."""
    if code is None:
        _PREPARED.clear()
    else:
        _PREPARED.pop(code, None)


def _prepared(code: str, stamp: tuple[uuid.UUID, int], geometry: dict[str, Any]) -> BaseGeometry:
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.clear()
    geom = shape(geometry)
    shapely.prepare(geom)
    _PREPARED[code] = (stamp, geom)
    return geom


def check_point(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (
        -180 <= lon <= 180 and -90 <= lat <= 90
    ):
        raise InvalidInput(
            _("Give WGS 84 longitude (-180 to 180) and latitude (-90 to 90) in degrees."),
            field="lon",
        )


async def _ancestors(
    session: AsyncSession, parent_code: str | None
) -> tuple[PlaceRef | None, PlaceRef | None]:
    """(community, street) above a grid."""
    found: dict[str, PlaceRef] = {}
    code = parent_code
    # At most community → street → district; the bound stops a malformed loop.
    for _step in range(3):
        if code is None or code in DISTRICT_CODES:
            break
        query = select(Place.code, Place.name, Place.kind, Place.parent_code).where(
            Place.code == code
        )
        row = (await session.execute(query)).first()
        if row is None:
            break
        found[row.kind] = PlaceRef(row.code, row.name, row.kind)
        code = row.parent_code
    return found.get("community"), found.get("street")


async def resolve_point(session: AsyncSession, lon: float, lat: float) -> ResolvedPlace | None:
    """The grid containing a WGS 84 point and its chain up to the district, or None."""
    check_point(lon, lat)
    query = (
        select(
            Place.id,
            Place.code,
            Place.version,
            Place.name,
            Place.parent_code,
            Place.district_code,
        )
        .where(
            Place.kind == "grid",
            Place.min_lon <= lon,
            Place.max_lon >= lon,
            Place.min_lat <= lat,
            Place.max_lat >= lat,
        )
        .order_by(Place.code)
    )
    candidates = (await session.execute(query)).all()
    if not candidates:
        return None
    stale = [c.code for c in candidates if _PREPARED.get(c.code, (None,))[0] != (c.id, c.version)]
    if stale:
        geometries = await session.execute(
            select(Place.code, Place.id, Place.version, Place.geometry).where(Place.code.in_(stale))
        )
        for code, place_id, version, geometry in geometries.all():
            if geometry is not None:
                _prepared(code, (place_id, version), geometry)
    for candidate in candidates:
        cached = _PREPARED.get(candidate.code)
        # intersects, not contains: a point on a grid's edge belongs to a grid (the first
        # by code), not to none.
        if cached is not None and shapely.intersects_xy(cached[1], lon, lat):
            community, street = await _ancestors(session, candidate.parent_code)
            info = DIVISIONS.get(candidate.district_code)
            return ResolvedPlace(
                lon=lon,
                lat=lat,
                grid=PlaceRef(candidate.code, candidate.name, "grid"),
                community=community,
                street=street,
                district=PlaceRef(
                    candidate.district_code,
                    info.name if info else candidate.district_code,
                    "district",
                ),
            )
    return None


async def resolve_address(session: AsyncSession, text: str) -> ResolvedPlace | None:
    """An address place matching the text (exactly, else the longest contained in it),
    resolved to its grid through its point; None when nothing matches or no grid holds it."""
    text = "".join(text.split())
    if not text:
        return None
    exact = select(Place).where(Place.kind == "address", Place.name == text).order_by(Place.code)
    place = (await session.execute(exact.limit(1))).scalar_one_or_none()
    if place is None:
        contained = (
            select(Place)
            .where(Place.kind == "address", literal(text).contains(Place.name))
            .order_by(func.length(Place.name).desc(), Place.code)
        )
        place = (await session.execute(contained.limit(1))).scalar_one_or_none()
    if place is None or place.geometry is None:
        return None
    lon, lat = point_of(shape(place.geometry))
    resolved = await resolve_point(session, lon, lat)
    if resolved is None:
        return None
    return dataclasses.replace(resolved, address=PlaceRef(place.code, place.name, place.kind))


class GridIndex:
    """All grids in memory (an STR tree) for resolving many points at once, as imports do."""

    def __init__(self, codes: list[str], geometries: list[BaseGeometry]) -> None:
        self.codes = codes
        self.code_set = frozenset(codes)
        self.tree = shapely.STRtree(geometries)

    @classmethod
    async def load(cls, session: AsyncSession) -> GridIndex:
        query = (
            select(Place.code, Place.geometry)
            .where(Place.kind == "grid", Place.geometry.is_not(None))
            .order_by(Place.code)
        )
        rows = (await session.execute(query)).all()
        return cls([r.code for r in rows], [shape(r.geometry) for r in rows])

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon: float, lat: float) -> str | None:
        """The grid code holding the point (the first by code on a shared edge), or None."""
        if not self.codes:
            return None
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self.codes[int(min(hits))] if len(hits) else None
