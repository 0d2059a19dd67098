"""The platform's signing keys and document signatures (数字签名), with audit.

Keys are generated on first use per algorithm and rotated on demand; retired keys stay so
that documents signed with them still verify.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock, signing
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput
from smartcity.core.models import SigningKey
from smartcity.settings import get_settings

ACTIONS = {
    "core.signature.sign": {"staff", "supervisor", "admin", "system"},
    "core.signing_key.manage": {"admin", "security"},
}

UNKNOWN_KEY = "signed by a key this platform does not know"


def _check(algorithm: str) -> str:
    if algorithm not in signing.ALGORITHMS:
        raise InvalidInput(
            f"Unknown algorithm {algorithm!r}; use one of {', '.join(signing.ALGORITHMS)}.",
            field="algorithm",
        )
    return algorithm


def readable_keys() -> Select[SigningKey]:
    """Public keys are public: anyone may read them to verify a document."""
    return select(SigningKey).order_by(SigningKey.created_at.desc())


async def active_key(session: AsyncSession, algorithm: str) -> SigningKey:
    """The key that signs now; generated the first time it is needed."""
    _check(algorithm)
    key = (
        await session.execute(
            select(SigningKey).where(SigningKey.algorithm == algorithm, SigningKey.active)
        )
    ).scalar_one_or_none()
    if key is None:
        key = await _new_key(session, algorithm)
    return key


async def _new_key(session: AsyncSession, algorithm: str) -> SigningKey:
    pair = signing.generate_key(algorithm, get_settings().resolved_secret())
    key = SigningKey(
        algorithm=algorithm,
        fingerprint=pair.fingerprint,
        public_key_pem=pair.public_key_pem,
        private_key_enc=pair.private_key_pem_encrypted,
        active=True,
    )
    session.add(key)
    await session.flush()
    return key


async def rotate_key(session: AsyncSession, principal: Principal, algorithm: str) -> SigningKey:
    """Retire the active key of an algorithm and make a new one."""
    authorize(principal, "core.signing_key.manage")
    _check(algorithm)
    old = (
        await session.execute(
            select(SigningKey).where(SigningKey.algorithm == algorithm, SigningKey.active)
        )
    ).scalar_one_or_none()
    if old is not None:
        old.active = False
        old.retired_at = clock.now()
        await session.flush()
    key = await _new_key(session, algorithm)
    await audit.log(
        session,
        principal,
        "core.signing_key.rotate",
        key.fingerprint,
        algorithm=algorithm,
        retired=old.fingerprint if old else None,
    )
    return key


async def sign_document(
    session: AsyncSession, principal: Principal, *, algorithm: str, document: bytes, name: str = ""
) -> signing.DetachedSignature:
    """Sign a document with the platform's active key; the signing is audited."""
    authorize(principal, "core.signature.sign")
    key = await active_key(session, algorithm)
    signature = signing.sign_document(
        algorithm,
        key.private_key_enc,
        key.public_key_pem,
        get_settings().resolved_secret(),
        document,
        clock.now(),
    )
    await audit.log(
        session,
        principal,
        "core.signature.sign",
        name[:200],
        algorithm=algorithm,
        digest=signature.digest,
        key=key.fingerprint,
    )
    return signature


async def verify_document(
    session: AsyncSession, *, document: bytes, signature_json: str | bytes
) -> tuple[signing.Verification, SigningKey | None]:
    """Check a detached signature against the document and the platform's keys. Anyone may."""
    try:
        signature = signing.DetachedSignature.from_json(signature_json)
    except signing.MalformedSignature as exc:
        raise InvalidInput(f"The signature file is not valid: {exc}", field="signature") from exc
    key = (
        await session.execute(
            select(SigningKey).where(SigningKey.fingerprint == signature.key_fingerprint)
        )
    ).scalar_one_or_none()
    if key is None:
        return signing.Verification(False, UNKNOWN_KEY), None
    return signing.verify_document(key.public_key_pem, document, signature), key
