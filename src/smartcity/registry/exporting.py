"""Streamed, masked export of the population registry (人口库导出)."""

from __future__ import annotations

import csv
import json
from datetime import date
from typing import IO, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.registry import records
from smartcity.registry.models import AccessLog, Person
from smartcity.registry.rows import BATCH_SIZE, PERSON_COLUMNS, bulk_insert
from smartcity.registry.stewardship import department_code_of

ACTIONS = {
    "registry.person.export": {"admin"},
}

EXPORT_FORMATS = ("csv", "jsonl")


async def export_persons(
    session: AsyncSession,
    principal: Principal,
    out: IO[str],
    *,
    fmt: str = "csv",
    unmasked: bool = False,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Stream every person to ``out`` in the import columns, masked unless the operator at
    the server's command line asks (audited); every exported record is in the access log."""
    authorize(principal, "registry.person.export")
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(
            _("Unknown format {format}; use csv or jsonl.").format(format=fmt), field="format"
        )
    if unmasked and principal.via != "cli":
        raise Forbidden(
            _("Unmasked exports are only for the operator on the server's command line.")
        )
    department = await department_code_of(session, principal) or ""
    await audit.log(
        session,
        principal,
        "registry.person.export",
        target="person:*",
        format=fmt,
        unmasked=unmasked,
    )
    visible = records.PERSONAL_FIELDS if unmasked else frozenset()
    disclosed = sorted(visible)
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(PERSON_COLUMNS)
    table = cast(Table, Person.__table__)
    columns = [table.c.id, *(table.c[name] for name in PERSON_COLUMNS)]
    last, count = "", 0
    while True:
        # Keyset pages on the unique ID number: constant memory, no long-lived cursor.
        query = select(*columns).where(table.c.id_number > last).order_by(table.c.id_number)
        rows = (await session.execute(query.limit(batch_size))).all()
        if not rows:
            break
        now = clock.now()
        log = []
        for row in rows:
            data = {
                name: value.isoformat() if isinstance(value, date) else value
                for name, value in zip(PERSON_COLUMNS, row[1:], strict=True)
            }
            shown = records.mask_person(data, visible)
            if writer is not None:
                writer.writerow(["" if shown[c] is None else shown[c] for c in PERSON_COLUMNS])
            else:
                out.write(json.dumps(shown, ensure_ascii=False) + "\n")
            log.append(
                {
                    "at": now,
                    "person_id": row[0],
                    "actor": principal.name[:100],
                    "actor_kind": principal.kind,
                    "department_code": department,
                    "purpose": "bulk export",
                    "via": "export",
                    "fields": disclosed,
                    "case_number": "",
                }
            )
        await bulk_insert(session, cast(Table, AccessLog.__table__), log)
        count += len(rows)
        last = rows[-1][1]
    return count
