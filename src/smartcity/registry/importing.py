"""Bulk import of the registries (批量导入): the import runs.

Imports validate every row, insert in batches (with each record's first history version) and
commit per batch, recording progress in ImportRun.rows_done: a crashed import resumes where
it stopped, and re-running the same file (same SHA-256) resumes the unfinished run instead
of importing twice. A bad row goes to a rejects CSV with the reason; it never stops the
import.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal
from smartcity.core.db import Database
from smartcity.core.errors import InvalidInput, NotFound, Problem
from smartcity.core.i18n import gettext as _
from smartcity.registry.models import ImportRun, Place
from smartcity.registry.place_schemas import PlaceCreate, PlaceUpdate
from smartcity.registry.places import PLACE_KINDS, GridIndex, create_place, update_place
from smartcity.registry.rows import (
    BATCH_SIZE,
    ORGANIZATION_COLUMNS,
    ORGANIZATION_REQUIRED,
    PERSON_COLUMNS,
    PERSON_REQUIRED,
    OrganizationRows,
    PersonRows,
    _import_department,
    _insert_organization_batch,
    _insert_person_batch,
)

ACTIONS = {
    "registry.import.run": {"admin", "staff", "system"},
}

PLACE_BATCH_SIZE = 500
RECORD_TYPES = ("person", "organization", "place")
REJECT_COLUMNS = ("row", "line", "reason")

Progress = Callable[[int, int, int], None]  # rows done, accepted, rejected


# --- files -------------------------------------------------------------------------------


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256, number of lines) of a file, read in blocks."""
    digest, lines = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            lines += block.count(b"\n")
    return digest.hexdigest(), lines


def _open_csv(path: Path) -> IO[str]:
    # Undecodable bytes become U+FFFD and reject their row instead of stopping the import.
    return path.open(newline="", encoding="utf-8-sig", errors="replace")


def csv_header(path: Path, record_type: str) -> list[str]:
    """The checked header of a persons or organizations CSV file, or a 422 naming the fault."""
    columns, required = (
        (PERSON_COLUMNS, PERSON_REQUIRED)
        if record_type == "person"
        else (ORGANIZATION_COLUMNS, ORGANIZATION_REQUIRED)
    )
    with _open_csv(path) as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise InvalidInput(_("The file is empty; the first line must name the columns."))
    header = [h.strip().lower() for h in header]
    unknown = [h for h in header if h not in columns]
    if unknown:
        raise InvalidInput(
            _("Unknown columns: {unknown}. The columns are: {columns}.").format(
                unknown=", ".join(unknown), columns=", ".join(columns)
            )
        )
    if len(set(header)) != len(header):
        raise InvalidInput(_("A column appears twice in the header."))
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(
            _("The file has no column {columns}.").format(columns=", ".join(missing))
        )
    return header


def _load_features(path: Path) -> list[dict[str, Any]]:
    """The features of a GeoJSON FeatureCollection, parents before children."""
    try:
        collection = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(_("The file is not GeoJSON ({error}).").format(error=exc)) from exc
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise InvalidInput(_("The file must be a GeoJSON FeatureCollection."))
    features = collection.get("features")
    if not isinstance(features, list):
        raise InvalidInput(_("The FeatureCollection has no list of features."))
    rank = {kind: i for i, kind in enumerate(PLACE_KINDS)}

    def order(item: tuple[int, Any]) -> tuple[int, int]:
        props = item[1].get("properties") if isinstance(item[1], dict) else None
        kind = props.get("kind") if isinstance(props, dict) else None
        return rank.get(kind, len(rank)) if isinstance(kind, str) else len(rank), item[0]

    return [
        {"index": index + 1, "feature": feature}
        for index, feature in sorted(enumerate(features), key=order)
    ]


class RejectsFile:
    """The rejects CSV: row, line and reason, then the original row as it was."""

    def __init__(self, path: Path, header: Sequence[str], keep_rows: int) -> None:
        self.path = path
        self.header = list(header)
        self.count = 0
        if path.exists():
            # Rejects of a batch are written before its commit; after a crash the batch is
            # redone, so drop what was written past the last committed row.
            with path.open(newline="", encoding="utf-8") as fh:
                kept = [
                    r for r in csv.reader(fh) if r and r[0].isdigit() and int(r[0]) <= keep_rows
                ]
            self._write_all(kept)
            self.count = len(kept)

    def _write_all(self, rows: list[list[str]]) -> None:
        with self.path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([*REJECT_COLUMNS, *self.header])
            writer.writerows(rows)

    def write(self, rows: list[tuple[int, int, str, Sequence[str]]]) -> None:
        if not rows:
            return
        if not self.path.exists():
            self._write_all([])
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            for row, line, reason, original in rows:
                writer.writerow([row, line, reason, *original])
            fh.flush()
            os.fsync(fh.fileno())
        self.count += len(rows)


# --- runs --------------------------------------------------------------------------------


def readable_import_runs(principal: Principal) -> Select[ImportRun]:
    """Administrators see every import; others the imports they started."""
    query = select(ImportRun).order_by(ImportRun.started_at.desc())
    if principal.is_("admin"):
        return query
    return query.where(ImportRun.actor == principal.name[:100])


async def get_import_run(
    session: AsyncSession, principal: Principal, run_id: uuid.UUID
) -> ImportRun:
    query = readable_import_runs(principal).where(ImportRun.id == run_id)
    run = (await session.execute(query)).scalar_one_or_none()
    if run is None:
        raise NotFound(_("There is no import {id}.").format(id=run_id))
    return run


def rejects_file(run: ImportRun) -> Path | None:
    """The run's rejects file, if it rejected anything and the file is still there."""
    path = Path(run.rejects_path)
    return path if run.rejected and path.is_file() else None


def _check_file(record_type: str, path: Path) -> None:
    if record_type not in RECORD_TYPES:
        raise InvalidInput(
            _("Unknown record type {type}; use person, organization or place.").format(
                type=record_type
            )
        )
    if record_type == "place":
        _load_features(path)
    else:
        csv_header(path, record_type)


async def start_import(
    session: AsyncSession,
    principal: Principal,
    *,
    record_type: str,
    path: Path,
    source_name: str,
    sha256: str,
    department_code: str | None = None,
    rejects_path: Path | None = None,
) -> ImportRun:
    """The run for a file: the unfinished one for the same content (to resume), the finished
    one (nothing to do), or a new one. The file's header is checked first."""
    await _import_department(session, principal, record_type, department_code)
    _check_file(record_type, path)
    query = (
        select(ImportRun)
        .where(ImportRun.record_type == record_type, ImportRun.source_sha256 == sha256)
        .order_by(ImportRun.started_at.desc())
    )
    runs = list((await session.execute(query)).scalars())
    unfinished = next((r for r in runs if r.status != "done"), None)
    if unfinished is not None:
        unfinished.status = "running"
        await audit.log(
            session,
            principal,
            "registry.import.resume",
            target=f"import:{unfinished.id}",
            rows_done=unfinished.rows_done,
        )
        return unfinished
    if runs:
        return runs[0]
    target = rejects_path or path.with_name(path.name + ".rejects.csv")
    run = ImportRun(
        record_type=record_type,
        source_name=source_name[:300],
        source_sha256=sha256,
        status="running",
        rows_done=0,
        accepted=0,
        rejected=0,
        rejects_path=str(target)[:300],
        actor=principal.name[:100],
        started_at=clock.now(),
    )
    session.add(run)
    await session.flush()
    await audit.log(
        session,
        principal,
        "registry.import.start",
        target=f"import:{run.id}",
        record_type=record_type,
        source=source_name,
        sha256=sha256,
    )
    return run


async def _advance(
    session: AsyncSession, run_id: uuid.UUID, rows: int, accepted: int, rejected: int
) -> None:
    await session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id)
        .values(
            rows_done=ImportRun.rows_done + rows,
            accepted=ImportRun.accepted + accepted,
            rejected=ImportRun.rejected + rejected,
        )
    )


def _csv_batches(
    path: Path, header: list[str], skip: int, size: int
) -> Iterator[list[tuple[int, int, list[str]]]]:
    """Batches of (row number, line number, cells) after the first ``skip`` rows."""
    with _open_csv(path) as fh:
        reader = csv.reader(fh)
        next(reader)
        batch: list[tuple[int, int, list[str]]] = []
        for number, cells in enumerate(reader, start=1):
            if number <= skip:
                continue
            batch.append((number, reader.line_num, cells))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


async def _run_records(
    db: Database,
    principal: Principal,
    run: ImportRun,
    path: Path,
    *,
    source: str,
    batch_size: int,
    progress: Progress | None,
) -> None:
    header = csv_header(path, run.record_type)
    rejects = RejectsFile(Path(run.rejects_path), header, run.rows_done)
    person_rows: PersonRows | None = None
    if run.record_type == "person":
        async with db.session_scope() as session:
            person_rows = PersonRows(await GridIndex.load(session))
    organization_rows = OrganizationRows()
    done, accepted, rejected = run.rows_done, run.accepted, run.rejected
    reason = f"import {run.id}"
    for batch in _csv_batches(path, header, run.rows_done, batch_size):
        shaped: list[tuple[int, int, list[str]]] = []
        raws: list[Mapping[str, str]] = []
        malformed: list[tuple[int, int, str, Sequence[str]]] = []
        for number, line, cells in batch:
            if not cells:
                continue  # a blank line
            if len(cells) != len(header):
                malformed.append(
                    (
                        number,
                        line,
                        f"the row has {len(cells)} fields, the header has {len(header)}",
                        cells,
                    )
                )
                continue
            shaped.append((number, line, cells))
            raws.append(dict(zip(header, cells, strict=True)))
        async with db.session_scope() as session:
            if person_rows is not None:
                outcome = await _insert_person_batch(
                    session, person_rows, raws, source=source, actor=principal.name, reason=reason
                )
            else:
                outcome = await _insert_organization_batch(
                    session,
                    organization_rows,
                    raws,
                    source=source,
                    actor=principal.name,
                    reason=reason,
                )
            bad = malformed + [
                (shaped[i][0], shaped[i][1], why, shaped[i][2]) for i, why in outcome.rejected
            ]
            rejects.write(sorted(bad, key=lambda r: r[0]))
            await _advance(session, run.id, len(batch), outcome.accepted, len(bad))
        done += len(batch)
        accepted += outcome.accepted
        rejected += len(bad)
        if progress is not None:
            progress(done, accepted, rejected)


async def _run_places(
    db: Database,
    principal: Principal,
    run: ImportRun,
    path: Path,
    *,
    batch_size: int,
    progress: Progress | None,
) -> None:
    items = _load_features(path)
    columns = ("code", "kind", "name", "parent_code", "district_code", "feature")
    rejects = RejectsFile(Path(run.rejects_path), columns, run.rows_done)
    done, accepted, rejected = run.rows_done, run.accepted, run.rejected
    for start in range(run.rows_done, len(items), batch_size):
        batch = items[start : start + batch_size]
        bad: list[tuple[int, int, str, Sequence[str]]] = []
        async with db.session_scope() as session:
            for offset, item in enumerate(batch):
                feature = item["feature"]
                props = feature.get("properties") if isinstance(feature, dict) else None
                props = props if isinstance(props, dict) else {}
                original = [
                    *(str(props.get(c) or "") for c in columns[:-1]),
                    json.dumps(feature, ensure_ascii=False),
                ]
                try:
                    # A savepoint per feature: a refused one leaves nothing behind.
                    async with session.begin_nested():
                        await _upsert_place(session, principal, feature)
                except Problem as exc:
                    bad.append((start + offset + 1, item["index"], exc.detail, original))
            rejects.write(bad)
            await _advance(session, run.id, len(batch), len(batch) - len(bad), len(bad))
        done += len(batch)
        accepted += len(batch) - len(bad)
        rejected += len(bad)
        if progress is not None:
            progress(done, accepted, rejected)


async def _upsert_place(session: AsyncSession, principal: Principal, feature: Any) -> None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput(_("The item is not a GeoJSON Feature."))
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise InvalidInput(_("The feature has no properties (code, kind, name, parent_code)."))
    known = {"code", "kind", "name", "parent_code", "district_code"}
    try:
        data = PlaceCreate(
            code=str(props.get("code") or ""),
            kind=props.get("kind"),
            name=str(props.get("name") or ""),
            parent_code=props.get("parent_code") or None,
            district_code=props.get("district_code") or None,
            geometry=feature.get("geometry") or {},
            properties={k: v for k, v in props.items() if k not in known},
        )
    except ValidationError as exc:
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(
            _("The feature's properties are not valid: {errors}.").format(errors=summary)
        ) from exc
    existing = (
        await session.execute(select(Place.id).where(Place.code == data.code))
    ).scalar_one_or_none()
    if existing is None:
        await create_place(session, principal, data)
        return
    await update_place(
        session,
        principal,
        data.code,
        PlaceUpdate(
            name=data.name,
            parent_code=data.parent_code,
            geometry=data.geometry,
            properties=data.properties,
            reason="import",
        ),
    )


async def run_import(
    db: Database,
    principal: Principal,
    run_id: uuid.UUID,
    path: Path,
    *,
    department_code: str | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> ImportRun:
    """Carry an import run on from its ``rows_done`` to the end, a transaction per batch."""
    async with db.session_scope() as session:
        run = await get_import_run(session, principal, run_id)
        source = await _import_department(session, principal, run.record_type, department_code)
        session.expunge(run)
    if run.status == "done":
        return run
    try:
        if run.record_type == "place":
            await _run_places(
                db,
                principal,
                run,
                path,
                batch_size=batch_size or PLACE_BATCH_SIZE,
                progress=progress,
            )
        else:
            await _run_records(
                db,
                principal,
                run,
                path,
                source=source,
                batch_size=batch_size or BATCH_SIZE,
                progress=progress,
            )
    except BaseException:
        # Best effort: a killed process leaves "running", which resumes just the same.
        with contextlib.suppress(Exception):
            async with db.session_scope() as session:
                await session.execute(
                    update(ImportRun).where(ImportRun.id == run.id).values(status="failed")
                )
        raise
    async with db.session_scope() as session:
        finished = await get_import_run(session, principal, run.id)
        finished.status = "done"
        finished.finished_at = clock.now()
        await audit.log(
            session,
            principal,
            "registry.import.finish",
            target=f"import:{finished.id}",
            rows=finished.rows_done,
            accepted=finished.accepted,
            rejected=finished.rejected,
        )
        await session.flush()
        session.expunge(finished)
    return finished


@dataclass
class ImportOutcome:
    run: ImportRun
    resumed_from: int
    already_done: bool


async def import_file(
    db: Database,
    principal: Principal,
    record_type: str,
    path: Path,
    *,
    department_code: str | None = None,
    rejects_path: Path | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    on_start: Callable[[ImportRun, int], None] | None = None,
) -> ImportOutcome:
    """Import a file (CSV for persons and organizations, GeoJSON for places) from start or
    from where an earlier run of the same content stopped. ``on_start`` gets the run and
    the file's line count before the first batch (for a progress bar)."""
    sha256, lines = file_digest(path)
    async with db.session_scope() as session:
        run = await start_import(
            session,
            principal,
            record_type=record_type,
            path=path,
            source_name=path.name,
            sha256=sha256,
            department_code=department_code,
            rejects_path=rejects_path,
        )
        await session.flush()
        session.expunge(run)
    if run.status == "done":
        return ImportOutcome(run, run.rows_done, already_done=True)
    if on_start is not None:
        on_start(run, lines)
    resumed_from = run.rows_done
    finished = await run_import(
        db,
        principal,
        run.id,
        path,
        department_code=department_code,
        batch_size=batch_size,
        progress=progress,
    )
    return ImportOutcome(finished, resumed_from, already_done=False)


def upload_path(var_dir: Path, record_type: str, body: bytes) -> tuple[Path, str]:
    """Keep an uploaded file under var/imports by its SHA-256, so a re-upload resumes."""
    sha256 = hashlib.sha256(body).hexdigest()
    folder = var_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record_type}-{sha256[:16]}.{'geojson' if record_type == 'place' else 'csv'}"
    if not path.exists():
        path.write_bytes(body)
    return path, sha256
