"""Resource paths (A.1.10): ``Things``, ``Things(1)``, ``Things(1)/Datastreams``,
``Datastreams(1)/Observations(5)/FeatureOfInterest``, ``Things(1)/name``,
``Things(1)/properties/owner/$value``, ``Datastreams(1)/Observations/$ref``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import NotFound
from smartcity.sensing import access
from smartcity.sensing.sta.entities import (
    BY_SET,
    EntityType,
    Nav,
    Prop,
    nav_target,
    related_condition,
)

_SEGMENT = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\((.*)\))?$")


@dataclass
class Target:
    """What a resource path addresses.

    kind: ``collection`` (of ``etype`` under ``where``), ``entity`` (``entity_id``) or
    ``property`` (``prop`` of the entity, with a JSON ``subpath``). ``parent`` is the entity and
    navigation a collection was reached through, so a POST there links the new entity.
    """

    kind: str
    etype: EntityType
    where: list[ColumnElement[bool]] = field(default_factory=list)
    entity_id: int | None = None
    prop: Prop | None = None
    subpath: tuple[str, ...] = ()
    parent: tuple[EntityType, int, Nav] | None = None
    ref: bool = False
    value: bool = False
    # The path of this target relative to the service root, for nextLinks.
    path: str = ""


def parse_id(raw: str, path: str) -> int:
    """``1`` or ``'1'`` (clients that treat ids as strings quote them)."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    if not re.fullmatch(r"\d{1,18}", text):
        raise NotFound(f"There is no entity with the id {raw} at {path}.")
    return int(text)


def not_found(path: str) -> NotFound:
    return NotFound(f"There is nothing at {path}.")


async def _exists(
    session: AsyncSession, etype: EntityType, entity_id: int, where: list[ColumnElement[bool]]
) -> bool:
    found = await session.scalar(
        select(etype.model.id)
        .where(etype.model.id == entity_id, *where, *access.conditions(etype.name))
        .limit(1)
    )
    return found is not None


async def resolve(session: AsyncSession, path: str) -> Target:
    """The target of a resource path; 404 (problem+json) for unknown names and ids."""
    segments = [s for s in path.strip("/").split("/") if s != ""]
    if not segments:
        raise not_found(path)
    match = _SEGMENT.match(segments[0])
    if match is None or match.group(1) not in BY_SET:
        raise not_found(path)
    etype = BY_SET[match.group(1)]
    target = Target("collection", etype, path=etype.set_name)
    if match.group(2) is not None:
        entity_id = parse_id(match.group(2), path)
        if not await _exists(session, etype, entity_id, []):
            raise NotFound(f"There is no {etype.name} with the id {entity_id}.")
        target = Target("entity", etype, entity_id=entity_id, path=f"{etype.set_name}({entity_id})")
    for index, segment in enumerate(segments[1:], start=1):
        last = index == len(segments) - 1
        if segment == "$ref":
            if not last or target.kind == "property":
                raise not_found(path)
            target.ref = True
            continue
        if segment == "$value":
            if not last or target.kind != "property":
                raise not_found(path)
            target.value = True
            continue
        if target.kind == "property":
            assert target.prop is not None
            if target.prop.kind not in ("json", "result", "geometry"):
                raise not_found(path)
            target.subpath += (segment,)
            continue
        if target.kind != "entity":
            raise not_found(path)
        assert target.entity_id is not None
        match = _SEGMENT.match(segment)
        if match is None:
            raise not_found(path)
        name, key = match.group(1), match.group(2)
        nav = target.etype.navs.get(name)
        if nav is not None:
            target = await _navigate(session, target, nav, key, path)
            continue
        prop = target.etype.prop(name)
        if prop is None or key is not None:
            raise not_found(path)
        target = Target(
            "property",
            target.etype,
            entity_id=target.entity_id,
            prop=prop,
            path=target.path + "/" + name,
        )
    return target


async def _navigate(
    session: AsyncSession, parent: Target, nav: Nav, key: str | None, path: str
) -> Target:
    assert parent.entity_id is not None
    child = nav_target(nav)
    where = [related_condition(nav, parent.entity_id)]
    base_path = f"{parent.path}/{nav.name}"
    if nav.many:
        if key is None:
            return Target(
                "collection",
                child,
                where=where,
                parent=(parent.etype, parent.entity_id, nav),
                path=base_path,
            )
        entity_id = parse_id(key, path)
        if not await _exists(session, child, entity_id, where):
            raise NotFound(f"There is no {child.name} with the id {entity_id} at {path}.")
        return Target("entity", child, entity_id=entity_id, path=f"{child.set_name}({entity_id})")
    if key is not None:
        raise not_found(path)
    related: Any = await session.scalar(
        select(child.model.id).where(*where, *access.conditions(child.name)).limit(1)
    )
    if related is None:
        raise NotFound(f"{parent.etype.name} {parent.entity_id} has no {nav.name}.")
    return Target(
        "entity",
        child,
        entity_id=int(related),
        path=f"{child.set_name}({related})",
        parent=(parent.etype, parent.entity_id, nav),
    )
