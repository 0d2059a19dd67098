"""Backup and restore (灾难备份): a consistent copy of the database with a manifest that says
what the copy holds, so a restored platform knows what it lost and never reissues an id.

SQLite is copied with its online backup API in one step: one read transaction, so the copy is
a single consistent state while writers go on (WAL). PostgreSQL is dumped with ``pg_dump
--format=custom`` inside an exported snapshot, and the manifest's positions are read in that
same snapshot, so they describe exactly what the dump holds. Point-in-time recovery with
continuous WAL archiving is documented in docs/operations.md.

The manifest (JSON beside the dump) records the time, the database kind, the platform version,
the Alembic revision, the chains' heads in the copy, the signed checkpoint taken at backup time
and the id positions of every integer-id table.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

import smartcity
from smartcity.core import checkpoints, clock, events, migrate
from smartcity.core.db import Database, make_engine
from smartcity.core.errors import Conflict, InvalidInput
from smartcity.settings import Settings, get_settings

FORMAT = "smartcity-backup/v1"
MANIFEST_SUFFIX = ".manifest.json"
PG_BIN_DIRS = (
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)


@dataclass(frozen=True)
class BackupResult:
    dump: Path
    manifest_path: Path
    manifest: dict[str, Any]
    removed: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Lost:
    """Entries of a chain a later checkpoint proves existed and the backup does not hold."""

    chain: str
    backup_seq: int
    checkpoint: int
    checkpoint_seq: int
    checkpoint_at: str

    def describe(self) -> str:
        return (
            f"{self.chain}: trail ends at {self.backup_seq}, checkpoint {self.checkpoint} "
            f"({self.checkpoint_at}) at {self.checkpoint_seq}: entries "
            f"{self.backup_seq + 1}..{self.checkpoint_seq} lost"
        )


@dataclass(frozen=True)
class RestoreReport:
    manifest: dict[str, Any]
    seconds: float
    advanced: dict[str, int]
    # Tables whose ids SQLite hands out as max + 1 (no AUTOINCREMENT): they cannot be moved.
    not_advanced: list[str]
    lost: list[Lost]


def pg_tool(name: str) -> str:
    """The path of pg_dump / pg_restore: PATH first, then Debian's versioned directories."""
    found = shutil.which(name)
    if found:
        return found
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    raise InvalidInput(f"{name} is not installed (PostgreSQL client tools)", field="database_url")


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq (pg_dump, pg_restore) reads it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput("an in-memory SQLite database cannot be backed up", field="database_url")
    return Path(database)


def _stamp() -> str:
    return clock.now().strftime("%Y%m%dT%H%M%S%fZ")


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def _describe(session: AsyncSession) -> dict[str, Any]:
    revision = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    return {
        "alembic_revision": revision,
        "chains": await checkpoints.chain_heads(session),
        "positions": await checkpoints.id_positions(session),
    }


# --- backup ------------------------------------------------------------------------------


def _copy_sqlite(source: Path, target: Path) -> None:
    # pages=-1: the whole database in one step, so in one read transaction: a consistent
    # state even while other connections commit (stepping would restart on every write).
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=-1)
    finally:
        dst.close()
        src.close()


async def _backup_sqlite(url: str, target: Path) -> dict[str, Any]:
    await asyncio.to_thread(_copy_sqlite, sqlite_path(url), target)
    copy = Database(make_engine(f"sqlite+aiosqlite:///{target}"))
    try:
        async with copy.session_scope() as session:
            return await _describe(session)
    finally:
        await copy.dispose()


async def _backup_postgres(db: Database, url: str, target: Path) -> dict[str, Any]:
    pg_dump = pg_tool("pg_dump")
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
            described = await _describe(AsyncSession(bind=conn))
            # The dump sees exactly the snapshot the positions were read in; the exporting
            # transaction must stay open until pg_dump has taken it up.
            process = await asyncio.create_subprocess_exec(
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot}",
                f"--file={target}",
                f"--dbname={libpq_url(url)}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _out, errors = await process.communicate()
    if process.returncode != 0:
        raise Conflict(f"pg_dump failed: {errors.decode(errors='replace').strip()}")
    return described


async def backup(
    settings: Settings | None = None, *, directory: Path | None = None, db: Database | None = None
) -> BackupResult:
    """Write a backup and its manifest into ``directory`` (default: the backup directory),
    take a checkpoint at the same time, then keep only the newest ``backup_keep``."""
    settings = settings or get_settings()
    directory = (directory or settings.backups_path).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    if url.startswith("sqlite") and not sqlite_path(url).exists():
        raise InvalidInput(f"there is no database at {sqlite_path(url)}", field="database_url")
    own = db is None
    db = db or Database(make_engine(url))
    try:
        started = time.perf_counter()
        at = clock.now()
        # The checkpoint first: it signs a chain position the copy then holds or passes, so
        # whatever a later checkpoint proves beyond the copy is what this backup lost.
        async with db.session_scope() as session:
            checkpoint = await checkpoints.take(session, settings=settings)
        kind = "postgresql" if db.dialect == "postgresql" else "sqlite"
        name = f"smartcity-{_stamp()}"
        dump = directory / (name + (".dump" if kind == "postgresql" else ".db"))
        partial = dump.with_name(dump.name + ".partial")
        if kind == "postgresql":
            described = await _backup_postgres(db, url, partial)
        else:
            described = await _backup_sqlite(url, partial)
        os.replace(partial, dump)
        manifest = {
            "format": FORMAT,
            "at": at.isoformat(),
            "database": kind,
            "platform_version": smartcity.__version__,
            "file": dump.name,
            "bytes": dump.stat().st_size,
            "sha256": await asyncio.to_thread(_sha256, dump),
            **described,
            "checkpoint": orjson.loads(checkpoint.line()),
            "seconds": round(time.perf_counter() - started, 3),
        }
        manifest_path = directory / (name + MANIFEST_SUFFIX)
        manifest_path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        async with db.session_scope() as session:
            await events.BACKUP_WRITTEN.emit(
                session,
                events.BackupWritten(
                    path=str(dump),
                    manifest=str(manifest_path),
                    at=manifest["at"],
                    database=kind,
                    checkpoint=checkpoint.number,
                ),
            )
        removed = prune(directory, settings.backup_keep)
        return BackupResult(dump, manifest_path, manifest, removed)
    finally:
        if own:
            await db.dispose()


def backups(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The backups in a directory, oldest first, with their manifests."""
    found = []
    for manifest_path in directory.glob("*" + MANIFEST_SUFFIX):
        try:
            manifest = orjson.loads(manifest_path.read_bytes())
        except orjson.JSONDecodeError:
            continue
        if isinstance(manifest, dict) and manifest.get("format") == FORMAT:
            found.append((manifest_path, manifest))
    return sorted(found, key=lambda pair: str(pair[1].get("at")))


def prune(directory: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` backups (dump and manifest); returns what went."""
    removed: list[Path] = []
    every = backups(directory)
    for manifest_path, manifest in every[: max(len(every) - max(keep, 1), 0)]:
        dump = directory / str(manifest.get("file", ""))
        for file in (dump, manifest_path):
            if file.is_file():
                file.unlink()
                removed.append(file)
    return removed


async def run_backup_job(session: AsyncSession) -> None:
    """core.backup.scheduled: a backup when the newest is older than backup_interval_hours."""
    settings = get_settings()
    if settings.backup_interval_hours <= 0:
        return
    every = backups(settings.backups_path)
    if every:
        newest = datetime.fromisoformat(str(every[-1][1]["at"]))
        if clock.now() - newest < timedelta(hours=settings.backup_interval_hours):
            return
    # Its own connections: the job's session would hold SQLite's write lock all along.
    await backup(settings)


# --- restore -----------------------------------------------------------------------------


def read_manifest(manifest_path: Path) -> dict[str, Any]:
    """A manifest, checked enough to restore from; InvalidInput says what is wrong."""
    if not manifest_path.is_file():
        raise InvalidInput(f"there is no manifest at {manifest_path}", field="manifest")
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{manifest_path} is not JSON: {exc}", field="manifest") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{manifest_path} is not a {FORMAT} manifest", field="manifest")
    for key in ("file", "database", "sha256", "positions", "chains", "at"):
        if key not in manifest:
            raise InvalidInput(f"the manifest has no {key!r}", field="manifest")
    if manifest["database"] not in ("sqlite", "postgresql"):
        raise InvalidInput(f"unknown database kind {manifest['database']!r}", field="manifest")
    return manifest


async def _has_tables(conn: AsyncConnection) -> bool:
    return bool(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def _check_target(url: str, force: bool) -> None:
    """Only an empty database is restored into without --force: even a freshly migrated one
    holds seeded departments and their audit entries, which the restore would drop."""
    if url.startswith("sqlite") and not sqlite_path(url).exists():
        return
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            has_tables = await _has_tables(conn)
    finally:
        await engine.dispose()
    if has_tables and not force:
        raise Conflict(
            "the target database is not empty; restore into an empty one (a new SQLite file, "
            "or a database made with createdb), or pass --force to replace it"
        )


def _restore_sqlite(dump: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_sqlite(dump, target)


async def _restore_postgres(url: str, dump: Path) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            # The dump carries the whole schema; what the target had (a fresh migration, or
            # with --force a platform in use) goes first.
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    process = await asyncio.create_subprocess_exec(
        pg_tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={libpq_url(url)}",
        str(dump),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, errors = await process.communicate()
    if process.returncode != 0:
        raise Conflict(f"pg_restore failed: {errors.decode(errors='replace').strip()}")


def newest_positions(
    manifest: dict[str, Any], latest: checkpoints.Checkpoint | None
) -> dict[str, int]:
    """Per table, the higher of the backup's position and that of a checkpoint taken later."""
    positions = {str(k): int(v) for k, v in manifest["positions"].items()}
    # Positions only grow, so the higher of the two is right whichever was recorded first.
    if latest is not None:
        for table, value in latest.body.get("positions", {}).items():
            positions[table] = max(positions.get(table, 0), int(value))
    return positions


async def _advance_postgres(
    session: AsyncSession, positions: dict[str, int], gap: int
) -> tuple[dict[str, int], list[str]]:
    advanced: dict[str, int] = {}
    owned = (
        await session.execute(
            text(
                "SELECT t.relname, quote_ident(n.nspname) || '.' || quote_ident(q.relname)"
                " FROM pg_class t"
                " JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()"
                " JOIN pg_depend d ON d.refobjid = t.oid AND d.deptype IN ('a', 'i')"
                "  AND d.classid = 'pg_class'::regclass"
                " JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S'"
            )
        )
    ).all()
    for table, sequence in owned:
        if table in positions:
            value = positions[table] + gap
            await session.execute(
                text("SELECT setval(CAST(:s AS regclass), :v, true)"), {"s": sequence, "v": value}
            )
            advanced[table] = value
    return advanced, []


async def _advance_sqlite(
    session: AsyncSession, positions: dict[str, int], gap: int
) -> tuple[dict[str, int], list[str]]:
    advanced: dict[str, int] = {}
    autoincrement = {
        name
        for name, sql in await session.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        )
        if sql and "AUTOINCREMENT" in sql.upper()
    }
    for table, position in positions.items():
        if table not in autoincrement:
            continue
        value = position + gap
        # sqlite_sequence has no key: update the row, or add it when the table never had one.
        updated = await session.execute(
            text("UPDATE sqlite_sequence SET seq = max(seq, :v) WHERE name = :t"),
            {"v": value, "t": table},
        )
        if not updated.rowcount:  # type: ignore[attr-defined]
            await session.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :v)"),
                {"t": table, "v": value},
            )
        advanced[table] = value
    return advanced, sorted(set(positions) - autoincrement)


def lost_entries(manifest: dict[str, Any], genuine: list[checkpoints.Checkpoint]) -> list[Lost]:
    """What the newest genuine checkpoint proves existed beyond the backup, per chain."""
    lost: list[Lost] = []
    for name, head in manifest["chains"].items():
        best: tuple[int, checkpoints.Checkpoint] | None = None
        for checkpoint in genuine:
            seq = int(checkpoint.body["chains"].get(name, {}).get("seq", 0))
            if seq > int(head["seq"]) and (best is None or seq > best[0]):
                best = (seq, checkpoint)
        if best is not None:
            lost.append(Lost(name, int(head["seq"]), best[1].number, best[0], best[1].body["at"]))
    return lost


async def restore(
    manifest_path: Path, settings: Settings | None = None, *, force: bool = False
) -> RestoreReport:
    """Restore a backup into the configured database, bring its schema to this version, move
    every id counter past what was handed out, and say which audit entries are lost."""
    settings = settings or get_settings()
    manifest = read_manifest(manifest_path)
    dump = manifest_path.parent / str(manifest["file"])
    if not dump.is_file():
        raise InvalidInput(f"the backup file {dump} is missing", field="manifest")
    url = settings.effective_database_url
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    if manifest["database"] != kind:
        raise InvalidInput(
            f"a {manifest['database']} backup cannot be restored into {kind}", field="database_url"
        )
    if await asyncio.to_thread(_sha256, dump) != manifest["sha256"]:
        raise InvalidInput(
            f"{dump} does not match its manifest (damaged or replaced)", field="manifest"
        )
    await _check_target(url, force)
    started = time.perf_counter()
    if kind == "sqlite":
        await asyncio.to_thread(_restore_sqlite, dump, sqlite_path(url))
    else:
        await _restore_postgres(url, dump)
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            genuine = (await checkpoints.load(session, settings=settings)).checkpoints
            latest = max(genuine, key=lambda c: c.number, default=None)
            positions = newest_positions(manifest, latest)
            advance = _advance_postgres if kind == "postgresql" else _advance_sqlite
            advanced, not_advanced = await advance(session, positions, settings.restore_id_gap)
    finally:
        await db.dispose()
    return RestoreReport(
        manifest,
        round(time.perf_counter() - started, 3),
        advanced,
        not_advanced,
        lost_entries(manifest, genuine),
    )
