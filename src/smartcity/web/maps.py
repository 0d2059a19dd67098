"""Maps without tiles (地图): lon/lat projected to SVG pixels on the server, so a map is plain
HTML that works offline and without JavaScript. The registry's places map and the sensing
and air-quality maps share this projection."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from shapely.geometry import shape

Bounds = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


class Projection:
    """Lon/lat to SVG pixels: equirectangular, scaled by cos(latitude) so shapes keep their
    proportions at Shenzhen's latitude. Good enough for a city; no tiles, no CDN."""

    def __init__(self, bounds: Bounds, width: int) -> None:
        self.min_lon, self.min_lat, self.max_lon, self.max_lat = bounds
        self.kx = math.cos(math.radians((self.min_lat + self.max_lat) / 2))
        span_x = max((self.max_lon - self.min_lon) * self.kx, 1e-9)
        span_y = max(self.max_lat - self.min_lat, 1e-9)
        self.pad = 8
        self.scale = (width - 2 * self.pad) / span_x
        self.width = width
        self.height = int(span_y * self.scale + 2 * self.pad)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x = self.pad + (lon - self.min_lon) * self.kx * self.scale
        y = self.pad + (self.max_lat - lat) * self.scale
        return round(x, 1), round(y, 1)

    def path(self, geometry: dict[str, Any]) -> str:
        """An SVG path ``d`` for a GeoJSON Polygon or MultiPolygon."""
        geom = shape(geometry)
        polygons = getattr(geom, "geoms", [geom])
        parts = []
        for polygon in polygons:
            for ring in [polygon.exterior, *polygon.interiors]:
                points = [self.xy(x, y) for x, y in ring.coords]
                parts.append("M" + " L".join(f"{x} {y}" for x, y in points[:-1]) + " Z")
        return " ".join(parts)


def union_bounds(boxes: Iterable[Bounds | None]) -> Bounds | None:
    """The box around all given boxes; None when there are none."""
    found = [b for b in boxes if b is not None]
    if not found:
        return None
    return (
        min(b[0] for b in found),
        min(b[1] for b in found),
        max(b[2] for b in found),
        max(b[3] for b in found),
    )


def point_bounds(points: Iterable[tuple[float, float]], margin: float = 0.01) -> Bounds | None:
    """The box around lon/lat points, widened by ``margin`` degrees so dots are not clipped."""
    pts = list(points)
    if not pts:
        return None
    return (
        min(p[0] for p in pts) - margin,
        min(p[1] for p in pts) - margin,
        max(p[0] for p in pts) + margin,
        max(p[1] for p in pts) + margin,
    )
