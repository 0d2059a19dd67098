"""Signed checkpoints of the chains (core.checkpoints): a rollback or a wipe of the audit
trail, which the sealed head cannot see, is reported with the checkpoint it contradicts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from smartcity.core import audit, chain, checkpoints, clock, events
from smartcity.core.models import AuditHead, OutboxEvent
from smartcity.exchange.models import ExchangeMessage
from smartcity.settings import Settings, configure, get_settings
from tests.core.factories import ROOT, as_database_owner

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def checkpoint_dir(settings: Settings, tmp_path: Path) -> Path:
    """A checkpoint directory of this test's own: checkpoints outlive the rolled-back data."""
    configure(settings.model_copy(update={"checkpoint_dir": tmp_path / "checkpoints"}))
    return tmp_path / "checkpoints"


async def write(session, n: int) -> list[audit.AuditEntry]:
    return [await audit.log(session, ROOT, "core.test", f"t{i}") for i in range(n)]


async def verify(session) -> chain.Verdict:
    return await audit.verify(session, get_settings().resolved_secret())


async def head_row(session) -> tuple[int, str, str]:
    head = await session.get(AuditHead, chain.AUDIT, populate_existing=True)
    return head.seq, head.hash, head.seal


async def put_back(session, seq: int, digest: str, seal: str) -> None:
    """What an intruder does with a backup: cut the trail back and restore the old head."""
    await as_database_owner(session)
    await session.execute(text("DELETE FROM audit_entry WHERE seq > :s"), {"s": seq})
    await session.execute(
        text("UPDATE audit_head SET seq = :s, hash = :h, seal = :x WHERE id = :id"),
        {"s": seq, "h": digest, "x": seal, "id": chain.AUDIT},
    )
    session.expunge_all()


class TestHonestTrail:
    async def test_verifies_against_every_checkpoint(self, session, checkpoint_dir):
        await write(session, 3)
        first = await checkpoints.take(session)
        await write(session, 2)
        second = await checkpoints.take(session)
        verdict = await verify(session)
        assert (verdict.intact, verdict.checkpoints) == (True, 2)
        assert (first.number, second.number) == (1, 2)
        assert second.body["chains"]["audit"]["seq"] == first.body["chains"]["audit"]["seq"] + 2

    async def test_checkpoint_is_outside_the_database_and_on_the_bus(self, session, checkpoint_dir):
        await write(session, 1)
        checkpoint = await checkpoints.take(session)
        lines = (checkpoint_dir / checkpoints.FILE_NAME).read_bytes().splitlines()
        assert [orjson.loads(line) for line in lines] == [orjson.loads(checkpoint.line())]
        head = await session.get(AuditHead, chain.AUDIT)
        assert checkpoint.body["chains"]["audit"] == {"seq": head.seq, "hash": head.hash}
        assert checkpoint.signature.algorithm == "SM2"
        assert checkpoint.body["positions"]["audit_entry"] >= head.seq
        published = (
            await session.execute(
                select(OutboxEvent).where(OutboxEvent.topic == events.CHAIN_CHECKPOINTED.name)
            )
        ).scalar_one()
        assert published.payload["payload"] == orjson.loads(checkpoint.line())

    async def test_p256_checkpoints(self, session, settings, tmp_path):
        configure(
            settings.model_copy(
                update={"checkpoint_dir": tmp_path, "checkpoint_algorithm": "P-256"}
            )
        )
        await write(session, 1)
        assert (await checkpoints.take(session)).signature.algorithm == "P-256"
        assert (await verify(session)).intact


class TestRollback:
    async def test_cut_back_with_old_head_restored(self, session, checkpoint_dir):
        await write(session, 2)
        old = await head_row(session)
        await write(session, 3)
        checkpoint = await checkpoints.take(session)
        await put_back(session, *old)
        verdict = await verify(session)
        assert not verdict.intact
        assert verdict.contradicted is not None
        assert verdict.contradicted.number == checkpoint.number
        newest = checkpoint.body["chains"]["audit"]["seq"]
        assert f"trail ends at entry {old[0]}" in verdict.reason
        assert f"checkpoint {checkpoint.number} (" in verdict.reason
        assert f"entries {old[0] + 1}..{newest} lost" in verdict.reason
        assert verdict.first_broken_seq == old[0] + 1

    async def test_without_the_checkpoint_the_rollback_goes_unseen(self, session, checkpoint_dir):
        # The finding, kept as a test: the sealed head alone cannot see it.
        await write(session, 2)
        old = await head_row(session)
        await write(session, 3)
        await put_back(session, *old)
        assert (await verify(session)).intact

    async def test_everything_deleted(self, session, checkpoint_dir):
        await write(session, 4)
        checkpoint = await checkpoints.take(session)
        await as_database_owner(session)
        await session.execute(text("DELETE FROM audit_entry"))
        await session.execute(text("DELETE FROM audit_head"))
        session.expunge_all()
        verdict = await verify(session)
        newest = checkpoint.body["chains"]["audit"]["seq"]
        assert not verdict.intact
        assert verdict.reason.startswith("trail ends at entry 0, checkpoint 1")
        assert f"entries 1..{newest} lost" in verdict.reason

    async def test_rolled_back_and_written_anew(self, session, checkpoint_dir):
        # Someone with the instance secret reseals: the chain is consistent again, but the
        # entry at the checkpoint's seq is not the one the checkpoint signed.
        await write(session, 2)
        old = await head_row(session)
        await write(session, 2)
        checkpoint = await checkpoints.take(session)
        await put_back(session, *old)
        await write(session, 3)
        verdict = await verify(session)
        seq = checkpoint.body["chains"]["audit"]["seq"]
        assert (verdict.intact, verdict.first_broken_seq) == (False, seq)
        assert "rolled back" in verdict.reason
        assert verdict.contradicted is not None and verdict.contradicted.number == 1


class TestCheckpointFile:
    async def test_forged_checkpoint(self, session, checkpoint_dir):
        await write(session, 2)
        await checkpoints.take(session)
        file = checkpoint_dir / checkpoints.FILE_NAME
        line = orjson.loads(file.read_bytes())
        line["checkpoint"]["chains"]["audit"]["seq"] += 100  # claims more than was signed
        file.write_bytes(orjson.dumps(line) + b"\n")
        verdict = await verify(session)
        assert not verdict.intact
        assert "checkpoint 1 is not genuine" in verdict.reason
        assert "changed after signing" in verdict.reason

    async def test_signature_of_another_key(self, session, checkpoint_dir):
        await write(session, 1)
        checkpoint = await checkpoints.take(session)
        file = checkpoint_dir / checkpoints.FILE_NAME
        line = orjson.loads(file.read_bytes())
        line["signature"]["key_fingerprint"] = "a" * 64
        file.write_bytes(orjson.dumps(line) + b"\n")
        verdict = await verify(session)
        assert not verdict.intact
        assert f"checkpoint {checkpoint.number} is not genuine" in verdict.reason

    @pytest.mark.parametrize(
        "garbage",
        [b"not json", b"[]", b'{"checkpoint": {}, "signature": {}}', b'{"a": 1}'],
    )
    async def test_unreadable_line(self, session, checkpoint_dir, garbage):
        await write(session, 1)
        await checkpoints.take(session)
        with (checkpoint_dir / checkpoints.FILE_NAME).open("ab") as handle:
            handle.write(garbage + b"\n")
        verdict = await verify(session)
        assert not verdict.intact and "line 2 of" in verdict.reason

    async def test_removed_checkpoint_line(self, session, checkpoint_dir):
        await write(session, 1)
        for _ in range(3):
            await checkpoints.take(session)
        file = checkpoint_dir / checkpoints.FILE_NAME
        lines = file.read_bytes().splitlines()
        file.write_bytes(b"\n".join([lines[0], lines[2]]) + b"\n")
        verdict = await verify(session)
        assert not verdict.intact and "checkpoint(s) 2 are missing" in verdict.reason


class TestJob:
    async def test_writes_when_due_and_something_changed(self, session, checkpoint_dir):
        file = checkpoint_dir / checkpoints.FILE_NAME
        with clock.frozen(T0) as advance:
            await write(session, 1)
            await checkpoints.run_checkpoint_job(session)
            assert len(read := checkpoints.read(file).checkpoints) == 1
            await write(session, 1)
            advance(timedelta(seconds=get_settings().checkpoint_interval_seconds - 1))
            await checkpoints.run_checkpoint_job(session)
            assert len(checkpoints.read(file).checkpoints) == 1  # not due yet
            advance(timedelta(seconds=1))
            await checkpoints.run_checkpoint_job(session)
            assert len(checkpoints.read(file).checkpoints) == 2
            advance(timedelta(hours=1))
            await checkpoints.run_checkpoint_job(session)
            assert len(checkpoints.read(file).checkpoints) == 2  # nothing changed
        assert read[0].number == 1

    async def test_switched_off(self, session, settings, tmp_path):
        configure(
            settings.model_copy(
                update={"checkpoint_dir": tmp_path, "checkpoint_interval_seconds": 0}
            )
        )
        await write(session, 1)
        await checkpoints.run_checkpoint_job(session)
        assert not (tmp_path / checkpoints.FILE_NAME).exists()


def exchange_message() -> ExchangeMessage:
    return ExchangeMessage(
        seq=1,
        message_id=uuid.uuid4(),
        at=T0,
        resource_id=uuid.uuid4(),
        consumer="test",
        end_user="",
        case_number="",
        purpose="p",
        query={},
        fields=[],
        record_ids=[],
        outcome="answered",
        request_hash="r",
        response_hash="r",
        signature="",
        prev_hash=chain.GENESIS,
        hash="h" * 64,
    )


class TestAppendOnlyTables:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE audit_entry SET target = 'forged'",
            "DELETE FROM audit_entry",
            "TRUNCATE audit_entry",
            "UPDATE exchange_message SET purpose = 'forged'",
            "DELETE FROM exchange_message",
        ],
    )
    async def test_postgresql_refuses_changes(self, session, backend, statement):
        if backend != "postgresql":
            pytest.skip("the append-only triggers are PostgreSQL's")
        await write(session, 2)
        session.add(exchange_message())
        await session.flush()
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(text(statement))
        assert (await verify(session)).intact

    async def test_the_head_still_moves(self, session, backend):
        await write(session, 1)
        before = (await head_row(session))[0]
        await write(session, 1)
        assert (await head_row(session))[0] == before + 1


class TestExchangeLog:
    async def test_wiped_message_log_is_reported(self, session, checkpoint_dir):
        from smartcity.exchange import evidence

        secret = get_settings().resolved_secret()
        head = await chain.head_for_append(session, chain.EXCHANGE)
        assert head is None
        message = exchange_message()
        message.hash = evidence.entry_hash(message)
        session.add(message)
        chain.advance(session, head, secret, chain.EXCHANGE, message.seq, message.hash)
        await session.flush()
        assert (await evidence.verify_chain(session)).intact
        checkpoint = await checkpoints.take(session)
        assert checkpoint.body["chains"]["exchange"] == {"seq": 1, "hash": message.hash}
        await as_database_owner(session)
        await session.execute(text("DELETE FROM exchange_message"))
        await session.execute(text("DELETE FROM audit_head WHERE id = :id"), {"id": chain.EXCHANGE})
        session.expunge_all()
        verdict = await evidence.verify_chain(session)
        assert not verdict.intact
        assert verdict.reason.startswith("trail ends at entry 0, checkpoint 1")
        assert "entries 1..1 lost" in verdict.reason


class TestCommand:
    def test_unknown_algorithm(self, settings, tmp_path):
        from tests.core.test_cli import smartcity

        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
        assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
        configure(
            settings.model_copy(
                update={"checkpoint_dir": tmp_path / "cp", "checkpoint_algorithm": "RSA"}
            )
        )
        r = smartcity("audit", "checkpoint", "--database-url", url)
        assert r.exit_code == 1 and "Unknown algorithm 'RSA'" in r.output, r.output
        assert not (tmp_path / "cp" / checkpoints.FILE_NAME).exists()

    def test_verify_names_the_contradicted_checkpoint(self, settings, tmp_path):
        import sqlite3

        from tests.core.test_cli import smartcity

        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
        configure(settings.model_copy(update={"checkpoint_dir": tmp_path / "cp"}))
        assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
        with sqlite3.connect(tmp_path / "cli.db") as conn:
            old = conn.execute("SELECT seq, hash, seal FROM audit_head WHERE id = 1").fetchone()
        smartcity(
            "users",
            "create",
            "zhang.san",
            "--kind",
            "citizen",
            "--name",
            "张三",
            "--database-url",
            url,
        )
        r = smartcity("audit", "checkpoint", "--database-url", url)
        assert r.exit_code == 0, r.output
        with sqlite3.connect(tmp_path / "cli.db") as conn:
            conn.execute("DELETE FROM audit_entry WHERE seq > ?", (old[0],))
            conn.execute("UPDATE audit_head SET seq = ?, hash = ?, seal = ? WHERE id = 1", old)
        r = smartcity("audit", "verify", "--database-url", url)
        assert r.exit_code == 1
        assert f"trail ends at entry {old[0]}, checkpoint 1" in r.output.replace("\n", " ")
