"""Signed checkpoints of the hash chains (审计日志锚定), kept outside the database.

A hash chain with a sealed head cannot see a rollback (its tail cut and an older sealed head put
back, say from a backup) nor a wipe (every entry and the head deleted): what is left is a
consistent, shorter chain. So every so often the platform signs what both chains looked like
(seq and hash of the newest entry, the time, and the id positions of every integer-id table)
with its SM2 or P-256 key and appends it to a file outside the database
(``checkpoint_dir``, one JSON object a line) and publishes it on the bus; ``verify`` then
refuses a chain that ends before, or differs from, what a checkpoint signed.

The signature is a detached signature (core.signing) over the canonical JSON of the
``checkpoint`` object, so a checkpoint file can be checked with ``smartcity verify`` too.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import chain, clock, events, signatures, signing
from smartcity.core.models import AuditHead, SigningKey
from smartcity.settings import Settings, get_settings

FORMAT = "smartcity-chain-checkpoint/v1"
FILE_NAME = "checkpoints.jsonl"
# Tables the schema tool and SQLite keep for themselves.
_NOT_RECORDS = {"alembic_version", "sqlite_sequence"}


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint as its line holds it."""

    body: dict[str, Any]
    signature: signing.DetachedSignature

    @property
    def number(self) -> int:
        return int(self.body["number"])

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.body["at"])

    def line(self) -> bytes:
        return orjson.dumps({"checkpoint": self.body, "signature": asdict(self.signature)})


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).checkpoints_path / FILE_NAME


# --- id positions ------------------------------------------------------------------------


async def id_positions(session: AsyncSession) -> dict[str, int]:
    """The highest id handed out so far in every table with an integer id: what a restore
    must move its counters past so that no id is given out twice."""
    if session.get_bind().dialect.name == "postgresql":
        return await _postgres_positions(session)
    return await _sqlite_positions(session)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _postgres_positions(session: AsyncSession) -> dict[str, int]:
    owned = (
        await session.execute(
            text(
                "SELECT t.relname, a.attname, s.last_value"
                " FROM pg_class t"
                " JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()"
                " JOIN pg_depend d ON d.refobjid = t.oid AND d.deptype IN ('a', 'i')"
                "  AND d.classid = 'pg_class'::regclass"
                " JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S'"
                " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
                " JOIN pg_sequences s ON s.schemaname = n.nspname AND s.sequencename = q.relname"
                " WHERE t.relkind IN ('r', 'p')"
            )
        )
    ).all()
    positions: dict[str, int] = {}
    for table, column, last_value in owned:
        query = f"SELECT max({_quoted(column)}) FROM {_quoted(table)}"  # noqa: S608
        highest = (await session.execute(text(query))).scalar_one()
        positions[table] = max(int(last_value or 0), int(highest or 0))
    return dict(sorted(positions.items()))


async def _sqlite_positions(session: AsyncSession) -> dict[str, int]:
    tables = (
        await session.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        )
    ).scalars()
    sequence: dict[str, int] = {}
    if (
        await session.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")
        )
    ).first():
        sequence = {
            name: int(seq)
            for name, seq in (await session.execute(text("SELECT name, seq FROM sqlite_sequence")))
        }
    positions: dict[str, int] = {}
    for table in list(tables):
        if table in _NOT_RECORDS:
            continue
        columns = (await session.execute(text(f"PRAGMA table_info({_quoted(table)})"))).all()
        keys = [c for c in columns if c[5]]
        # Only an INTEGER PRIMARY KEY is SQLite's rowid, the column that hands out ids.
        if len(keys) != 1 or str(keys[0][2]).upper() != "INTEGER":
            continue
        query = f"SELECT max({_quoted(keys[0][1])}) FROM {_quoted(table)}"  # noqa: S608
        highest = (await session.execute(text(query))).scalar_one()
        positions[table] = max(int(highest or 0), sequence.get(table, 0))
    return dict(sorted(positions.items()))


# --- writing -----------------------------------------------------------------------------


async def chain_heads(session: AsyncSession) -> dict[str, dict[str, Any]]:
    """Seq and hash of the newest entry of each chain (0 and the genesis hash when empty)."""
    heads: dict[str, dict[str, Any]] = {}
    for chain_id, name in chain.NAMES.items():
        head = await session.get(AuditHead, chain_id, populate_existing=True)
        heads[name] = (
            {"seq": head.seq, "hash": head.hash}
            if head
            else {
                "seq": 0,
                "hash": chain.GENESIS,
            }
        )
    return heads


def _append_numbered(file: Path, build: Callable[[int], Checkpoint]) -> Checkpoint:
    """Number, build and append a checkpoint under an exclusive lock on the file, so that two
    writers (the job and `smartcity audit checkpoint`) never take the same number."""
    created = not file.exists()
    file.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: every write lands at the end, so the file can be made append-only
    # (chattr +a) or shipped to WORM storage.
    fd = os.open(file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        known = read(file)
        checkpoint = build(
            max((c.number for c in known.checkpoints), default=0) + known.unreadable + 1
        )
        os.write(fd, checkpoint.line() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    if created:
        dir_fd = os.open(file.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return checkpoint


async def take(session: AsyncSession, *, settings: Settings | None = None) -> Checkpoint:
    """Sign the chains' heads and the id positions now, append them to the checkpoint file
    and publish them on the bus (after this transaction commits)."""
    settings = settings or get_settings()
    chains, positions = await chain_heads(session), await id_positions(session)
    algorithm = settings.checkpoint_algorithm
    key = await signatures.active_key(session, algorithm)
    secret = settings.resolved_secret()

    def build(number: int) -> Checkpoint:
        body = {
            "format": FORMAT,
            "number": number,
            "at": clock.now().isoformat(timespec="seconds"),
            "database": session.get_bind().dialect.name,
            "chains": chains,
            "positions": positions,
        }
        signature = signing.sign_document(
            algorithm, key.private_key_enc, key.public_key_pem, secret, canonical(body), clock.now()
        )
        return Checkpoint(body, signature)

    checkpoint = _append_numbered(path(settings), build)
    await events.CHAIN_CHECKPOINTED.emit(
        session, events.ChainCheckpointed.model_validate(orjson.loads(checkpoint.line()))
    )
    return checkpoint


async def run_checkpoint_job(session: AsyncSession) -> None:
    """core.chains.checkpoint: a checkpoint when the last is older than the interval and
    something changed since (an unchanged checkpoint proves nothing new)."""
    settings = get_settings()
    if settings.checkpoint_interval_seconds <= 0:
        return
    latest = max(read(path(settings)).checkpoints, key=lambda c: c.number, default=None)
    if latest is not None:
        if clock.now() - latest.at < timedelta(seconds=settings.checkpoint_interval_seconds):
            return
        if (
            latest.body.get("chains") == await chain_heads(session)
            and _moved(latest.body.get("positions", {}), await id_positions(session)) == set()
        ):
            return
    await take(session, settings=settings)


def _moved(before: dict[str, int], now: dict[str, int]) -> set[str]:
    # A checkpoint's own bus event moves the outbox: that alone is nothing new to sign.
    return {t for t in set(before) | set(now) if before.get(t) != now.get(t)} - {"outbox_event"}


# --- reading and checking ----------------------------------------------------------------


@dataclass
class FileContents:
    checkpoints: list[Checkpoint]
    problems: list[str]
    unreadable: int = 0


def _parse(raw: bytes) -> Checkpoint:
    value = orjson.loads(raw)
    if not isinstance(value, dict) or set(value) != {"checkpoint", "signature"}:
        raise ValueError("not a checkpoint object")
    body, sig = value["checkpoint"], value["signature"]
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} checkpoint")
    if not isinstance(body.get("number"), int) or not isinstance(body.get("chains"), dict):
        raise ValueError("the checkpoint has no number or no chains")
    datetime.fromisoformat(str(body.get("at")))
    if not isinstance(sig, dict):
        raise ValueError("the signature is not an object")
    return Checkpoint(body, signing.DetachedSignature.from_json(orjson.dumps(sig)))


def read(file: Path) -> FileContents:
    """Every checkpoint of a file, and a sentence for each line that is not one."""
    contents = FileContents([], [])
    if not file.exists():
        return contents
    for number, raw in enumerate(file.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            contents.checkpoints.append(_parse(raw))
        except (ValueError, TypeError, KeyError, signing.MalformedSignature) as exc:
            contents.unreadable += 1
            contents.problems.append(f"line {number} of {file} is not a checkpoint: {exc}")
    return contents


# Lines whose signature this process has verified: the file only grows, and SM2 verification
# costs about a millisecond, so every verify after the first checks only the new lines.
_GENUINE: set[bytes] = set()


class _Keys:
    """The platform's public keys by fingerprint, each read and parsed once per verify."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.loaded: dict[str, tuple[str, Any] | None] = {}

    async def get(self, fingerprint: str) -> tuple[str, Any] | None:
        if fingerprint not in self.loaded:
            key = (
                await self.session.execute(
                    select(SigningKey).where(SigningKey.fingerprint == fingerprint)
                )
            ).scalar_one_or_none()
            self.loaded[fingerprint] = (
                (key.algorithm, signing.load_public_key(key.algorithm, key.public_key_pem))
                if key
                else None
            )
        return self.loaded[fingerprint]


async def _check_signature(keys: _Keys, checkpoint: Checkpoint) -> str | None:
    line = hashlib.sha256(checkpoint.line()).digest()
    if line in _GENUINE:
        return None
    sig = checkpoint.signature
    key = await keys.get(sig.key_fingerprint)
    if key is None:
        reason = signatures.UNKNOWN_KEY
    elif key[0] != sig.algorithm:
        reason = signing.ALGORITHM_MISMATCH
    elif signing.document_digest(sig.algorithm, canonical(checkpoint.body)) != sig.digest:
        reason = signing.DOCUMENT_CHANGED
    elif not signing.verify_with_key(
        sig.algorithm, key[1], sig.signed_message(), sig.signature_bytes()
    ):
        reason = signing.SIGNATURE_MISMATCH
    else:
        _GENUINE.add(line)
        return None
    return f"checkpoint {checkpoint.number} is not genuine: {reason}"


async def load(session: AsyncSession, *, settings: Settings | None = None) -> FileContents:
    """The checkpoints whose signatures hold, with a sentence for every one that does not."""
    file = path(settings)
    contents = read(file)
    keys = _Keys(session)
    genuine: list[Checkpoint] = []
    for checkpoint in contents.checkpoints:
        problem = await _check_signature(keys, checkpoint)
        if problem:
            contents.problems.append(problem)
        else:
            genuine.append(checkpoint)
    numbers = sorted(c.number for c in genuine)
    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers)) if numbers else []
    if missing and not contents.unreadable:
        contents.problems.append(
            f"checkpoint(s) {', '.join(map(str, missing[:10]))} are missing from {file}"
        )
    contents.checkpoints = genuine
    return contents


async def anchors(session: AsyncSession, chain_id: int) -> chain.Anchors:
    """What the genuine checkpoints say of one chain, and every problem of the file."""
    contents = await load(session)
    name = chain.NAMES[chain_id]
    found = chain.Anchors(problems=list(contents.problems))
    for checkpoint in contents.checkpoints:
        head = checkpoint.body["chains"].get(name)
        if not isinstance(head, dict) or not head.get("seq"):
            continue
        found.anchors.append(
            chain.Anchor(
                checkpoint.number, int(head["seq"]), str(head["hash"]), checkpoint.body["at"]
            )
        )
    return found


def latest(settings: Settings | None = None) -> Checkpoint | None:
    """The newest checkpoint in the file (by number), signature not checked."""
    return max(read(path(settings)).checkpoints, key=lambda c: c.number, default=None)
