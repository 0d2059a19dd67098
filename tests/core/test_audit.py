"""The hash-chained audit trail (core.audit): verify finds edits, deletions and cut tails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from smartcity.core import audit, clock
from smartcity.core.authz import Principal
from tests.core.factories import as_database_owner

SECRET = b"audit-test-secret"
ACTOR = Principal(id=None, kind="admin", name="auditor-test", via="cli")


async def write(session, n: int) -> list[audit.AuditEntry]:
    entries = []
    with clock.frozen(datetime(2026, 11, 24, 8, 0, tzinfo=UTC)):
        for i in range(n):
            entries.append(
                await audit.record(
                    session,
                    SECRET,
                    actor=ACTOR,
                    action="core.test",
                    target=f"t{i}",
                    detail={"i": i, "名称": "测试"},
                )
            )
    return entries


class TestRecord:
    async def test_chain_links(self, session):
        first, second = await write(session, 2)
        assert second.prev_hash == first.hash
        assert second.seq == first.seq + 1
        assert second.hash == audit.entry_hash(second)

    async def test_anonymous_actor(self, session):
        entry = await audit.record(
            session, SECRET, actor="someone", action="core.sign_in", outcome="failure"
        )
        assert entry.actor_kind == "anonymous"


class TestVerify:
    async def test_intact(self, session):
        await write(session, 5)
        verdict = await audit.verify(session, SECRET)
        assert verdict.intact and verdict.checked >= 5

    async def test_empty_trail_is_intact(self, session):
        await as_database_owner(session)
        await session.execute(text("DELETE FROM audit_entry"))
        await session.execute(text("DELETE FROM audit_head"))
        verdict = await audit.verify(session, SECRET)
        assert verdict.intact and verdict.checked == 0

    async def test_edited_entry(self, session):
        entries = await write(session, 5)
        victim = entries[2].seq
        session.expunge_all()
        await as_database_owner(session)
        await session.execute(
            text("UPDATE audit_entry SET target = 'forged' WHERE seq = :s"), {"s": victim}
        )
        verdict = await audit.verify(session, SECRET)
        assert not verdict.intact
        assert verdict.first_broken_seq == victim
        assert "changed" in verdict.reason

    async def test_edited_and_rehashed_entry(self, session):
        entries = await write(session, 5)
        victim = entries[1]
        session.expunge_all()
        # A careful forger recomputes the entry's own hash; the next link then breaks.
        await as_database_owner(session)
        await session.execute(
            text("UPDATE audit_entry SET target = 'forged', hash = :h WHERE seq = :s"),
            {"h": "f" * 64, "s": victim.seq},
        )
        verdict = await audit.verify(session, SECRET)
        assert not verdict.intact and verdict.first_broken_seq == victim.seq

    async def test_deleted_entry(self, session):
        entries = await write(session, 5)
        victim = entries[3].seq
        session.expunge_all()
        await as_database_owner(session)
        await session.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": victim})
        verdict = await audit.verify(session, SECRET)
        assert not verdict.intact
        assert verdict.first_broken_seq == victim
        assert "missing" in verdict.reason

    async def test_cut_tail(self, session):
        entries = await write(session, 5)
        session.expunge_all()
        await as_database_owner(session)
        await session.execute(
            text("DELETE FROM audit_entry WHERE seq = :s"), {"s": entries[-1].seq}
        )
        verdict = await audit.verify(session, SECRET)
        assert not verdict.intact
        assert verdict.first_broken_seq == entries[-1].seq

    async def test_forged_head(self, session):
        await write(session, 3)
        session.expunge_all()
        await session.execute(text("UPDATE audit_head SET seq = seq - 1"))
        verdict = await audit.verify(session, SECRET)
        assert not verdict.intact and "forged" in verdict.reason

    async def test_wrong_instance_secret(self, session):
        await write(session, 2)
        verdict = await audit.verify(session, b"another-secret")
        assert not verdict.intact


@pytest.mark.parametrize("n", [1, 3])
async def test_entries_keep_unicode_detail(session, n):
    entries = await write(session, n)
    assert entries[-1].detail["名称"] == "测试"
