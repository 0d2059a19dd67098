"""Backup and restore (core.backup): a backup taken while writers commit holds every row
acknowledged before it started, restores into a fresh database with id counters moved past
what was handed out, and `audit verify` names the entries lost after it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from smartcity.core import audit, backup, checkpoints
from smartcity.core.db import Database, make_engine
from smartcity.core.errors import Conflict, InvalidInput
from smartcity.core.migrate import upgrade
from smartcity.core.models import AuditEntry
from smartcity.sensing.models import StaObservedProperty
from smartcity.settings import Settings, configure
from tests.conftest import POSTGRES_URL, _recreate_postgres_database, postgres_database_name
from tests.core.factories import ROOT
from tests.core.test_cli import smartcity

WRITERS = 3


def fresh_url(backend: str, tmp_path: Path, purpose: str) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / (purpose + '.db')}"
    return asyncio.run(_recreate_postgres_database(POSTGRES_URL, postgres_database_name(purpose)))


@pytest.fixture(params=["sqlite"] + (["postgresql"] if POSTGRES_URL else []))
def platform(request, settings: Settings, tmp_path: Path) -> Settings:
    """A migrated database of this test's own (not the rolled-back one: a backup reads what
    was committed), with checkpoints and backups in this test's directory."""
    url = fresh_url(request.param, tmp_path, "backup_source")
    upgrade(url)
    return configure(
        settings.model_copy(
            update={
                "database_url": url,
                "checkpoint_dir": tmp_path / "checkpoints",
                "backup_dir": tmp_path / "backups",
                "restore_id_gap": 1000,
            }
        )
    )


def target(platform: Settings, tmp_path: Path) -> Settings:
    """The same platform pointed at a fresh, empty database."""
    backend = "sqlite" if platform.is_sqlite else "postgresql"
    return configure(
        platform.model_copy(update={"database_url": fresh_url(backend, tmp_path, "backup_target")})
    )


async def commit_row(db: Database, n: int) -> tuple[int, int]:
    """One unit of work: an audit entry and an observed property; (seq, id) once committed."""
    async with db.session_scope() as session:
        entry = await audit.log(session, ROOT, "test.backup.write", f"row {n}")
        prop = StaObservedProperty(name=f"p{n}", definition="urn:test", description="")
        session.add(prop)
        await session.flush()
        seq, prop_id = entry.seq, prop.id
    return seq, prop_id


class Load:
    """Writers committing rows until stopped; ``acknowledged`` holds what they were told."""

    def __init__(self, db: Database) -> None:
        self.db, self.acknowledged = db, []
        self.stop = asyncio.Event()
        self.counter = 0
        self.waiters: list[tuple[int, asyncio.Event]] = []

    async def writer(self) -> None:
        while not self.stop.is_set():
            self.counter += 1
            self.acknowledged.append(await commit_row(self.db, self.counter))
            for at, event in self.waiters:
                if len(self.acknowledged) >= at:
                    event.set()

    async def reached(self, count: int) -> None:
        event = asyncio.Event()
        self.waiters.append((count, event))
        if len(self.acknowledged) >= count:
            event.set()
        await event.wait()


async def backup_under_load(platform: Settings) -> tuple[backup.BackupResult, list, list]:
    db = Database(make_engine(platform.effective_database_url))
    load = Load(db)
    tasks = [asyncio.create_task(load.writer()) for _ in range(WRITERS)]
    try:
        await load.reached(20)
        before = list(load.acknowledged)
        result = await backup.backup(platform)
        await load.reached(len(load.acknowledged) + 10)  # the trail goes on after the backup
    finally:
        load.stop.set()
        await asyncio.gather(*tasks)
    async with db.session_scope() as session:
        await checkpoints.take(session, settings=platform)
    await db.dispose()
    return result, before, list(load.acknowledged)


class TestBackupUnderLoad:
    def test_restore_holds_every_acknowledged_row_and_reports_the_gap(
        self, platform: Settings, tmp_path: Path
    ) -> None:
        result, before, everything = asyncio.run(backup_under_load(platform))
        manifest = result.manifest
        backup_seq = manifest["chains"]["audit"]["seq"]
        assert manifest["database"] == ("sqlite" if platform.is_sqlite else "postgresql")
        assert manifest["alembic_revision"] and manifest["platform_version"]
        assert manifest["checkpoint"]["checkpoint"]["number"] == 1
        assert result.manifest_path.parent == tmp_path / "backups"

        restored = target(platform, tmp_path)
        report = asyncio.run(backup.restore(result.manifest_path, restored))

        async def check() -> None:
            db = Database(make_engine(restored.effective_database_url))
            try:
                async with db.session_scope() as session:
                    seqs = set((await session.execute(select(AuditEntry.seq))).scalars())
                    ids = set((await session.execute(select(StaObservedProperty.id))).scalars())
                    verdict = await audit.verify(session, restored.resolved_secret())
                # Every row acknowledged before the backup began is back, and the copy is
                # one consistent state: the trail runs 1..N without a hole.
                assert {seq for seq, _id in before} <= seqs
                assert {prop_id for _seq, prop_id in before} <= ids
                assert seqs == set(range(1, backup_seq + 1))
                acknowledged = dict(everything)
                assert ids == {acknowledged[s] for s in seqs if s in acknowledged}
                newest = max(seq for seq, _id in everything)
                assert not verdict.intact
                assert f"trail ends at entry {backup_seq}, checkpoint 2" in verdict.reason
                assert f"entries {backup_seq + 1}..{newest} lost" in verdict.reason
                # Ids handed out after the backup are never handed out again.
                _seq, new_id = await commit_row(db, 0)
                assert new_id > max(prop_id for _seq, prop_id in everything)
            finally:
                await db.dispose()

        asyncio.run(check())
        assert [lost.describe() for lost in report.lost if lost.chain == "audit"] == [
            f"audit: trail ends at {backup_seq}, checkpoint 2 "
            f"({report.lost[0].checkpoint_at}) at {max(s for s, _ in everything)}: entries "
            f"{backup_seq + 1}..{max(s for s, _ in everything)} lost"
        ]
        assert report.advanced["sta_observed_property"] >= 1000


class TestRestoreRefuses:
    def test_a_database_in_use(self, platform: Settings) -> None:
        asyncio.run(one_row(platform))
        result = asyncio.run(backup.backup(platform))
        with pytest.raises(Conflict, match="--force"):
            asyncio.run(backup.restore(result.manifest_path, platform))
        report = asyncio.run(backup.restore(result.manifest_path, platform, force=True))
        assert report.lost == []

    def test_a_missing_or_garbled_manifest(self, platform: Settings, tmp_path: Path) -> None:
        with pytest.raises(InvalidInput, match="no manifest"):
            asyncio.run(backup.restore(tmp_path / "nothing.json", platform))
        garbled = tmp_path / "garbled.manifest.json"
        garbled.write_text("{not json")
        with pytest.raises(InvalidInput, match="not JSON"):
            asyncio.run(backup.restore(garbled, platform))
        garbled.write_text('{"format": "something else"}')
        with pytest.raises(InvalidInput, match="not a smartcity-backup/v1"):
            asyncio.run(backup.restore(garbled, platform))

    def test_a_damaged_dump(self, platform: Settings, tmp_path: Path) -> None:
        asyncio.run(one_row(platform))
        result = asyncio.run(backup.backup(platform))
        with result.dump.open("ab") as handle:
            handle.write(b"x")
        with pytest.raises(InvalidInput, match="does not match its manifest"):
            asyncio.run(backup.restore(result.manifest_path, target(platform, tmp_path)))

    def test_another_kind_of_database(self, platform: Settings, tmp_path: Path) -> None:
        asyncio.run(one_row(platform))
        result = asyncio.run(backup.backup(platform))
        manifest = orjson.loads(result.manifest_path.read_bytes())
        manifest["database"] = "postgresql" if platform.is_sqlite else "sqlite"
        result.manifest_path.write_bytes(orjson.dumps(manifest))
        with pytest.raises(InvalidInput, match="cannot be restored into"):
            asyncio.run(backup.restore(result.manifest_path, platform))


async def one_row(platform: Settings) -> None:
    db = Database(make_engine(platform.effective_database_url))
    try:
        await commit_row(db, 1)
    finally:
        await db.dispose()


class TestRetentionAndSchedule:
    def test_keeps_the_newest(self, platform: Settings) -> None:
        configure(platform.model_copy(update={"backup_keep": 2}))
        asyncio.run(one_row(platform))
        results = [asyncio.run(backup.backup()) for _ in range(3)]
        kept = backup.backups(platform.backups_path)
        assert [path for path, _m in kept] == [r.manifest_path for r in results[1:]]
        assert not results[0].dump.exists() and results[2].removed == [
            results[0].dump,
            results[0].manifest_path,
        ]

    def test_job_is_off_by_default_and_runs_when_due(self, platform: Settings) -> None:
        asyncio.run(one_row(platform))
        asyncio.run(backup.run_backup_job(None))  # type: ignore[arg-type]
        assert backup.backups(platform.backups_path) == []
        configure(platform.model_copy(update={"backup_interval_hours": 24}))
        asyncio.run(backup.run_backup_job(None))  # type: ignore[arg-type]
        asyncio.run(backup.run_backup_job(None))  # type: ignore[arg-type]
        assert len(backup.backups(platform.backups_path)) == 1  # the second was not due


class TestCommands:
    def test_backup_and_restore_commands(self, tmp_path: Path, settings: Settings) -> None:
        source = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
        configure(settings.model_copy(update={"checkpoint_dir": tmp_path / "cp"}))
        assert smartcity("db", "upgrade", "--database-url", source).exit_code == 0
        r = smartcity("audit", "checkpoint", "--database-url", source)
        assert r.exit_code == 0 and "checkpoint 1" in r.output, r.output
        r = smartcity("backup", "--dir", str(tmp_path / "b"), "--database-url", source)
        assert r.exit_code == 0 and "backup written" in r.output, r.output
        (manifest,) = (tmp_path / "b").glob("*.manifest.json")
        r = smartcity("restore", str(manifest), "--database-url", source)
        assert r.exit_code == 1 and "--force" in r.output  # the source is in use
        fresh = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'restored.db'}"
        r = smartcity("restore", str(manifest), "--database-url", fresh)
        assert r.exit_code == 0 and "nothing is known to be lost" in r.output, r.output
        with sqlite3.connect(tmp_path / "fresh" / "restored.db") as conn:
            assert conn.execute("SELECT count(*) FROM department").fetchone()[0] == 15
        r = smartcity("restore", str(tmp_path / "nope.json"), "--database-url", source)
        assert r.exit_code == 1 and "no manifest" in r.output
        r = smartcity("audit", "verify", "--database-url", fresh)
        assert r.exit_code == 0 and "2 signed checkpoint(s)" in r.output, r.output

    def test_backup_of_a_missing_database(self, tmp_path: Path) -> None:
        r = smartcity(
            "backup",
            "--dir",
            str(tmp_path),
            "--database-url",
            f"sqlite+aiosqlite:///{tmp_path / 'absent' / 'x.db'}",
        )
        assert r.exit_code == 1 and "there is no database at" in r.output, r.output


class TestConcurrentWriters:
    def test_first_appends_of_fresh_sessions_are_serialized(self, platform: Settings) -> None:
        # Each writer's first statement is the append: it must still take the chain's lock.
        async def work() -> None:
            db = Database(make_engine(platform.effective_database_url))
            try:
                seqs = await asyncio.gather(*(commit_row(db, n) for n in range(6)))
                assert sorted(seq for seq, _id in seqs) == list(range(1, 7))
                async with db.session_scope() as session:
                    assert (await audit.verify(session, platform.resolved_secret())).intact
            finally:
                await db.dispose()

        asyncio.run(work())
