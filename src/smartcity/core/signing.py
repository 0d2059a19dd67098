"""Document signatures (数字签名): SM2 国密 (GM/T 0003, SM2 with SM3) and P-256 (ECDSA, SHA-256).

Pure logic: no HTTP, no database. Private keys only ever leave this module encrypted
(PKCS#8 with a password derived from the instance secret), so a ``SigningKey`` row or a
backup of it is useless without the instance secret.

SM2 goes through ``tongsuopy`` (Tongsuo, the OpenSSL fork that implements the 商用密码
algorithms); P-256 through ``cryptography``. Each library loads only its own curve, which
also keeps an SM2 key from being used as a P-256 one and the other way round.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, TypeAlias

from cryptography import x509 as _x509
from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupported
from cryptography.hazmat.primitives import hashes as _c_hashes
from cryptography.hazmat.primitives import serialization as _c_ser
from cryptography.hazmat.primitives.asymmetric import ec as _c_ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID as _NameOID
from tongsuopy.crypto import hashes as _t_hashes
from tongsuopy.crypto import serialization as _t_ser
from tongsuopy.crypto.asymciphers import ec as _t_ec
from tongsuopy.crypto.exceptions import InternalError as _TongsuoInternalError
from tongsuopy.crypto.exceptions import InvalidSignature as _TongsuoInvalidSignature
from tongsuopy.crypto.exceptions import UnsupportedAlgorithm as _TongsuoUnsupported

from smartcity.core.secrets import derive_key

SM2 = "SM2"
P256 = "P-256"
ALGORITHMS = (SM2, P256)

# Key objects of two libraries: cryptography's EllipticCurve*Key for P-256, tongsuopy's
# (untyped) for SM2.
PrivateKey: TypeAlias = Any
PublicKey: TypeAlias = Any

# The purpose string for derive_key: the PKCS#8 password of every signing key.
KEY_PURPOSE = "signing-key"

# Group orders, to reject out-of-range r or s before the backend sees them.
_ORDER = {
    SM2: 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
    P256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}

# What verify_document says, stable so the CLI and API can match on them.
VALID = "the signature is valid"
DOCUMENT_CHANGED = "the document was changed after signing"
SIGNATURE_MISMATCH = "the signature does not match"
OTHER_KEY = "signed by another key"
ALGORITHM_MISMATCH = "the signature's algorithm does not match the key"

MESSAGE_HEADER = b"smartcity-detached-signature/v1\n"
SIGNED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SIGNED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class UnknownAlgorithm(ValueError):
    """An algorithm name that is not one of ALGORITHMS."""


class InvalidKey(ValueError):
    """A key that cannot be used: malformed, of another algorithm, or the wrong secret."""


class MalformedSignature(ValueError):
    """A detached signature file (签名文件) that cannot be read."""


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise UnknownAlgorithm(
            f"unknown signature algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}"
        )


def _password(secret: bytes) -> bytes:
    if not secret:
        # HKDF accepts an empty input, which would silently encrypt every key with a
        # password anyone can derive.
        raise ValueError("the instance secret is empty")
    return derive_key(secret, KEY_PURPOSE)


def sm3_hex(data: bytes) -> str:
    """SM3 杂凑 (GB/T 32905) of ``data``, 64 hex characters."""
    digest = _c_hashes.Hash(_c_hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def document_digest(algorithm: str, document: bytes) -> str:
    """The digest a detached signature records: SM3 for SM2, SHA-256 for P-256, in hex."""
    _check_algorithm(algorithm)
    return sm3_hex(document) if algorithm == SM2 else hashlib.sha256(document).hexdigest()


# --- keys (密钥) -------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    """A new signing key pair (签名密钥对); the private half is PKCS#8, encrypted."""

    algorithm: str
    private_key_pem_encrypted: str
    public_key_pem: str
    fingerprint: str


def _public_der(algorithm: str, public_key: PublicKey) -> bytes:
    if algorithm == SM2:
        der = public_key.public_bytes(_t_ser.Encoding.DER, _t_ser.PublicFormat.SubjectPublicKeyInfo)
        return bytes(der)
    assert isinstance(public_key, _c_ec.EllipticCurvePublicKey)
    return public_key.public_bytes(_c_ser.Encoding.DER, _c_ser.PublicFormat.SubjectPublicKeyInfo)


def _public_pem(algorithm: str, public_key: PublicKey) -> str:
    if algorithm == SM2:
        pem = public_key.public_bytes(_t_ser.Encoding.PEM, _t_ser.PublicFormat.SubjectPublicKeyInfo)
        return bytes(pem).decode("ascii")
    assert isinstance(public_key, _c_ec.EllipticCurvePublicKey)
    return public_key.public_bytes(
        _c_ser.Encoding.PEM, _c_ser.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _fingerprint_of(algorithm: str, public_key: PublicKey) -> str:
    # SHA-256 of the DER SubjectPublicKeyInfo for both algorithms: one uniform 64-hex
    # column, and the SPKI names the curve, so equal points on two curves never collide.
    return hashlib.sha256(_public_der(algorithm, public_key)).hexdigest()


def generate_key(algorithm: str, secret: bytes) -> KeyPair:
    """A fresh key pair (生成密钥), the private key encrypted with the instance secret."""
    _check_algorithm(algorithm)
    password = _password(secret)
    # Both libraries write PKCS#8 PBES2 with PBKDF2-HMAC-SHA256: tongsuopy encrypts with
    # SM4-CBC, cryptography with AES-256-CBC. The password is a 256-bit HKDF output, so
    # PBKDF2's modest iteration count does not weaken it.
    if algorithm == SM2:
        private_key = _t_ec.generate_private_key(_t_ec.SM2())
        private_pem = bytes(
            private_key.private_bytes(
                _t_ser.Encoding.PEM,
                _t_ser.PrivateFormat.PKCS8,
                _t_ser.BestAvailableEncryption(password),
            )
        )
    else:
        private_key = _c_ec.generate_private_key(_c_ec.SECP256R1())
        private_pem = private_key.private_bytes(
            _c_ser.Encoding.PEM,
            _c_ser.PrivateFormat.PKCS8,
            _c_ser.BestAvailableEncryption(password),
        )
    public_key = private_key.public_key()
    return KeyPair(
        algorithm=algorithm,
        private_key_pem_encrypted=private_pem.decode("ascii"),
        public_key_pem=_public_pem(algorithm, public_key),
        fingerprint=_fingerprint_of(algorithm, public_key),
    )


_LOAD_ERRORS = (
    ValueError,
    TypeError,
    _TongsuoUnsupported,
    _TongsuoInternalError,
    _CryptographyUnsupported,
)


def _has_curve(algorithm: str, key: Any) -> bool:
    if algorithm == SM2:
        return isinstance(getattr(key, "curve", None), _t_ec.SM2)
    return isinstance(
        key, _c_ec.EllipticCurvePrivateKey | _c_ec.EllipticCurvePublicKey
    ) and isinstance(key.curve, _c_ec.SECP256R1)


def load_private_key(algorithm: str, encrypted_pem: str, secret: bytes) -> PrivateKey:
    """Decrypt a stored private key (私钥); InvalidKey if the secret or the PEM is wrong."""
    _check_algorithm(algorithm)
    password = _password(secret)
    data = encrypted_pem.encode("ascii", errors="replace")
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
        # Refuse plaintext keys outright: accepting one would let an unencrypted key slip
        # into the database unnoticed.
        raise InvalidKey("the private key is not an encrypted PKCS#8 PEM")
    loader = _t_ser.load_pem_private_key if algorithm == SM2 else _c_ser.load_pem_private_key
    try:
        key = loader(data, password)
    except _LOAD_ERRORS as exc:
        raise InvalidKey(
            f"cannot load the {algorithm} private key: wrong instance secret, "
            "another algorithm's key, or a damaged PEM"
        ) from exc
    if not _has_curve(algorithm, key):
        raise InvalidKey(f"the private key is not an {algorithm} key")
    return key


def load_public_key(algorithm: str, public_pem: str) -> PublicKey:
    """Parse a public key (公钥) PEM; InvalidKey if it is malformed or of another algorithm."""
    _check_algorithm(algorithm)
    data = public_pem.encode("ascii", errors="replace")
    loader = _t_ser.load_pem_public_key if algorithm == SM2 else _c_ser.load_pem_public_key
    try:
        key = loader(data)
    except _LOAD_ERRORS as exc:
        raise InvalidKey(f"not an {algorithm} public key PEM") from exc
    if not _has_curve(algorithm, key):
        raise InvalidKey(f"the public key is not an {algorithm} key")
    return key


def key_algorithm(public_pem: str) -> str:
    """Which of ALGORITHMS a public key PEM belongs to; InvalidKey if none."""
    for algorithm in ALGORITHMS:
        try:
            load_public_key(algorithm, public_pem)
        except InvalidKey:
            continue
        return algorithm
    raise InvalidKey("not a public key of a supported algorithm (SM2 or P-256)")


def fingerprint(public_pem: str) -> str:
    """Key fingerprint (密钥指纹): SHA-256 of the DER SubjectPublicKeyInfo, 64 hex."""
    algorithm = key_algorithm(public_pem)
    return _fingerprint_of(algorithm, load_public_key(algorithm, public_pem))


# --- raw signatures ----------------------------------------------------------------------


def sign_with_key(algorithm: str, private_key: PrivateKey, data: bytes) -> bytes:
    """Sign (签名) with an already loaded key; a DER SEQUENCE {r, s}."""
    _check_algorithm(algorithm)
    if algorithm == SM2:
        # tongsuopy spells SM2 signing "ECDSA(SM3())" on an SM2 key; Tongsuo then runs the
        # real GM/T 0003.2 scheme, Z = SM3(ENTL || "1234567812345678" || a || b || G || P)
        # prefixed to the message, not ECDSA (checked against GM/T 0003.5 A.2 in the tests).
        return bytes(private_key.sign(data, _t_ec.ECDSA(_t_hashes.SM3())))
    assert isinstance(private_key, _c_ec.EllipticCurvePrivateKey)
    return private_key.sign(data, _c_ec.ECDSA(_c_hashes.SHA256()))


def _well_formed(algorithm: str, signature: bytes) -> bool:
    # Tongsuo reports an undecodable signature as an internal error rather than a bad
    # signature, so check the encoding first: strict DER, 1 <= r, s < n, and nothing
    # but the canonical encoding (no BER leniency, no trailing bytes).
    # ECDSA's twin (r, n - s) still verifies, as with every ECDSA verifier: harmless here,
    # since a signature is never used as an identifier.
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        return False
    order = _ORDER[algorithm]
    if not (0 < r < order and 0 < s < order):
        return False
    return encode_dss_signature(r, s) == signature


def verify_with_key(algorithm: str, public_key: PublicKey, data: bytes, signature: bytes) -> bool:
    """Verify (验签) with an already loaded key; False for any bad signature, never raises."""
    _check_algorithm(algorithm)
    if not isinstance(signature, bytes | bytearray) or not _well_formed(
        algorithm, bytes(signature)
    ):
        return False
    try:
        if algorithm == SM2:
            public_key.verify(bytes(signature), data, _t_ec.ECDSA(_t_hashes.SM3()))
        else:
            public_key.verify(bytes(signature), data, _c_ec.ECDSA(_c_hashes.SHA256()))
    except (_TongsuoInvalidSignature, _CryptographyInvalidSignature):
        return False
    except _TongsuoInternalError:
        # Fail closed: whatever the backend could not process was not a valid signature.
        return False
    return True


def sign(algorithm: str, encrypted_private_pem: str, secret: bytes, data: bytes) -> bytes:
    """Sign ``data`` (数字签名) with a stored key; the signature is DER SEQUENCE {r, s}."""
    return sign_with_key(
        algorithm, load_private_key(algorithm, encrypted_private_pem, secret), data
    )


def verify(algorithm: str, public_key_pem: str, data: bytes, signature: bytes) -> bool:
    """Check a signature (验签). False for any bad signature; InvalidKey for an unusable key."""
    return verify_with_key(algorithm, load_public_key(algorithm, public_key_pem), data, signature)


# --- detached signatures (分离式签名) ------------------------------------------------------


def _signed_message(algorithm: str, key_fingerprint: str, signed_at: str, digest: str) -> bytes:
    # The format is documented on DetachedSignature; the fields are validated there.
    return MESSAGE_HEADER + (
        f"algorithm:{algorithm}\n"
        f"key-fingerprint:{key_fingerprint}\n"
        f"signed-at:{signed_at}\n"
        f"digest:{digest}\n"
    ).encode("ascii")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        # json.loads would keep the last one silently; a reader showing the first could
        # then be shown a value the verifier never checked.
        raise MalformedSignature(f"duplicate field(s): {', '.join(duplicates)}")
    return dict(pairs)


@dataclass(frozen=True)
class DetachedSignature:
    """A signature kept apart from the document it signs (分离式签名文件).

    The bytes signed are not the document but this canonical message, ASCII, each line
    ending in LF, fields in this order::

        smartcity-detached-signature/v1
        algorithm:<SM2 | P-256>
        key-fingerprint:<64 lowercase hex, SHA-256 of the signer's SPKI DER>
        signed-at:<YYYY-MM-DDTHH:MM:SSZ, UTC>
        digest:<64 lowercase hex, SM3 (SM2) or SHA-256 (P-256) of the document>

    so changing any field of the file (re-labelling the algorithm, the key or the time)
    breaks the signature. Every field is validated to this exact form, so no value can
    smuggle in a line break. The first line keeps these signatures apart from anything
    else the same key might sign.
    """

    algorithm: str
    key_fingerprint: str
    signed_at: str
    digest: str
    signature: str

    def __post_init__(self) -> None:
        for field in fields(self):
            if not isinstance(getattr(self, field.name), str):
                raise MalformedSignature(f"field {field.name!r} must be a string")
        if self.algorithm not in ALGORITHMS:
            raise MalformedSignature(
                f"unknown algorithm {self.algorithm!r}; expected one of {', '.join(ALGORITHMS)}"
            )
        if not _HEX64.fullmatch(self.key_fingerprint):
            raise MalformedSignature("key_fingerprint must be 64 lowercase hex characters")
        if not _HEX64.fullmatch(self.digest):
            raise MalformedSignature("digest must be 64 lowercase hex characters")
        if not _SIGNED_AT.fullmatch(self.signed_at):
            raise MalformedSignature("signed_at must be UTC in the form YYYY-MM-DDTHH:MM:SSZ")
        try:
            datetime.strptime(self.signed_at, SIGNED_AT_FORMAT)
        except ValueError as exc:
            raise MalformedSignature(f"signed_at is not a real time: {self.signed_at}") from exc
        self.signature_bytes()  # validates the base64

    def signature_bytes(self) -> bytes:
        """The DER signature the base64 field holds."""
        try:
            raw = binascii.a2b_base64(self.signature.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise MalformedSignature("signature is not valid base64") from exc
        if not raw:
            raise MalformedSignature("signature is empty")
        return raw

    def signed_message(self) -> bytes:
        """The canonical bytes the signature covers (see the class docstring)."""
        return _signed_message(self.algorithm, self.key_fingerprint, self.signed_at, self.digest)

    def to_json(self) -> str:
        """The signature file's text (JSON)."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> DetachedSignature:
        """Read a signature file; MalformedSignature saying what is wrong with it."""
        try:
            value = json.loads(text, object_pairs_hook=_reject_duplicates)
        except UnicodeDecodeError as exc:
            raise MalformedSignature("the signature file is not UTF-8 text") from exc
        except json.JSONDecodeError as exc:
            raise MalformedSignature(f"the signature file is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise MalformedSignature("the signature file must hold a JSON object")
        names = [field.name for field in fields(cls)]
        missing = [name for name in names if name not in value]
        if missing:
            raise MalformedSignature(f"missing field(s): {', '.join(missing)}")
        unknown = sorted(set(value) - set(names))
        if unknown:
            # Rejected rather than ignored: an extra field (say a signer's name) would look
            # signed to a reader while the signature does not cover it.
            raise MalformedSignature(f"unknown field(s): {', '.join(unknown)}")
        return cls(**value)


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a detached signature (验签结果), with a reason for people."""

    valid: bool
    reason: str


def format_signed_at(instant: datetime) -> str:
    """An aware datetime as a detached signature records it: UTC, whole seconds."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("signed_at must be a timezone-aware datetime")
    return instant.astimezone(UTC).strftime(SIGNED_AT_FORMAT)


def sign_document(
    algorithm: str,
    encrypted_private_pem: str,
    public_key_pem: str,
    secret: bytes,
    document: bytes,
    signed_at: datetime,
) -> DetachedSignature:
    """Sign a document (文件签名), producing a detached signature (see DetachedSignature)."""
    _check_algorithm(algorithm)
    private_key = load_private_key(algorithm, encrypted_private_pem, secret)
    public_key = load_public_key(algorithm, public_key_pem)
    key_fingerprint = _fingerprint_of(algorithm, public_key)
    if _fingerprint_of(algorithm, private_key.public_key()) != key_fingerprint:
        # Otherwise the file would name a key that cannot verify it.
        raise InvalidKey("the public key does not belong to the private key")
    stamp = format_signed_at(signed_at)
    digest = document_digest(algorithm, document)
    raw = sign_with_key(
        algorithm, private_key, _signed_message(algorithm, key_fingerprint, stamp, digest)
    )
    return DetachedSignature(
        algorithm=algorithm,
        key_fingerprint=key_fingerprint,
        signed_at=stamp,
        digest=digest,
        signature=binascii.b2a_base64(raw, newline=False).decode("ascii"),
    )


def verify_document(public_key_pem: str, document: bytes, sig: DetachedSignature) -> Verification:
    """Check a detached signature (验签); raises InvalidKey only for an unusable public key."""
    key_alg = key_algorithm(public_key_pem)
    public_key = load_public_key(key_alg, public_key_pem)
    if _fingerprint_of(key_alg, public_key) != sig.key_fingerprint:
        return Verification(False, OTHER_KEY)
    if sig.algorithm != key_alg:
        return Verification(False, ALGORITHM_MISMATCH)
    if document_digest(sig.algorithm, document) != sig.digest:
        return Verification(False, DOCUMENT_CHANGED)
    if not verify_with_key(key_alg, public_key, sig.signed_message(), sig.signature_bytes()):
        return Verification(False, SIGNATURE_MISMATCH)
    return Verification(True, VALID)


# --- the platform's certificate (平台证书) -------------------------------------------------

# A PDF signature (PAdES) names its signer by an X.509 certificate, not by a bare key. The
# platform has no CA behind it, so each P-256 key certifies itself. The certificate is built
# from the key and the key's creation time only, with deterministic ECDSA (RFC 6979): the
# same key always yields the same certificate bytes, so nothing needs to be stored, and a
# verifier rebuilds the trusted certificate from the public key row alone.
CERTIFICATE_YEARS = 30


def platform_certificate_der(
    encrypted_private_pem: str, secret: bytes, common_name: str, not_before: datetime
) -> bytes:
    """The self-signed X.509 certificate (DER) of a P-256 signing key."""
    private_key = load_private_key(P256, encrypted_private_pem, secret)
    public_key = private_key.public_key()
    if not_before.tzinfo is None:
        not_before = not_before.replace(tzinfo=UTC)
    start = not_before.astimezone(UTC).replace(microsecond=0)
    name = _x509.Name(
        [
            _x509.NameAttribute(_NameOID.COUNTRY_NAME, "CN"),
            _x509.NameAttribute(_NameOID.ORGANIZATION_NAME, common_name[:64] or "smartcity"),
            _x509.NameAttribute(
                _NameOID.COMMON_NAME, (common_name[:56] or "smartcity") + " 电子证照签章"
            ),
        ]
    )
    # The serial from the key's fingerprint: stable, positive, at most 159 bits.
    serial = int(_fingerprint_of(P256, public_key)[:39], 16) | 1
    builder = (
        _x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start.replace(year=start.year + CERTIFICATE_YEARS, day=min(start.day, 28)))
        .add_extension(_x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    certificate = builder.sign(private_key, _c_hashes.SHA256(), ecdsa_deterministic=True)
    return certificate.public_bytes(_c_ser.Encoding.DER)


def load_pkcs8_der(algorithm: str, encrypted_pem: str, secret: bytes) -> bytes:
    """A stored private key as unencrypted PKCS#8 DER, for a signing library that takes key
    material (pyHanko). Kept in memory only for one signing; never stored or logged."""
    if algorithm != P256:
        raise InvalidKey("only P-256 keys sign PDF documents")
    key: _c_ec.EllipticCurvePrivateKey = load_private_key(algorithm, encrypted_pem, secret)
    return key.private_bytes(_c_ser.Encoding.DER, _c_ser.PrivateFormat.PKCS8, _c_ser.NoEncryption())
