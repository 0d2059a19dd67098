"""What other modules may use of the registries (registry contract): plain functions and
frozen data types; no module reads the registry's tables itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.registry.models import Place

# --- what the sensing engine and the environment use ---


@dataclass(frozen=True)
class PlaceOutline:
    """The outline of a Place (地点): its code, the district it lies in and its GeoJSON."""

    code: str
    district_code: str
    geometry: Any


async def outline_versions(
    session: AsyncSession, kinds: Sequence[str]
) -> tuple[tuple[str, int, str], ...]:
    """Per kind of Place that has outlines: (kind, how many, when one last changed), sorted.
    Changes whenever an outline of those kinds is added, removed or edited, so a reader can
    keep what it drew from them until then. Outlines are public geography (no personal
    data)."""
    rows = await session.execute(
        select(Place.kind, func.count(), func.max(Place.updated_at))
        .where(Place.kind.in_(list(kinds)), Place.geometry.is_not(None))
        .group_by(Place.kind)
    )
    return tuple(sorted((str(k), int(n), str(t)) for k, n, t in rows.all()))


async def place_outlines(session: AsyncSession, kind: str) -> list[PlaceOutline]:
    """The outlines of the Places of one kind (``district``, ``street``…) that have one."""
    rows = await session.execute(
        select(Place.code, Place.district_code, Place.geometry).where(
            Place.kind == kind, Place.geometry.is_not(None)
        )
    )
    return [
        PlaceOutline(code=str(code), district_code=str(district), geometry=geometry)
        for code, district, geometry in rows.all()
    ]
