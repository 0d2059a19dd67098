"""Maps without tiles (地图): lon/lat projected to SVG pixels on the server, so a map is plain
HTML that works offline and without JavaScript. The registry's places map and the sensing
and air-quality maps share this projection."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


# --- labels that stay readable ------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """A dot on the map, in SVG pixels (its radius with its outline)."""

    x: float
    y: float
    r: float


def label_box(
    text: str, x: float, y: float, font_px: float, *, middle: bool = False
) -> tuple[float, float, float, float]:
    """The box (left, top, right, bottom) a label centred on x covers: Chinese characters are
    about a square em wide, Latin letters and digits about half. ``y`` is the baseline, or the
    middle with ``middle`` (dominant-baseline: middle)."""
    width = sum(font_px if ord(ch) > 0x2E7F else font_px * 0.6 for ch in text) + 4
    top = y - font_px * 0.65 if middle else y - font_px * 0.95
    return x - width / 2, top, x + width / 2, top + font_px * 1.3


def box_overlap(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


# Where to try a label, nearest first: its own place, then rings around it (up, down, the
# sides and the corners) a few pixels further out each time.
_DIRECTIONS = ((0, -1), (0, 1), (-1, 0), (1, 0), (-1, -1), (1, -1), (-1, 1), (1, 1))
_STEPS = (7, 14, 21, 28, 36, 44)


def place_labels(
    labels: Sequence[tuple[str, float, float]],
    markers: Sequence[Marker],
    width: float,
    height: float,
    font_px: float = 13,
    *,
    middle: bool = False,
) -> list[tuple[float, float]]:
    """Positions for district names that no dot covers: for each (text, x, y) the nearest
    candidate position, inside the map, that overlaps no marker and no label placed before
    it; when there is none within reach, the one covered least. Returns (x, y) per label, in
    the same convention as given (baseline, or middle with ``middle``)."""
    obstacles = [(m.x - m.r - 1, m.y - m.r - 1, m.x + m.r + 1, m.y + m.r + 1) for m in markers]
    placed: list[tuple[float, float, float, float]] = []
    result: list[tuple[float, float]] = []
    for text, x0, y0 in labels:
        candidates = [(x0, y0)] + [
            (x0 + dx * step * 1.6, y0 + dy * step) for step in _STEPS for dx, dy in _DIRECTIONS
        ]
        best: tuple[float, float, float, float] | None = None  # (covered, distance, x, y)
        for x, y in candidates:
            box = label_box(text, x, y, font_px, middle=middle)
            if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
                continue
            covered = sum(box_overlap(box, o) for o in obstacles) + sum(
                box_overlap(box, p) for p in placed
            )
            score = (covered, math.hypot(x - x0, y - y0), x, y)
            if best is None or score[:2] < best[:2]:
                best = score
            if covered == 0:
                break  # candidates come nearest first: this is the nearest free place
        x, y = (best[2], best[3]) if best is not None else (x0, y0)
        placed.append(label_box(text, x, y, font_px, middle=middle))
        result.append((round(x, 1), round(y, 1)))
    return result
