"""Encryption at rest of small secrets (TOTP seeds) with a key derived from the instance secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret: bytes, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose, so one leaked derived key does not expose the others."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"smartcity", info=purpose.encode()
    ).derive(secret)


def encrypt(secret: bytes, purpose: str, plaintext: bytes) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(derive_key(secret, purpose)).encrypt(nonce, plaintext, purpose.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(secret: bytes, purpose: str, token: str) -> bytes:
    raw = base64.urlsafe_b64decode(token.encode())
    return AESGCM(derive_key(secret, purpose)).decrypt(raw[:12], raw[12:], purpose.encode())


def token_hash(token: str) -> str:
    """Hash of a high-entropy random token (session, API key); a slow hash is not needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
