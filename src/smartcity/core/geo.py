"""Geometry helpers (几何): GeoJSON (WGS 84) in, shapely for computation. Shared by the
SensorThings ingestion and queries, the device map and the domains (through the engines'
contracts), so GeoJSON is read one way everywhere."""

from __future__ import annotations

from typing import Any

from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union


def to_geometry(value: Any) -> BaseGeometry | None:
    """GeoJSON (a geometry, a Feature or a FeatureCollection) as a shapely geometry."""
    if isinstance(value, BaseGeometry):
        return value
    if not isinstance(value, dict):
        return None
    try:
        kind = value.get("type")
        if kind == "Feature":
            return to_geometry(value.get("geometry"))
        if kind == "FeatureCollection":
            parts = [to_geometry(f) for f in value.get("features") or []]
            shapes = [p for p in parts if p is not None]
            return unary_union(shapes) if shapes else None
        return shape(value)
    except (ShapelyError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None


def envelope(min_x: float, min_y: float, max_x: float, max_y: float) -> dict[str, Any]:
    """The bounding box as GeoJSON: a Polygon, or a Point when all features are one point."""
    if min_x == max_x and min_y == max_y:
        return {"type": "Point", "coordinates": [min_x, min_y]}
    ring = [[min_x, min_y], [max_x, min_y], [max_x, max_y], [min_x, max_y], [min_x, min_y]]
    return {"type": "Polygon", "coordinates": [ring]}


def point_of(location: Any) -> tuple[float, float] | None:
    """A lon/lat for a GeoJSON location: a Point, a Feature's Point, or any geometry's
    representative point; None for what is not GeoJSON."""
    if not isinstance(location, dict):
        return None
    if location.get("type") == "Feature":
        return point_of(location.get("geometry"))
    coords = location.get("coordinates")
    try:
        if location.get("type") == "Point" and isinstance(coords, list | tuple):
            return float(coords[0]), float(coords[1])
        point = shape(location).representative_point()
        return float(point.x), float(point.y)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        return None
