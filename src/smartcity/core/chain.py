"""Hash chains with a sealed head, shared by the audit trail and the exchange message log.

Each entry carries the hash of the one before and its own hash over canonical JSON; the
newest (seq, hash) of each chain is kept in ``audit_head`` under the chain's id and sealed with
an HMAC of the instance secret, so a cut-off tail is caught too. The sealed head cannot catch a
rollback (the tail cut and an older head put back) nor a wipe: signed checkpoints written outside
the database (core.checkpoints) can, and ``verify`` checks the chain against every one of them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import AuditHead

GENESIS = "0" * 64
AUDIT = 1
EXCHANGE = 2
NAMES = {AUDIT: "audit", EXCHANGE: "exchange"}
# Advisory lock keys that serialize appends per chain on PostgreSQL (any fixed numbers).
_PG_LOCK_BASE = 0x5C_A0D1_7000_0000


def canonical_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def seal(secret: bytes, chain: int, seq: int, digest: str) -> str:
    return hmac.new(secret, f"{chain}:{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


async def head_for_append(session: AsyncSession, chain: int) -> AuditHead | None:
    """The chain's head, locked for this transaction: appends are serialized until commit."""
    # Begin first: a session that has run nothing yet has no transaction, and None would match
    # the missing marker below, so its first append would skip the lock (two writers then
    # read the same head and collide on the seq).
    await session.connection()
    transaction = session.sync_session.get_transaction()
    assert transaction is not None
    key = f"chain-{chain}-transaction"
    if session.info.get(key) is not transaction:
        # First append of this transaction: take the lock, then read the head afresh (the
        # session may hold a copy from an earlier transaction).
        if session.get_bind().dialect.name == "postgresql":
            # SQLite's BEGIN IMMEDIATE already serializes writers (core.db).
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_BASE + chain}
            )
        session.info[key] = transaction
        return await session.get(AuditHead, chain, populate_existing=True)
    return await session.get(AuditHead, chain)


def advance(
    session: AsyncSession, head: AuditHead | None, secret: bytes, chain: int, seq: int, digest: str
) -> None:
    """Move the sealed head to the entry just appended."""
    sealed = seal(secret, chain, seq, digest)
    if head is None:
        session.add(AuditHead(id=chain, seq=seq, hash=digest, seal=sealed))
    else:
        head.seq, head.hash, head.seal = seq, digest, sealed


@dataclass
class Verdict:
    intact: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str = ""
    # Signed checkpoints the chain was checked against (core.checkpoints).
    checkpoints: int = 0
    # The checkpoint the chain contradicts, when that is what broke it.
    contradicted: Anchor | None = None


@dataclass(frozen=True)
class Link:
    """What verify needs of one entry: its seq, stored hashes, and its hash recomputed."""

    seq: int
    prev_hash: str
    stored_hash: str
    computed_hash: str


@dataclass(frozen=True)
class Anchor:
    """What a signed checkpoint says of one chain: at ``at`` its entry ``seq`` had ``hash``."""

    number: int
    seq: int
    hash: str
    at: str

    def describe(self) -> str:
        return f"checkpoint {self.number} ({self.at}) at entry {self.seq}"


@dataclass
class Anchors:
    """The checkpoints of one chain, and what was wrong with the checkpoint files themselves."""

    anchors: list[Anchor] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def verify(
    session: AsyncSession,
    secret: bytes,
    chain: int,
    links: AsyncIterator[Link],
    anchors: Anchors | None = None,
) -> Verdict:
    """Walk a chain in seq order; the first entry that does not fit is the one named.

    ``anchors`` defaults to the signed checkpoints of the configured directory; an entry that
    differs from a checkpoint, or a chain that ends before the newest one, is a rollback.
    """
    if anchors is None:
        from smartcity.core import checkpoints

        anchors = await checkpoints.anchors(session, chain)
    if anchors.problems:
        return Verdict(False, 0, None, anchors.problems[0], checkpoints=len(anchors.anchors))
    verdict = await _walk(session, secret, chain, links, anchors.anchors)
    verdict.checkpoints = len(anchors.anchors)
    return verdict


def _against(link: Link, at_seq: dict[int, list[Anchor]]) -> Anchor | None:
    for anchor in at_seq.get(link.seq, ()):
        if anchor.hash != link.stored_hash:
            return anchor
    return None


async def _walk(
    session: AsyncSession,
    secret: bytes,
    chain: int,
    links: AsyncIterator[Link],
    anchors: Sequence[Anchor],
) -> Verdict:
    at_seq: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        at_seq.setdefault(anchor.seq, []).append(anchor)
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    async for link in links:
        if link.seq != expected_seq:
            return Verdict(
                False,
                checked,
                expected_seq,
                f"entry {expected_seq} is missing (next present is {link.seq})",
            )
        if link.prev_hash != expected_prev:
            return Verdict(
                False, checked, link.seq, f"entry {link.seq} does not link to entry {link.seq - 1}"
            )
        if link.computed_hash != link.stored_hash:
            return Verdict(
                False, checked, link.seq, f"entry {link.seq} was changed after it was written"
            )
        contradicted = _against(link, at_seq)
        if contradicted is not None:
            return Verdict(
                False,
                checked,
                link.seq,
                f"entry {link.seq} is not the entry {contradicted.describe()} signed: the "
                f"trail was rolled back past it and written anew",
                contradicted=contradicted,
            )
        expected_prev, expected_seq, checked = link.stored_hash, link.seq + 1, checked + 1
    last_seq = expected_seq - 1
    newest = max(anchors, key=lambda a: a.seq, default=None)
    if newest is not None and newest.seq > last_seq:
        # Before the head check: a wiped trail has no head, a rolled-back one an old valid head;
        # either way the checkpoint is the evidence that names what is gone.
        return Verdict(
            False,
            checked,
            last_seq + 1,
            f"trail ends at entry {last_seq}, {newest.describe()}: "
            f"entries {last_seq + 1}..{newest.seq} lost",
            contradicted=newest,
        )
    head = await session.get(AuditHead, chain, populate_existing=True)
    if head is None:
        if checked:
            return Verdict(False, checked, 1, "the sealed head of the chain is missing")
        return Verdict(True, 0)
    if not hmac.compare_digest(head.seal, seal(secret, chain, head.seq, head.hash)):
        return Verdict(False, checked, head.seq, "the sealed head was forged or the key changed")
    if head.seq != last_seq or head.hash != expected_prev:
        return Verdict(
            False,
            checked,
            min(head.seq, last_seq + 1),
            f"the chain ends at entry {last_seq} but was sealed at entry {head.seq}",
        )
    return Verdict(True, checked)
