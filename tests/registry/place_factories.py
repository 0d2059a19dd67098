"""Async helpers for places (地理空间库): a small street → community → grids tree in 福田区."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.registry import places
from smartcity.registry.models import Place
from smartcity.registry.place_schemas import PlaceCreate
from tests.core.factories import ROOT
from tests.registry import factories

_seq = itertools.count(1)


def rectangle(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
    }


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


async def create_place(
    session: AsyncSession, *, principal: Principal = ROOT, **fields: Any
) -> Place:
    return await places.create_place(session, principal, PlaceCreate(**fields))


@dataclass
class Tree:
    street: Place
    community: Place
    west: Place  # grid 114.00-114.02 E
    east: Place  # grid 114.02-114.04 E
    prefix: str


async def create_tree(
    session: AsyncSession, *, district: str = "440304", principal: Principal = ROOT
) -> Tree:
    """园岭街道 → 百花社区 → two grids side by side, 114.00-114.04 E, 22.50-22.54 N."""
    await factories.source_departments(session)
    p = f"T{next(_seq):03d}"
    street = await create_place(
        session,
        principal=principal,
        code=f"{p}S",
        kind="street",
        name="园岭街道",
        parent_code=district,
        geometry=rectangle(114.00, 22.50, 114.04, 22.54),
    )
    community = await create_place(
        session,
        principal=principal,
        code=f"{p}C",
        kind="community",
        name="百花社区",
        parent_code=street.code,
        geometry=rectangle(114.00, 22.50, 114.04, 22.54),
    )
    west = await create_place(
        session,
        principal=principal,
        code=f"{p}G1",
        kind="grid",
        name="百花社区第1网格",
        parent_code=community.code,
        geometry=rectangle(114.00, 22.50, 114.02, 22.54),
    )
    east = await create_place(
        session,
        principal=principal,
        code=f"{p}G2",
        kind="grid",
        name="百花社区第2网格",
        parent_code=community.code,
        geometry=rectangle(114.02, 22.50, 114.04, 22.54),
    )
    return Tree(street, community, west, east, p)
