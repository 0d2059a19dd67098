"""Road networks in: SUMO ``.net.xml`` and GeoJSON, parsed into plain ``RoadSegment`` and
``Intersection`` records (no database here). Both refuse what they cannot read with a
``NetworkError`` that says what and where: a file too large, too deep, not XML, an edge
without lanes, a coordinate out of range.

SUMO: every ``<edge>`` that is not internal (``function="internal"`` and ids starting with
":" are SUMO's own junction-internal edges) becomes a segment coded by its ``id`` (with an
optional prefix); its lanes give the count, the length (the first lane's), the free-flow
speed (the lanes' ``speed``, m/s → km/h); its shape is the lane shapes' middle one, or the
junctions' coordinates; ``type`` maps to a road class (highway.motorway → expressway…).
Coordinates are projected back to WGS 84 when the ``<location>`` has a ``projParameter``
of UTM (the only one read here) and kept as the net's own x/y (metres) otherwise, with
``projected=False`` so the caller knows. Junctions of ``type="traffic_light"`` become
intersections with their ``tlLogic`` programme ids.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from smartcity.traffic.types import ROAD_CLASSES, SEGMENT_CODE_MAX

MAX_NET_BYTES = 50 * 1024 * 1024
MAX_GEOJSON_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 12
MAX_SEGMENTS = 50_000
MAX_POINTS = 2_000
CODE_RE = re.compile(r"^[A-Za-z0-9_\-.#:]{1," + str(SEGMENT_CODE_MAX) + r"}$")


class NetworkError(ValueError):
    """A network file the importer cannot take; the message says why."""


@dataclass(frozen=True)
class RoadSegment:
    code: str
    name: str
    name_en: str
    road_class: str
    lanes: int
    length_m: float
    free_flow_kmh: float
    speed_limit_kmh: float
    coordinates: tuple[tuple[float, float], ...]  # (lon, lat) WGS 84, or net x/y
    district_code: str = ""
    from_node: str = ""
    to_node: str = ""


@dataclass(frozen=True)
class Intersection:
    code: str
    name: str
    lon: float
    lat: float
    signal_programs: tuple[str, ...] = ()
    name_en: str = ""


@dataclass
class Network:
    segments: list[RoadSegment] = field(default_factory=list)
    intersections: list[Intersection] = field(default_factory=list)
    projected: bool = True  # coordinates are WGS 84


def road_class_of(sumo_type: str) -> str:
    kind = sumo_type.lower()
    if any(k in kind for k in ("motorway", "trunk", "expressway")):
        return "expressway"
    if any(k in kind for k in ("primary", "arterial")):
        return "arterial"
    if any(k in kind for k in ("secondary", "tertiary")):
        return "secondary"
    return "local" if kind else "arterial"


def _float(value: str | None, what: str) -> float:
    try:
        number = float(value or "")
    except ValueError:
        raise NetworkError(f"{what}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise NetworkError(f"{what}: {value!r} is not a finite number")
    return number


def _shape(text: str, what: str) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for pair in text.split():
        parts = pair.split(",")
        if len(parts) < 2:
            raise NetworkError(f"{what}: the shape point {pair!r} is not x,y")
        points.append((_float(parts[0], what), _float(parts[1], what)))
        if len(points) > MAX_POINTS:
            raise NetworkError(f"{what}: more than {MAX_POINTS} shape points")
    return points


def _check_code(code: str, what: str) -> str:
    if not CODE_RE.match(code):
        raise NetworkError(
            f"{what}: the id {code[:40]!r} is not 1-{SEGMENT_CODE_MAX} letters, digits or _-.#:"
        )
    return code


class _Utm:
    """UTM → WGS 84 (the inverse of the transverse Mercator on the WGS 84 ellipsoid)."""

    def __init__(self, zone: int, south: bool) -> None:
        self.lon0 = math.radians(zone * 6 - 183)
        self.south = south

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        a, f, k0 = 6378137.0, 1 / 298.257223563, 0.9996
        e2 = f * (2 - f)
        ep2 = e2 / (1 - e2)
        x -= 500000.0
        if self.south:
            y -= 10000000.0
        m = y / k0
        mu = m / (a * (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256))
        e1 = (1 - math.sqrt(1 - e2)) / (1 + math.sqrt(1 - e2))
        phi1 = (
            mu
            + (3 * e1 / 2 - 27 * e1**3 / 32) * math.sin(2 * mu)
            + (21 * e1**2 / 16 - 55 * e1**4 / 32) * math.sin(4 * mu)
            + (151 * e1**3 / 96) * math.sin(6 * mu)
        )
        n1 = a / math.sqrt(1 - e2 * math.sin(phi1) ** 2)
        t1 = math.tan(phi1) ** 2
        c1 = ep2 * math.cos(phi1) ** 2
        r1 = a * (1 - e2) / (1 - e2 * math.sin(phi1) ** 2) ** 1.5
        d = x / (n1 * k0)
        lat = phi1 - (n1 * math.tan(phi1) / r1) * (
            d**2 / 2
            - (5 + 3 * t1 + 10 * c1 - 4 * c1**2 - 9 * ep2) * d**4 / 24
            + (61 + 90 * t1 + 298 * c1 + 45 * t1**2 - 252 * ep2 - 3 * c1**2) * d**6 / 720
        )
        lon = self.lon0 + (
            d
            - (1 + 2 * t1 + c1) * d**3 / 6
            + (5 - 2 * c1 + 28 * t1 - 3 * c1**2 + 8 * ep2 + 24 * t1**2) * d**5 / 120
        ) / math.cos(phi1)
        return round(math.degrees(lon), 7), round(math.degrees(lat), 7)


def _depth_checked(data: bytes) -> ET.Element:
    """Parse with a depth bound and no DTD (no entities: a DOCTYPE is refused)."""
    if not data.strip():
        raise NetworkError("the network file is empty")
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise NetworkError("the network file has a DOCTYPE or entities, which are refused")
    parser: Any = ET.XMLPullParser(events=("start", "end"))
    depth = 0
    root: ET.Element | None = None
    try:
        for start in range(0, len(data), 1 << 16):
            parser.feed(data[start : start + (1 << 16)])
            for event, element in parser.read_events():
                if event == "start":
                    depth += 1
                    if root is None:
                        root = element
                    if depth > MAX_DEPTH:
                        raise NetworkError(f"the network file nests deeper than {MAX_DEPTH}")
                else:
                    depth -= 1
        parser.close()
    except ET.ParseError as exc:
        raise NetworkError(f"the network file is not well-formed XML: {exc}") from None
    if root is None:
        raise NetworkError("the network file is empty")
    return root


def parse_sumo_net(data: bytes, *, prefix: str = "") -> Network:
    """The segments and signalised intersections of a SUMO network file."""
    if len(data) > MAX_NET_BYTES:
        raise NetworkError(f"the network file is larger than {MAX_NET_BYTES // 1048576} MiB")
    root = _depth_checked(data)
    if root.tag != "net":
        raise NetworkError(f"not a SUMO network: the root element is <{root.tag}>, not <net>")
    project = None
    offset = (0.0, 0.0)
    location = root.find("location")
    if location is not None:
        parts = (location.get("netOffset") or "0,0").split(",")
        if len(parts) != 2:
            raise NetworkError("<location netOffset> is not x,y")
        offset = (_float(parts[0], "netOffset"), _float(parts[1], "netOffset"))
        proj = location.get("projParameter") or ""
        utm = re.search(r"\+proj=utm\s+\+zone=(\d{1,2})", proj)
        if utm:
            project = _Utm(int(utm.group(1)), "+south" in proj)

    def to_lonlat(point: tuple[float, float]) -> tuple[float, float]:
        x, y = point[0] - offset[0], point[1] - offset[1]
        if project is None:
            return (round(point[0], 2), round(point[1], 2))
        return project(x, y)

    junctions: dict[str, tuple[float, float]] = {}
    signals: dict[str, list[str]] = {}
    for tl in root.iter("tlLogic"):
        tl_id = tl.get("id") or ""
        signals.setdefault(tl_id, []).append(tl.get("programID") or "0")
    intersections: list[Intersection] = []
    for junction in root.iter("junction"):
        jid = junction.get("id") or ""
        if not jid or junction.get("type") == "internal" or jid.startswith(":"):
            continue
        point = (_float(junction.get("x"), f"junction {jid}"), _float(junction.get("y"), jid))
        junctions[jid] = point
        if junction.get("type") == "traffic_light":
            lon, lat = to_lonlat(point)
            intersections.append(
                Intersection(
                    code=_check_code(prefix + jid, f"junction {jid}"),
                    name=jid,
                    lon=lon,
                    lat=lat,
                    signal_programs=tuple(signals.get(jid, ())),
                )
            )
    segments: list[RoadSegment] = []
    seen: set[str] = set()
    for edge in root.iter("edge"):
        eid = edge.get("id") or ""
        if edge.get("function") in ("internal", "crossing", "walkingarea") or eid.startswith(":"):
            continue
        what = f"edge {eid[:40]!r}"
        code = _check_code(prefix + eid, what)
        if code in seen:
            raise NetworkError(f"{what} appears twice")
        seen.add(code)
        lanes = edge.findall("lane")
        if not lanes:
            raise NetworkError(f"{what} has no <lane>")
        speeds = [_float(lane.get("speed"), f"{what} lane speed") for lane in lanes]
        length = _float(lanes[0].get("length"), f"{what} lane length")
        if length <= 0 or min(speeds) <= 0:
            raise NetworkError(f"{what}: a lane's length or speed is not positive")
        shape_text = edge.get("shape") or lanes[len(lanes) // 2].get("shape") or ""
        points = _shape(shape_text, what) if shape_text else []
        if len(points) < 2:
            ends = [junctions.get(edge.get("from") or ""), junctions.get(edge.get("to") or "")]
            points = [p for p in ends if p is not None]
        if len(points) < 2:
            raise NetworkError(f"{what} has no shape and no junctions to draw it")
        kmh = round(max(speeds) * 3.6, 1)
        segments.append(
            RoadSegment(
                code=code,
                name=edge.get("name") or eid,
                name_en=edge.get("name") or eid,
                road_class=road_class_of(edge.get("type") or ""),
                lanes=len(lanes),
                length_m=round(length, 1),
                free_flow_kmh=kmh,
                speed_limit_kmh=kmh,
                coordinates=tuple(to_lonlat(p) for p in points),
                from_node=edge.get("from") or "",
                to_node=edge.get("to") or "",
            )
        )
        if len(segments) > MAX_SEGMENTS:
            raise NetworkError(f"the network has more than {MAX_SEGMENTS} edges")
    if not segments:
        raise NetworkError("the network has no road edges")
    return Network(segments=segments, intersections=intersections, projected=project is not None)


def _haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def polyline_length_m(points: tuple[tuple[float, float], ...]) -> float:
    return sum(_haversine_m(a, b) for a, b in itertools.pairwise(points))


def _number(props: dict[str, Any], key: str, what: str, low: float, high: float) -> float:
    value = props.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NetworkError(f"{what}: '{key}' must be a number")
    if not low <= float(value) <= high:
        raise NetworkError(f"{what}: '{key}' must be between {low:g} and {high:g}")
    return float(value)


def parse_geojson(data: bytes) -> Network:
    """Segments from a GeoJSON FeatureCollection of LineStrings whose properties give
    ``code``, ``name`` (``name_en``), ``road_class``, ``lanes``, ``free_flow_kmh`` and
    ``speed_limit_kmh`` (``length_m`` optional: measured along the line when absent)."""
    if len(data) > MAX_GEOJSON_BYTES:
        raise NetworkError(f"the GeoJSON file is larger than {MAX_GEOJSON_BYTES // 1048576} MiB")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NetworkError(f"the GeoJSON file is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise NetworkError("the GeoJSON file is not a FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise NetworkError("the FeatureCollection has no 'features' list")
    if len(features) > MAX_SEGMENTS:
        raise NetworkError(f"more than {MAX_SEGMENTS} features")
    network = Network()
    seen: set[str] = set()
    for number, feature in enumerate(features):
        what = f"feature {number}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise NetworkError(f"{what} is not a Feature")
        props = feature.get("properties")
        geometry = feature.get("geometry")
        if not isinstance(props, dict) or not isinstance(geometry, dict):
            raise NetworkError(f"{what} has no properties or geometry")
        code = props.get("code")
        if not isinstance(code, str):
            raise NetworkError(f"{what}: 'code' must be a string")
        what = f"feature {number} ({code[:40]!r})"
        _check_code(code, what)
        if code in seen:
            raise NetworkError(f"{what}: the code appears twice")
        seen.add(code)
        if geometry.get("type") != "LineString":
            raise NetworkError(f"{what}: the geometry must be a LineString")
        coords = geometry.get("coordinates")
        if not isinstance(coords, list) or not 2 <= len(coords) <= MAX_POINTS:
            raise NetworkError(f"{what}: a LineString needs 2-{MAX_POINTS} positions")
        points: list[tuple[float, float]] = []
        for position in coords:
            if (
                not isinstance(position, list)
                or len(position) < 2
                or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in position[:2]
                )
            ):
                raise NetworkError(f"{what}: a position is not [lon, lat]")
            lon, lat = float(position[0]), float(position[1])
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise NetworkError(f"{what}: the position {lon}, {lat} is outside WGS 84")
            points.append((lon, lat))
        name = props.get("name", code)
        name_en = props.get("name_en", name)
        if not isinstance(name, str) or not isinstance(name_en, str) or len(name) > 100:
            raise NetworkError(f"{what}: 'name' must be a string of at most 100 characters")
        road_class = props.get("road_class", "arterial")
        if road_class not in ROAD_CLASSES:
            raise NetworkError(f"{what}: 'road_class' must be one of {', '.join(ROAD_CLASSES)}")
        free_flow = _number(props, "free_flow_kmh", what, 5, 160)
        limit = (
            _number(props, "speed_limit_kmh", what, 5, 160)
            if "speed_limit_kmh" in props
            else free_flow
        )
        lanes = _number(props, "lanes", what, 1, 12)
        if lanes != int(lanes):
            raise NetworkError(f"{what}: 'lanes' must be a whole number")
        line = tuple(points)
        length = (
            _number(props, "length_m", what, 1, 100_000)
            if "length_m" in props
            else round(polyline_length_m(line), 1)
        )
        district = props.get("district_code", "")
        if not isinstance(district, str) or len(district) > 32:
            raise NetworkError(f"{what}: 'district_code' must be a short string")
        network.segments.append(
            RoadSegment(
                code=code,
                name=name,
                name_en=name_en[:100],
                road_class=str(road_class),
                lanes=int(lanes),
                length_m=max(length, 1.0),
                free_flow_kmh=free_flow,
                speed_limit_kmh=limit,
                coordinates=line,
                district_code=district,
            )
        )
    if not network.segments:
        raise NetworkError("the FeatureCollection has no features")
    return network
