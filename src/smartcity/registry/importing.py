"""Bulk import and export of the registries (批量导入导出).

Imports validate every row, insert in batches (with each record's first history version) and
commit per batch, recording progress in ImportRun.rows_done: a crashed import resumes where
it stopped, and re-running the same file (same SHA-256) resumes the unfinished run instead
of importing twice. A bad row goes to a rejects CSV with the reason; it never stops the
import. Exports stream in keyset pages and are masked unless the server's operator asks.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, cast

import orjson
from pydantic import ValidationError
from sqlalchemy import JSON, Select, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import numdb

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize, register_actions
from smartcity.core.db import Database
from smartcity.core.errors import Forbidden, InvalidInput, NotFound, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import (
    DIVISIONS,
    InvalidIdentifier,
    parse_division_code,
    parse_resident_id,
    parse_uscc,
)
from smartcity.core.models import Department
from smartcity.registry import records
from smartcity.registry.models import (
    AccessLog,
    ImportRun,
    Organization,
    Person,
    Place,
    RecordVersion,
)
from smartcity.registry.place_schemas import PlaceCreate, PlaceUpdate
from smartcity.registry.places import PLACE_KINDS, GridIndex, create_place, update_place
from smartcity.registry.sources import groups_of
from smartcity.registry.stewardship import department_code_of, require_source

ACTIONS = {
    "registry.import.run": {"admin", "staff", "system"},
    "registry.person.export": {"admin"},
}
register_actions(ACTIONS)

BATCH_SIZE = 5000
PLACE_BATCH_SIZE = 500
RECORD_TYPES = ("person", "organization", "place")
# The attribute group whose source department may load a registry in bulk (一数一源).
IMPORT_GROUP = {"person": "identity", "organization": "registration", "place": "geography"}

PERSON_COLUMNS = (
    "id_number",
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "phone",
    "hukou_division_code",
    "residence_address",
    "residence_place_code",
    "residence_lon",
    "residence_lat",
    "status",
    "social_insurance_status",
)
PERSON_REQUIRED = ("id_number", "name")
ORGANIZATION_COLUMNS = (
    "uscc",
    "name",
    "org_type",
    "legal_representative_id_number",
    "registered_address",
    "registered_place_code",
    "industry",
    "established_on",
    "status",
)
ORGANIZATION_REQUIRED = ("uscc", "name", "org_type")
PERSON_STATUSES = ("living", "deceased", "moved_out")
ORGANIZATION_TYPES = ("enterprise", "public_institution", "social_organization", "government_body")
ORGANIZATION_STATUSES = ("active", "revoked", "cancelled")
REJECT_COLUMNS = ("row", "line", "reason")
# Mobiles, landlines with an area code and short service numbers, as registry.service has it.
PHONE = re.compile(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{3,6}")

Progress = Callable[[int, int, int], None]  # rows done, accepted, rejected


class RowError(Exception):
    """A row that cannot be imported; the message is the reason in the rejects file."""


@lru_cache(maxsize=8192)
def division_known(code: str) -> bool:
    """Whether a six-digit code is a GB/T 2260 division stdnum knows (any year)."""
    if code in DIVISIONS:
        return True
    try:
        parse_division_code(code)
    except InvalidIdentifier:
        return False
    return any(len(part) == 4 and props for part, props in numdb.get("cn/loc").info(code))


def valid_phone(value: str) -> bool:
    return PHONE.fullmatch(value.replace(" ", "")) is not None


# --- rows --------------------------------------------------------------------------------


def _text(raw: Mapping[str, str], name: str, limit: int) -> str:
    value = (raw.get(name) or "").strip()
    if len(value) > limit:
        raise RowError(f"{name} is longer than {limit} characters")
    return value


def _coordinate(raw: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    value = (raw.get(name) or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{name} {value!r} is not a number") from None
    if not low <= number <= high:  # also false for NaN
        raise RowError(f"{name} {value} is outside {low} to {high} (WGS 84 degrees)")
    return number


def _iso_date(raw: Mapping[str, str], name: str) -> date | None:
    value = (raw.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


class PersonRows:
    """Checks person rows (人口库 columns) and turns them into column values."""

    def __init__(self, grids: GridIndex, today: date | None = None) -> None:
        self.grids = grids
        self.today = today or clock.to_city(clock.now()).date()

    def check(self, raw: Mapping[str, str]) -> dict[str, Any]:
        if any("\ufffd" in (v or "") for v in raw.values()):
            raise RowError("the row is not valid UTF-8")
        try:
            rid = parse_resident_id(raw.get("id_number") or "", today=self.today)
        except InvalidIdentifier as exc:
            raise RowError(f"id_number: {exc}") from None
        name = _text(raw, "name", 50)
        if not name:
            raise RowError("name is empty")
        sex = (raw.get("sex") or "").strip()
        if sex and sex != rid.sex:
            raise RowError(f"sex {sex!r} does not match the ID number ({rid.sex})")
        birth = _iso_date(raw, "birth_date")
        if birth is not None and birth != rid.birth_date:
            raise RowError(
                f"birth_date {birth.isoformat()} does not match the ID number "
                f"({rid.birth_date.isoformat()})"
            )
        phone = _text(raw, "phone", 20)
        if phone and not valid_phone(phone):
            raise RowError(f"phone {phone!r} is not a mobile or landline number")
        hukou = _text(raw, "hukou_division_code", 6) or rid.division_code
        if not division_known(hukou):
            raise RowError(f"hukou_division_code {hukou!r} is not a known GB/T 2260 division")
        status = (raw.get("status") or "").strip() or "living"
        if status not in PERSON_STATUSES:
            raise RowError(f"status {status!r} is not one of {', '.join(PERSON_STATUSES)}")
        lon = _coordinate(raw, "residence_lon", -180, 180)
        lat = _coordinate(raw, "residence_lat", -90, 90)
        if (lon is None) != (lat is None):
            raise RowError("give both residence_lon and residence_lat, or neither")
        place = (raw.get("residence_place_code") or "").strip() or None
        if place is not None and place not in self.grids.code_set:
            raise RowError(f"residence_place_code {place!r} is not a grid")
        if place is None and lon is not None and lat is not None:
            place = self.grids.locate(lon, lat)
        return {
            "id_number": rid.number,
            "name": name,
            "sex": rid.sex,
            "birth_date": rid.birth_date,
            "ethnicity": _text(raw, "ethnicity", 20),
            "phone": phone,
            "hukou_division_code": hukou,
            "residence_address": _text(raw, "residence_address", 200),
            "residence_place_code": place,
            "residence_lon": lon,
            "residence_lat": lat,
            "status": status,
            "social_insurance_status": _text(raw, "social_insurance_status", 16),
        }


class OrganizationRows:
    """Checks organization rows (法人库 columns); references are looked up per batch."""

    def __init__(self, today: date | None = None) -> None:
        self.today = today or clock.to_city(clock.now()).date()

    def check(self, raw: Mapping[str, str]) -> dict[str, Any]:
        if any("\ufffd" in (v or "") for v in raw.values()):
            raise RowError("the row is not valid UTF-8")
        try:
            uscc = parse_uscc(raw.get("uscc") or "").number
        except InvalidIdentifier as exc:
            raise RowError(f"uscc: {exc}") from None
        name = _text(raw, "name", 200)
        if not name:
            raise RowError("name is empty")
        org_type = (raw.get("org_type") or "").strip()
        if org_type not in ORGANIZATION_TYPES:
            raise RowError(f"org_type {org_type!r} is not one of {', '.join(ORGANIZATION_TYPES)}")
        representative = (raw.get("legal_representative_id_number") or "").strip().upper()
        if representative:
            try:
                representative = parse_resident_id(representative, today=self.today).number
            except InvalidIdentifier as exc:
                raise RowError(f"legal_representative_id_number: {exc}") from None
        established = _iso_date(raw, "established_on")
        if established is not None and established > self.today:
            raise RowError(f"established_on {established.isoformat()} is in the future")
        status = (raw.get("status") or "").strip() or "active"
        if status not in ORGANIZATION_STATUSES:
            raise RowError(f"status {status!r} is not one of {', '.join(ORGANIZATION_STATUSES)}")
        return {
            "uscc": uscc,
            "name": name,
            "org_type": org_type,
            "legal_representative_id_number": representative or None,
            "registered_address": _text(raw, "registered_address", 200),
            "registered_place_code": (raw.get("registered_place_code") or "").strip() or None,
            "industry": _text(raw, "industry", 100),
            "established_on": established,
            "status": status,
        }


# --- the fast insert path ----------------------------------------------------------------


@dataclass
class BatchOutcome:
    """What a batch did: how many went in, and (position, reason) of those that did not."""

    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def first_versions(
    record_type: str, rows: list[dict[str, Any]], *, source: str, actor: str, reason: str
) -> list[dict[str, Any]]:
    """Version 1 of each new record (its history's start), as rows for bulk_insert."""
    return [
        {
            "record_type": record_type,
            "record_id": row["id"],
            "version": 1,
            "valid_from": row["created_at"],
            "valid_to": None,
            # snapshot() reads attributes, so a namespace over the row gives exactly what a
            # version of an ORM-created record stores.
            "data": records.snapshot(record_type, cast(Any, SimpleNamespace(**row))),
            "changes": {},
            "attribute_group": "import",
            "source_department_code": source,
            "actor": actor[:100],
            "reason": reason[:200],
        }
        for row in rows
    ]


async def bulk_insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows at once: COPY on PostgreSQL, one executemany elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        # COPY is several times faster than multi-row INSERTs; it runs on the session's own
        # connection, so it is inside the batch's transaction. It bypasses SQLAlchemy's type
        # processing: JSON goes as text, everything else as asyncpg's native types.
        json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
        columns = list(rows[0])
        values = [
            tuple(orjson.dumps(row[c]).decode() if c in json_columns else row[c] for c in columns)
            for row in rows
        ]
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(table.name, records=values, columns=columns)
        return
    await session.execute(insert(table), rows)


async def _existing(session: AsyncSession, column: Any, values: Iterable[str]) -> set[str]:
    wanted = list(set(values))
    found: set[str] = set()
    # Chunks stay under every driver's bound-parameter limit.
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        found.update((await session.execute(select(column).where(column.in_(chunk)))).scalars())
    return found


async def _insert_person_batch(
    session: AsyncSession,
    checker: PersonRows,
    raws: Sequence[Mapping[str, str]],
    *,
    source: str,
    actor: str,
    reason: str,
) -> BatchOutcome:
    outcome = BatchOutcome()
    checked: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for position, raw in enumerate(raws):
        try:
            row = checker.check(raw)
        except RowError as exc:
            outcome.rejected.append((position, str(exc)))
            continue
        if row["id_number"] in seen:
            outcome.rejected.append((position, "duplicate: the ID number is twice in this file"))
            continue
        seen.add(row["id_number"])
        checked.append((position, row))
    taken = await _existing(session, Person.id_number, seen)
    now = clock.now()
    persons = []
    for position, row in checked:
        if row["id_number"] in taken:
            outcome.rejected.append((position, "duplicate: a person with this ID number exists"))
            continue
        row.update(id=uuid.uuid4(), account_id=None, version=1, created_at=now, updated_at=now)
        persons.append(row)
    await bulk_insert(session, cast(Table, Person.__table__), persons)
    versions = first_versions("person", persons, source=source, actor=actor, reason=reason)
    await bulk_insert(session, cast(Table, RecordVersion.__table__), versions)
    outcome.accepted = len(persons)
    outcome.rejected.sort()
    return outcome


async def _insert_organization_batch(
    session: AsyncSession,
    checker: OrganizationRows,
    raws: Sequence[Mapping[str, str]],
    *,
    source: str,
    actor: str,
    reason: str,
) -> BatchOutcome:
    outcome = BatchOutcome()
    checked: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for position, raw in enumerate(raws):
        try:
            row = checker.check(raw)
        except RowError as exc:
            outcome.rejected.append((position, str(exc)))
            continue
        if row["uscc"] in seen:
            outcome.rejected.append((position, "duplicate: the credit code is twice in this file"))
            continue
        seen.add(row["uscc"])
        checked.append((position, row))
    taken = await _existing(session, Organization.uscc, seen)
    wanted = {r["legal_representative_id_number"] for _, r in checked} - {None}
    people: dict[str, uuid.UUID] = {}
    for start in range(0, len(wanted), 5000):
        chunk = sorted(cast(set[str], wanted))[start : start + 5000]
        query = select(Person.id_number, Person.id).where(Person.id_number.in_(chunk))
        people.update({n: i for n, i in (await session.execute(query)).all()})
    places = await _existing(
        session,
        Place.code,
        [r["registered_place_code"] for _, r in checked if r["registered_place_code"]],
    )
    now = clock.now()
    organizations = []
    for position, row in checked:
        number = row.pop("legal_representative_id_number")
        if row["uscc"] in taken:
            outcome.rejected.append((position, "duplicate: an organization with this code exists"))
            continue
        if number is not None and number not in people:
            outcome.rejected.append(
                (position, "legal_representative_id_number names no person in the registry")
            )
            continue
        if row["registered_place_code"] and row["registered_place_code"] not in places:
            outcome.rejected.append(
                (position, f"registered_place_code {row['registered_place_code']!r} is no place")
            )
            continue
        row.update(
            id=uuid.uuid4(),
            legal_representative_id=people.get(number) if number else None,
            version=1,
            created_at=now,
            updated_at=now,
        )
        organizations.append(row)
    await bulk_insert(session, cast(Table, Organization.__table__), organizations)
    versions = first_versions(
        "organization", organizations, source=source, actor=actor, reason=reason
    )
    await bulk_insert(session, cast(Table, RecordVersion.__table__), versions)
    outcome.accepted = len(organizations)
    outcome.rejected.sort()
    return outcome


async def _import_department(
    session: AsyncSession, principal: Principal, record_type: str, department_code: str | None
) -> str:
    """The department the records are attributed to: the caller's, who must be the source
    (一数一源); an administrator (the CLI) names it, by default the source itself."""
    authorize(principal, "registry.import.run")
    group = next(g for g in groups_of(record_type) if g.name == IMPORT_GROUP[record_type])
    await require_source(session, principal, [group])
    source = group.department_code
    if principal.is_("admin"):
        code = department_code or source
        query = select(Department.code).where(Department.code == code)
        if (await session.execute(query)).scalar_one_or_none() is None:
            raise InvalidInput(
                _("There is no department with code {code}.").format(code=code),
                field="department",
            )
        return code
    own = await department_code_of(session, principal)
    if department_code and department_code != own:
        raise Forbidden(
            _("You import for your own department ({own}), not {other}.").format(
                own=own, other=department_code
            )
        )
    return source


async def insert_persons(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[Mapping[str, str]],
    *,
    department_code: str | None = None,
    reason: str = "",
    grids: GridIndex | None = None,
) -> BatchOutcome:
    """The fast path: check and insert persons (and their first versions) in one go, for
    callers that hold many rows, such as the demo; rows use the CSV columns as strings."""
    source = await _import_department(session, principal, "person", department_code)
    checker = PersonRows(grids if grids is not None else await GridIndex.load(session))
    return await _insert_person_batch(
        session, checker, rows, source=source, actor=principal.name, reason=reason
    )


async def insert_organizations(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[Mapping[str, str]],
    *,
    department_code: str | None = None,
    reason: str = "",
) -> BatchOutcome:
    """The fast path for organizations (legal representatives named by ID number)."""
    source = await _import_department(session, principal, "organization", department_code)
    return await _insert_organization_batch(
        session, OrganizationRows(), rows, source=source, actor=principal.name, reason=reason
    )


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


# --- export ------------------------------------------------------------------------------

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
