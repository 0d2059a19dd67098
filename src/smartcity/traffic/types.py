"""The traffic domain's shared vocabulary (交通领域的约定): detector kinds, Datastream names,
ObservedProperty definitions and units, road classes and congestion levels.

A traffic detector (交通检测器) is a SensorThings Thing whose ``properties`` carry::

    {"traffic": {"kind": "loop" | "camera" | "floating", "segment": "<segment code>"}}
    {"traffic": {"kind": "parking", "facility": "<parking facility code>"}}

Its Datastreams are named ``"<thing name>:flow"``, ``":speed"``, ``":occupancy"`` and
``":free"`` (parking bays free), and recognised by the ObservedProperty ``definition``
below, never by their name. A segment code is the SUMO edge id when the segment was imported
from a ``.net.xml`` (with an optional prefix given at import), else the GeoJSON feature's
``code``. This file has no dependency beyond the standard library, so the signals sub-package
and the simulator can import it freely.
"""

from __future__ import annotations

from typing import Final, Literal

# --- detectors ------------------------------------------------------------------------

PROPERTIES_KEY: Final = "traffic"  # Thing.properties["traffic"]

DetectorKind = Literal["loop", "camera", "floating", "parking"]
DETECTOR_KINDS: Final[tuple[DetectorKind, ...]] = ("loop", "camera", "floating", "parking")
SEGMENT_DETECTOR_KINDS: Final[tuple[DetectorKind, ...]] = ("loop", "camera", "floating")

# Datastream name suffixes ("<thing name>" + suffix).
FLOW_SUFFIX: Final = ":flow"
SPEED_SUFFIX: Final = ":speed"
OCCUPANCY_SUFFIX: Final = ":occupancy"
FREE_SUFFIX: Final = ":free"

# ObservedProperty definitions (what identifies a traffic Datastream).
_BASE: Final = "https://smartcity.invalid/def/traffic/"
FLOW_DEFINITION: Final = f"{_BASE}flow"  # vehicles per hour (veh/h)
SPEED_DEFINITION: Final = f"{_BASE}speed"  # space-mean speed, km/h
OCCUPANCY_DEFINITION: Final = f"{_BASE}occupancy"  # time occupancy, percent 0-100
FREE_DEFINITION: Final = f"{_BASE}free-spaces"  # free parking spaces, count

# The Datastream's unitOfMeasurement per definition: (name, symbol, UCUM definition).
UNITS: Final[dict[str, dict[str, str]]] = {
    FLOW_DEFINITION: {
        "name": "vehicles per hour",
        "symbol": "veh/h",
        "definition": "http://unitsofmeasure.org/ucum.html#{vehicle}/h",
    },
    SPEED_DEFINITION: {
        "name": "kilometre per hour",
        "symbol": "km/h",
        "definition": "http://unitsofmeasure.org/ucum.html#km/h",
    },
    OCCUPANCY_DEFINITION: {
        "name": "percent",
        "symbol": "%",
        "definition": "http://unitsofmeasure.org/ucum.html#%",
    },
    FREE_DEFINITION: {
        "name": "free spaces",
        "symbol": "{space}",
        "definition": "http://unitsofmeasure.org/ucum.html#{space}",
    },
}

# Which Datastreams each kind of detector has (suffix, definition).
DETECTOR_STREAMS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "loop": (
        (FLOW_SUFFIX, FLOW_DEFINITION),
        (SPEED_SUFFIX, SPEED_DEFINITION),
        (OCCUPANCY_SUFFIX, OCCUPANCY_DEFINITION),
    ),
    "camera": ((FLOW_SUFFIX, FLOW_DEFINITION), (SPEED_SUFFIX, SPEED_DEFINITION)),
    "floating": ((SPEED_SUFFIX, SPEED_DEFINITION),),
    "parking": ((FREE_SUFFIX, FREE_DEFINITION),),
}

# Derived Observations the traffic module writes nowhere: per-minute state lives in the
# traffic module's own tables (traffic_segment_state), not in the sensing engine.


def detector_properties(kind: DetectorKind, code: str) -> dict[str, dict[str, str]]:
    """The Thing ``properties`` that make a Thing a traffic detector: ``code`` is the
    segment code (loop, camera, floating) or the parking facility code (parking)."""
    if kind not in DETECTOR_KINDS:
        raise ValueError(f"unknown detector kind {kind!r}")
    key = "facility" if kind == "parking" else "segment"
    return {PROPERTIES_KEY: {"kind": kind, key: code}}


# --- roads ----------------------------------------------------------------------------

RoadClass = Literal["expressway", "arterial", "secondary", "local"]
ROAD_CLASSES: Final[tuple[RoadClass, ...]] = ("expressway", "arterial", "secondary", "local")
# Capacity per lane (veh/h/lane) by road class: the saturation is flow / (lanes x this).
LANE_CAPACITY: Final[dict[str, int]] = {
    "expressway": 2000,
    "arterial": 1800,
    "secondary": 1600,
    "local": 1400,
}

SEGMENT_CODE_MAX: Final = 120  # SUMO edge ids and GeoJSON codes longer than this are refused

# --- congestion -----------------------------------------------------------------------

Level = Literal["smooth", "basically_smooth", "light", "moderate", "severe"]
LEVELS: Final[tuple[Level, ...]] = ("smooth", "basically_smooth", "light", "moderate", "severe")
LEVEL_ZH: Final[dict[str, str]] = {
    "smooth": "畅通",
    "basically_smooth": "基本畅通",
    "light": "轻度拥堵",
    "moderate": "中度拥堵",
    "severe": "严重拥堵",
}
LEVEL_COLOURS: Final[dict[str, str]] = {
    "smooth": "#2e9d4a",
    "basically_smooth": "#9ccc3c",
    "light": "#f2c22e",
    "moderate": "#e8731c",
    "severe": "#c0262d",
}
NO_DATA: Final = "no_data"
NO_DATA_COLOUR: Final = "#9a9a9a"

# The travel-time ratio (TTI = T/T_ff = v_ff/v) -> TPI 0-10, piecewise linear through these
# points; above 2.1 the last slope continues (2 per 0.3 of TTI) to the cap of 10 at TTI 2.4.
TPI_POINTS: Final[tuple[tuple[float, float], ...]] = (
    (1.0, 0.0),
    (1.2, 2.0),
    (1.5, 4.0),
    (1.8, 6.0),
    (2.1, 8.0),
)
TPI_SLOPE_ABOVE: Final = 2.0 / 0.3
TPI_MAX: Final = 10.0
# Levels by TPI band, lower edge inclusive: [0,2) 畅通 ... [8,10] 严重拥堵.
LEVEL_LOWER_EDGES: Final[tuple[tuple[float, Level], ...]] = (
    (8.0, "severe"),
    (6.0, "moderate"),
    (4.0, "light"),
    (2.0, "basically_smooth"),
    (0.0, "smooth"),
)

# --- events ---------------------------------------------------------------------------

INCIDENT_TOPIC: Final = "traffic.incident.suspected"  # a sudden speed drop (可能事故)
CONGESTION_TOPIC: Final = "traffic.congestion.severe"  # severe for N minutes
