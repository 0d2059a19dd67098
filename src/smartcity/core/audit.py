"""The audit trail (安全审计): append-only, hash-chained, with a sealed head.

Each entry carries the hash of the one before; ``verify`` recomputes the chain and names the
first entry that was edited, deleted or inserted, and the sealed head catches a cut-off tail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import chain, clock
from smartcity.core.authz import Principal
from smartcity.core.models import AuditEntry


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
    return chain.canonical_hash(body)


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
    head = await chain.head_for_append(session, chain.AUDIT)
    prev_seq, prev_hash = (head.seq, head.hash) if head else (0, chain.GENESIS)
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
    chain.advance(session, head, secret, chain.AUDIT, entry.seq, entry.hash)
    await session.flush()
    return entry


async def log(
    session: AsyncSession,
    actor: Principal | str,
    action: str,
    target: str = "",
    outcome: str = "success",
    ip: str = "",
    **detail: Any,
) -> AuditEntry:
    """``record`` with the instance secret: what services call to audit what they do."""
    from smartcity.settings import get_settings

    return await record(
        session,
        get_settings().resolved_secret(),
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        ip=ip,
        detail=detail,
    )


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


async def _links(session: AsyncSession, batch: int = 5000) -> AsyncIterator[chain.Link]:
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
            yield chain.Link(row.seq, row.prev_hash, row.hash, entry_hash(row))
        last = rows[-1].seq
        session.expunge_all()


async def verify(session: AsyncSession, secret: bytes) -> chain.Verdict:
    """Walk the whole trail; the first entry that does not fit is the one named."""
    return await chain.verify(session, secret, chain.AUDIT, _links(session))
