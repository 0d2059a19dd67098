"""The audit trail (安全审计): append-only, hash-chained, with a sealed head.

Each entry carries the hash of the one before; ``verify`` recomputes the chain and names the
first entry that was edited, deleted or inserted, and the sealed head catches a cut-off tail.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.models import AuditEntry, AuditHead

GENESIS = "0" * 64
_HEAD_ID = 1
# Any fixed 64-bit number: the advisory lock that serializes appends on PostgreSQL.
_PG_LOCK_KEY = 0x5C_A0D1_7000_0001


def entry_hash(entry: AuditEntry) -> str:
    body = {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "actor_kind": entry.actor_kind,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "ip": entry.ip,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _seal(secret: bytes, seq: int, digest: str) -> str:
    return hmac.new(secret, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


async def record(
    session: AsyncSession,
    secret: bytes,
    *,
    actor: Principal | str,
    action: str,
    target: str = "",
    outcome: str = "success",
    ip: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction: it stands or falls with the change."""
    transaction = session.sync_session.get_transaction()
    if session.info.get("audit_transaction") is not transaction:
        # First append of this transaction: take the lock, then read the head afresh (the
        # session may hold a copy from an earlier transaction).
        if session.get_bind().dialect.name == "postgresql":
            # Serializes appends until commit; SQLite's BEGIN IMMEDIATE already does (core.db).
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        head = await session.get(AuditHead, _HEAD_ID, populate_existing=True)
        session.info["audit_transaction"] = transaction
    else:
        head = await session.get(AuditHead, _HEAD_ID)
    prev_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if isinstance(actor, Principal):
        actor_name, actor_kind = actor.name, actor.kind
    else:
        actor_name, actor_kind = actor, "anonymous"
    entry = AuditEntry(
        seq=prev_seq + 1,
        at=clock.now(),
        actor=actor_name[:100],
        actor_kind=actor_kind,
        action=action,
        target=target[:200],
        outcome=outcome,
        ip=ip[:64],
        detail=detail or {},
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    seal = _seal(secret, entry.seq, entry.hash)
    if head is None:
        session.add(AuditHead(id=_HEAD_ID, seq=entry.seq, hash=entry.hash, seal=seal))
    else:
        head.seq, head.hash, head.seal = entry.seq, entry.hash, seal
    await session.flush()
    return entry


async def entries(
    session: AsyncSession,
    *,
    action: str | None = None,
    actor: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """The newest entries first, filtered; ``before`` pages backwards by seq."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if before:
        query = query.where(AuditEntry.seq < before)
    return list((await session.execute(query)).scalars().all())


@dataclass
class Verdict:
    intact: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str = ""


async def _entries(session: AsyncSession, batch: int = 5000) -> AsyncIterator[AuditEntry]:
    last = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.seq > last)
                    .order_by(AuditEntry.seq)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq
        session.expunge_all()


async def verify(session: AsyncSession, secret: bytes) -> Verdict:
    """Walk the whole chain; the first entry that does not fit is the one named."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    async for entry in _entries(session):
        if entry.seq != expected_seq:
            return Verdict(
                False,
                checked,
                expected_seq,
                f"entry {expected_seq} is missing (next present is {entry.seq})",
            )
        if entry.prev_hash != expected_prev:
            return Verdict(
                False,
                checked,
                entry.seq,
                f"entry {entry.seq} does not link to entry {entry.seq - 1}",
            )
        if entry_hash(entry) != entry.hash:
            return Verdict(
                False, checked, entry.seq, f"entry {entry.seq} was changed after it was written"
            )
        expected_prev, expected_seq, checked = entry.hash, entry.seq + 1, checked + 1
    head = await session.get(AuditHead, _HEAD_ID)
    last_seq = expected_seq - 1
    if head is None:
        if checked:
            return Verdict(False, checked, 1, "the sealed head of the trail is missing")
        return Verdict(True, 0)
    if not hmac.compare_digest(head.seal, _seal(secret, head.seq, head.hash)):
        return Verdict(False, checked, head.seq, "the sealed head was forged or the key changed")
    if head.seq != last_seq or head.hash != expected_prev:
        first = min(head.seq, last_seq + 1)
        return Verdict(
            False,
            checked,
            first,
            f"the trail ends at entry {last_seq} but was sealed at entry {head.seq}",
        )
    return Verdict(True, checked)
