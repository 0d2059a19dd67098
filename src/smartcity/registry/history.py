"""Full history (变更记录) of registry records: versions and "as of" reads."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal
from smartcity.registry import events, records
from smartcity.registry.models import RecordVersion
from smartcity.registry.records import mask_person, snapshot
from smartcity.registry.sources import AttributeGroup, groups_of
from smartcity.registry.stewardship import department_names


@dataclass(frozen=True)
class VersionView:
    """One version in a record's history (变更记录), personal values masked as in the record."""

    version: int
    valid_from: datetime
    valid_to: datetime | None
    attribute_group: str
    group_titles: list[str]
    source_department_code: str
    source_department_name: str
    actor: str
    reason: str
    changes: dict[str, list[Any]] = field(default_factory=dict)


# --- history (变更记录) ----------------------------------------------------------------------


async def write_version(
    session: AsyncSession,
    principal: Principal,
    record_type: str,
    record: records.RecordModel,
    *,
    changes: dict[str, list[Any]],
    attribute_group: str,
    source_department_code: str,
    reason: str = "",
) -> RecordVersion:
    """Close the record's open version and open a new one holding its current data."""
    now = clock.now()
    await session.execute(
        update(RecordVersion)
        .where(
            RecordVersion.record_type == record_type,
            RecordVersion.record_id == record.id,
            RecordVersion.valid_to.is_(None),
        )
        .values(valid_to=now)
    )
    version = RecordVersion(
        record_type=record_type,
        record_id=record.id,
        version=record.version,
        valid_from=now,
        valid_to=None,
        data=snapshot(record_type, record),
        changes=changes,
        attribute_group=attribute_group,
        source_department_code=source_department_code,
        actor=principal.name[:100],
        reason=reason[:200],
    )
    session.add(version)
    return version


async def version_as_of(
    session: AsyncSession, record_type: str, record_id: uuid.UUID, at: datetime
) -> RecordVersion | None:
    """The version of a record that was valid at the instant ``at``, if it existed then."""
    query = (
        select(RecordVersion)
        .where(
            RecordVersion.record_type == record_type,
            RecordVersion.record_id == record_id,
            RecordVersion.valid_from <= at,
            or_(RecordVersion.valid_to.is_(None), RecordVersion.valid_to > at),
        )
        .order_by(RecordVersion.version.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _versions(
    session: AsyncSession, record_type: str, record_id: uuid.UUID
) -> list[RecordVersion]:
    query = (
        select(RecordVersion)
        .where(RecordVersion.record_type == record_type, RecordVersion.record_id == record_id)
        .order_by(RecordVersion.version.desc(), RecordVersion.id.desc())
    )
    return list((await session.execute(query)).scalars().all())


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


async def _version_views(
    session: AsyncSession, rows: Sequence[RecordVersion], visible: frozenset[str] | None
) -> list[VersionView]:
    """History rows for people; ``visible`` None means nothing is masked (organizations)."""
    names = await department_names(session, {r.source_department_code for r in rows})
    views = []
    for row in rows:
        group_names = [g for g in row.attribute_group.split(",") if g]
        titles = [g.title for g in groups_of(row.record_type) if g.name in group_names]
        changes = row.changes or {}
        if visible is not None:
            old = mask_person({k: v[0] for k, v in changes.items()}, visible)
            new = mask_person({k: v[1] for k, v in changes.items()}, visible)
            changes = {k: [old[k], new[k]] for k in changes}
        views.append(
            VersionView(
                version=row.version,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                attribute_group=row.attribute_group,
                group_titles=titles,
                source_department_code=row.source_department_code,
                source_department_name=names.get(row.source_department_code, ""),
                actor=row.actor,
                reason=row.reason,
                changes=changes,
            )
        )
    return views


async def record_created(
    session: AsyncSession,
    principal: Principal,
    record_type: str,
    record: records.RecordModel,
    *,
    source_department_code: str,
    reason: str,
) -> None:
    """登记: add a new record with its first version, audit row and changed event."""
    session.add(record)
    await session.flush()
    await write_version(
        session,
        principal,
        record_type,
        record,
        changes={},
        attribute_group="",
        source_department_code=source_department_code,
        reason=reason,
    )
    await audit.log(session, principal, f"registry.{record_type}.create", str(record.id))
    await events.RECORD_CHANGED[record_type].emit(
        session, events.RecordChanged(id=str(record.id), version=1, change="created", fields=[])
    )


async def record_updated(
    session: AsyncSession,
    principal: Principal,
    record_type: str,
    record: records.RecordModel,
    values: Mapping[str, Any],
    *,
    groups: Sequence[AttributeGroup],
    reason: str,
) -> None:
    """变更: set checked values; if any differ, a new version, audit row and changed event."""
    before = snapshot(record_type, record)
    for name, value in values.items():
        setattr(record, name, value)
    changes = _changes(before, snapshot(record_type, record))
    if not changes:
        return
    record.version += 1
    record.updated_at = clock.now()
    await session.flush()
    group = ",".join(g.name for g in groups)
    await write_version(
        session,
        principal,
        record_type,
        record,
        changes=changes,
        attribute_group=group,
        source_department_code=groups[0].department_code,
        reason=reason,
    )
    await audit.log(
        session,
        principal,
        f"registry.{record_type}.update",
        str(record.id),
        fields=sorted(changes),
        group=group,
        reason=reason[:200],
    )
    await events.RECORD_CHANGED[record_type].emit(
        session,
        events.RecordChanged(
            id=str(record.id), version=record.version, change="updated", fields=sorted(changes)
        ),
    )
