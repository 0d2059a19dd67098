"""Document signatures (数字签名): known answers, round trips, tampering, key storage, files.

SM2 has two independent checks besides the round trips: the GM/T 0003.5-2012 Annex A.2
example (the standard's own key, message, Z value and signature on the recommended
curve), and a cross-check against ``gmssl``, a separate pure-Python implementation, in
both directions. gmssl is a test oracle only; the platform never signs with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization as c_ser
from cryptography.hazmat.primitives.asymmetric import ec as c_ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from gmssl.sm2 import CryptSM2
from hypothesis import given, settings
from hypothesis import strategies as st
from tongsuopy.crypto import serialization as t_ser
from tongsuopy.crypto.asymciphers import ec as t_ec

from smartcity.core import signing
from smartcity.core.secrets import derive_key
from smartcity.core.signing import (
    ALGORITHM_MISMATCH,
    ALGORITHMS,
    DOCUMENT_CHANGED,
    OTHER_KEY,
    SIGNATURE_MISMATCH,
    VALID,
    DetachedSignature,
    InvalidKey,
    KeyPair,
    MalformedSignature,
    UnknownAlgorithm,
    Verification,
)

SECRET = b"test-instance-secret-0123456789"
OTHER_SECRET = b"another-instance-secret-9876543210"
MESSAGE = "深圳市政务数据共享交换目录（2026 年版）".encode()
SIGNED_AT = datetime(2026, 11, 24, 8, 30, 15, tzinfo=UTC)

# Group orders (SM2: GB/T 32918.5; P-256: FIPS 186-4 D.1.2.3).
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ORDER = {"SM2": SM2_N, "P-256": P256_N}

# GM/T 0003.5-2012 Annex A.2 (= GB/T 32918.5-2017): SM2 signature on the recommended
# curve with the default user ID "1234567812345678".
GMT_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
GMT_X = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
GMT_Y = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
GMT_MESSAGE = b"message digest"
GMT_Z = "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"
GMT_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
GMT_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
GMT_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
# The recommended curve's a, b, G (GB/T 32918.5), as the Z value hashes them.
SM2_A = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
SM2_B = "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
SM2_GX = "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
SM2_GY = "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"

# RFC 6979 A.2.5: ECDSA, P-256, SHA-256, message "sample".
RFC_X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC_UX = 0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
RFC_UY = 0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299
RFC_R = 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
RFC_S = 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8
# The same section's signature of "test" with SHA-256.
RFC_TEST_R = 0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367
RFC_TEST_S = 0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083


def _sm2_public_pem(x: int, y: int) -> str:
    key = t_ec.EllipticCurvePublicNumbers(x, y, t_ec.SM2()).public_key()
    pem = key.public_bytes(t_ser.Encoding.PEM, t_ser.PublicFormat.SubjectPublicKeyInfo)
    return bytes(pem).decode()


def _p256_public_pem(x: int, y: int) -> str:
    key = c_ec.EllipticCurvePublicNumbers(x, y, c_ec.SECP256R1()).public_key()
    return key.public_bytes(c_ser.Encoding.PEM, c_ser.PublicFormat.SubjectPublicKeyInfo).decode()


def _pem_der(pem: str) -> bytes:
    """The DER inside a PEM armour, read independently of both crypto libraries."""
    body = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
    return base64.b64decode("".join(body))


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# Keys for the hypothesis test, which cannot take function-scoped fixtures.
FUZZ_KEYS = {
    algorithm: signing.generate_key(algorithm, SECRET).public_key_pem for algorithm in ALGORITHMS
}


@pytest.fixture(scope="module", params=ALGORITHMS)
def keypair(request: pytest.FixtureRequest) -> KeyPair:
    return signing.generate_key(request.param, SECRET)


@pytest.fixture(scope="module")
def keys() -> dict[str, KeyPair]:
    return {algorithm: signing.generate_key(algorithm, SECRET) for algorithm in ALGORITHMS}


@pytest.fixture(scope="module")
def other_keys() -> dict[str, KeyPair]:
    return {algorithm: signing.generate_key(algorithm, SECRET) for algorithm in ALGORITHMS}


class TestSm3Hex:
    def test_gbt_32905_example_1(self) -> None:
        assert (
            signing.sm3_hex(b"abc")
            == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        )

    def test_gbt_32905_example_2(self) -> None:
        assert (
            signing.sm3_hex(b"abcd" * 16)
            == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        )

    def test_empty(self) -> None:
        assert len(signing.sm3_hex(b"")) == 64


class TestDocumentDigest:
    def test_sm2_uses_sm3(self) -> None:
        assert signing.document_digest("SM2", b"abc") == signing.sm3_hex(b"abc")

    def test_p256_uses_sha256(self) -> None:
        assert signing.document_digest("P-256", b"abc") == hashlib.sha256(b"abc").hexdigest()

    def test_unknown_algorithm(self) -> None:
        with pytest.raises(UnknownAlgorithm):
            signing.document_digest("SHA1", b"abc")


class TestGenerateKey:
    def test_fields(self, keypair: KeyPair) -> None:
        assert keypair.algorithm in ALGORITHMS
        assert keypair.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
        assert len(keypair.fingerprint) == 64
        int(keypair.fingerprint, 16)

    def test_fingerprint_is_sha256_of_pem_der(self, keypair: KeyPair) -> None:
        der = _pem_der(keypair.public_key_pem)
        assert keypair.fingerprint == hashlib.sha256(der).hexdigest()
        assert signing.fingerprint(keypair.public_key_pem) == keypair.fingerprint

    def test_spki_names_the_curve(self, keys: dict[str, KeyPair]) -> None:
        sm2_curve_oid = bytes.fromhex("06082a811ccf5501822d")  # 1.2.156.10197.1.301
        p256_curve_oid = bytes.fromhex("06082a8648ce3d030107")  # 1.2.840.10045.3.1.7
        assert sm2_curve_oid in _pem_der(keys["SM2"].public_key_pem)
        assert p256_curve_oid in _pem_der(keys["P-256"].public_key_pem)

    def test_private_key_is_stored_encrypted(self, keypair: KeyPair) -> None:
        pem = keypair.private_key_pem_encrypted
        assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert "BEGIN PRIVATE KEY" not in pem
        assert "BEGIN EC PRIVATE KEY" not in pem

    def test_stored_key_does_not_contain_the_scalar(self, keypair: KeyPair) -> None:
        key = signing.load_private_key(keypair.algorithm, keypair.private_key_pem_encrypted, SECRET)
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        assert scalar not in _pem_der(keypair.private_key_pem_encrypted)

    def test_each_key_is_new(self, keypair: KeyPair) -> None:
        again = signing.generate_key(keypair.algorithm, SECRET)
        assert again.fingerprint != keypair.fingerprint

    def test_unknown_algorithm(self) -> None:
        with pytest.raises(UnknownAlgorithm, match="RSA"):
            signing.generate_key("RSA", SECRET)

    def test_empty_secret_is_refused(self) -> None:
        with pytest.raises(ValueError, match="empty"):
            signing.generate_key("SM2", b"")


class TestLoadPrivateKey:
    def test_loads_with_the_instance_secret(self, keypair: KeyPair) -> None:
        key = signing.load_private_key(keypair.algorithm, keypair.private_key_pem_encrypted, SECRET)
        der = _pem_der(keypair.public_key_pem)
        if keypair.algorithm == "SM2":
            public = key.public_key().public_bytes(
                t_ser.Encoding.DER, t_ser.PublicFormat.SubjectPublicKeyInfo
            )
        else:
            public = key.public_key().public_bytes(
                c_ser.Encoding.DER, c_ser.PublicFormat.SubjectPublicKeyInfo
            )
        assert bytes(public) == der

    def test_wrong_secret_fails(self, keypair: KeyPair) -> None:
        with pytest.raises(InvalidKey, match="wrong instance secret"):
            signing.load_private_key(
                keypair.algorithm, keypair.private_key_pem_encrypted, OTHER_SECRET
            )

    def test_password_is_derived_from_the_secret(self, keypair: KeyPair) -> None:
        password = derive_key(SECRET, "signing-key")
        data = keypair.private_key_pem_encrypted.encode()
        if keypair.algorithm == "SM2":
            key = t_ser.load_pem_private_key(data, password)
        else:
            key = c_ser.load_pem_private_key(data, password)
        assert key is not None
        loader = (
            t_ser.load_pem_private_key if keypair.algorithm == "SM2" else c_ser.load_pem_private_key
        )
        with pytest.raises(ValueError):
            loader(data, SECRET)  # the raw instance secret is not the password

    def test_secret_deriving_a_password_with_nul_bytes(self) -> None:
        # The password is raw HKDF output; about one secret in eight derives a NUL byte,
        # which must not truncate the password anywhere.
        secret = next(
            s
            for s in (f"secret-{i}".encode() for i in range(10_000))
            if b"\x00" in derive_key(s, "signing-key")
        )
        for algorithm in ALGORITHMS:
            pair = signing.generate_key(algorithm, secret)
            signature = signing.sign(algorithm, pair.private_key_pem_encrypted, secret, MESSAGE)
            assert signing.verify(algorithm, pair.public_key_pem, MESSAGE, signature)
            truncated = derive_key(secret, "signing-key").split(b"\x00")[0]
            with pytest.raises(ValueError):
                if algorithm == "SM2":
                    t_ser.load_pem_private_key(pair.private_key_pem_encrypted.encode(), truncated)
                else:
                    c_ser.load_pem_private_key(pair.private_key_pem_encrypted.encode(), truncated)

    def test_unencrypted_key_is_refused(self) -> None:
        key = c_ec.generate_private_key(c_ec.SECP256R1())
        plain = key.private_bytes(
            c_ser.Encoding.PEM, c_ser.PrivateFormat.PKCS8, c_ser.NoEncryption()
        ).decode()
        with pytest.raises(InvalidKey, match="not an encrypted"):
            signing.load_private_key("P-256", plain, SECRET)

    def test_key_of_the_other_algorithm(self, keys: dict[str, KeyPair]) -> None:
        with pytest.raises(InvalidKey):
            signing.load_private_key("P-256", keys["SM2"].private_key_pem_encrypted, SECRET)
        with pytest.raises(InvalidKey):
            signing.load_private_key("SM2", keys["P-256"].private_key_pem_encrypted, SECRET)

    def test_p256_key_of_another_curve(self) -> None:
        key = c_ec.generate_private_key(c_ec.SECP384R1())
        pem = key.private_bytes(
            c_ser.Encoding.PEM,
            c_ser.PrivateFormat.PKCS8,
            c_ser.BestAvailableEncryption(derive_key(SECRET, "signing-key")),
        ).decode()
        with pytest.raises(InvalidKey, match="not an P-256 key"):
            signing.load_private_key("P-256", pem, SECRET)

    def test_damaged_pem(self, keypair: KeyPair) -> None:
        lines = keypair.private_key_pem_encrypted.splitlines()
        lines[2] = lines[2][:10] + ("A" if lines[2][10] != "A" else "B") + lines[2][11:]
        with pytest.raises(InvalidKey):
            signing.load_private_key(keypair.algorithm, "\n".join(lines) + "\n", SECRET)

    def test_unknown_algorithm(self, keypair: KeyPair) -> None:
        with pytest.raises(UnknownAlgorithm):
            signing.load_private_key("sm2", keypair.private_key_pem_encrypted, SECRET)


class TestLoadPublicKey:
    def test_loads(self, keypair: KeyPair) -> None:
        assert signing.load_public_key(keypair.algorithm, keypair.public_key_pem) is not None

    def test_key_of_the_other_algorithm(self, keys: dict[str, KeyPair]) -> None:
        with pytest.raises(InvalidKey):
            signing.load_public_key("P-256", keys["SM2"].public_key_pem)
        with pytest.raises(InvalidKey):
            signing.load_public_key("SM2", keys["P-256"].public_key_pem)

    @pytest.mark.parametrize("pem", ["", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n"])
    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    def test_garbage(self, algorithm: str, pem: str) -> None:
        with pytest.raises(InvalidKey):
            signing.load_public_key(algorithm, pem)

    def test_unknown_algorithm(self, keypair: KeyPair) -> None:
        with pytest.raises(UnknownAlgorithm):
            signing.load_public_key("Ed25519", keypair.public_key_pem)


class TestKeyAlgorithm:
    def test_detects(self, keypair: KeyPair) -> None:
        assert signing.key_algorithm(keypair.public_key_pem) == keypair.algorithm

    def test_unsupported_curve(self) -> None:
        key = c_ec.generate_private_key(c_ec.SECP384R1()).public_key()
        pem = key.public_bytes(c_ser.Encoding.PEM, c_ser.PublicFormat.SubjectPublicKeyInfo)
        with pytest.raises(InvalidKey):
            signing.key_algorithm(pem.decode())


class TestSign:
    def test_round_trip(self, keypair: KeyPair) -> None:
        signature = signing.sign(
            keypair.algorithm, keypair.private_key_pem_encrypted, SECRET, MESSAGE
        )
        assert signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, signature)

    def test_der_sequence_of_r_and_s_in_range(self, keypair: KeyPair) -> None:
        signature = signing.sign(
            keypair.algorithm, keypair.private_key_pem_encrypted, SECRET, MESSAGE
        )
        r, s = decode_dss_signature(signature)
        assert 0 < r < ORDER[keypair.algorithm]
        assert 0 < s < ORDER[keypair.algorithm]
        assert encode_dss_signature(r, s) == signature

    def test_randomised(self, keypair: KeyPair) -> None:
        first = signing.sign(keypair.algorithm, keypair.private_key_pem_encrypted, SECRET, MESSAGE)
        second = signing.sign(keypair.algorithm, keypair.private_key_pem_encrypted, SECRET, MESSAGE)
        assert first != second

    def test_empty_and_large_data(self, keypair: KeyPair) -> None:
        for data in (b"", secrets.token_bytes(1 << 20)):
            signature = signing.sign(
                keypair.algorithm, keypair.private_key_pem_encrypted, SECRET, data
            )
            assert signing.verify(keypair.algorithm, keypair.public_key_pem, data, signature)

    def test_wrong_secret(self, keypair: KeyPair) -> None:
        with pytest.raises(InvalidKey):
            signing.sign(
                keypair.algorithm, keypair.private_key_pem_encrypted, OTHER_SECRET, MESSAGE
            )

    def test_unknown_algorithm(self, keypair: KeyPair) -> None:
        with pytest.raises(UnknownAlgorithm):
            signing.sign("SM9", keypair.private_key_pem_encrypted, SECRET, MESSAGE)

    def test_unknown_algorithm_is_a_value_error(self) -> None:
        assert issubclass(UnknownAlgorithm, ValueError)


class TestVerify:
    @pytest.fixture
    def signed(self, keypair: KeyPair) -> bytes:
        return signing.sign(keypair.algorithm, keypair.private_key_pem_encrypted, SECRET, MESSAGE)

    def test_rfc_6979_p256_sample(self) -> None:
        # The vector's private key does give its public key, so the vector is read right.
        derived = c_ec.derive_private_key(RFC_X, c_ec.SECP256R1()).public_key().public_numbers()
        assert (derived.x, derived.y) == (RFC_UX, RFC_UY)
        pem = _p256_public_pem(RFC_UX, RFC_UY)
        signature = encode_dss_signature(RFC_R, RFC_S)
        assert signing.verify("P-256", pem, b"sample", signature)
        assert not signing.verify("P-256", pem, b"samplE", signature)
        assert not signing.verify("P-256", pem, b"sample", encode_dss_signature(RFC_S, RFC_R))

    def test_rfc_6979_p256_test(self) -> None:
        pem = _p256_public_pem(RFC_UX, RFC_UY)
        signature = encode_dss_signature(RFC_TEST_R, RFC_TEST_S)
        assert signing.verify("P-256", pem, b"test", signature)
        assert not signing.verify("P-256", pem, b"sample", signature)

    def test_gmt_0003_5_sm2_example(self) -> None:
        derived = t_ec.derive_private_key(GMT_D, t_ec.SM2()).public_key().public_numbers()
        assert (derived.x, derived.y) == (GMT_X, GMT_Y)
        pem = _sm2_public_pem(GMT_X, GMT_Y)
        signature = encode_dss_signature(GMT_R, GMT_S)
        assert signing.verify("SM2", pem, GMT_MESSAGE, signature)
        assert not signing.verify("SM2", pem, b"message digesT", signature)

    def test_gmt_0003_5_z_value_uses_the_default_id(self) -> None:
        # Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), ENTL = 128 bits for the
        # 16-byte default ID; the example's Z pins down what the signature above hashed.
        z_input = bytes.fromhex(
            "0080"
            + b"1234567812345678".hex()
            + SM2_A
            + SM2_B
            + SM2_GX
            + SM2_GY
            + f"{GMT_X:064x}{GMT_Y:064x}"
        )
        assert signing.sm3_hex(z_input) == GMT_Z

    def test_tampered_data(self, keypair: KeyPair, signed: bytes) -> None:
        assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE + b"!", signed)
        assert not signing.verify(keypair.algorithm, keypair.public_key_pem, b"", signed)
        tampered = _flip(MESSAGE, 0)
        assert not signing.verify(keypair.algorithm, keypair.public_key_pem, tampered, signed)

    def test_tampered_signature_bytes(self, keypair: KeyPair, signed: bytes) -> None:
        for index in range(len(signed)):
            assert not signing.verify(
                keypair.algorithm, keypair.public_key_pem, MESSAGE, _flip(signed, index)
            ), index

    def test_truncated_or_extended_signature(self, keypair: KeyPair, signed: bytes) -> None:
        for candidate in (signed[:-1], signed + b"\x00", signed[1:], b"\x00" + signed):
            assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, candidate)

    def test_non_canonical_der(self, keypair: KeyPair, signed: bytes) -> None:
        r, s = decode_dss_signature(signed)
        body = encode_dss_signature(r, s)[2:]
        long_form = b"\x30\x81" + bytes([len(body)]) + body  # BER long-form length
        assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, long_form)

    @pytest.mark.parametrize(
        "garbage",
        [
            b"",
            b"\x00",
            b"0",
            b"not a signature",
            b"\x30\x00",
            b"\x30\x06\x02\x01\x01\x02\x01\x01",  # r = s = 1
            b"\x30\x06\x02\x01\x00\x02\x01\x01",  # r = 0
            bytes(72),
        ],
    )
    def test_garbage_signature(self, keypair: KeyPair, garbage: bytes) -> None:
        assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, garbage)

    def test_r_or_s_out_of_range(self, keypair: KeyPair, signed: bytes) -> None:
        r, s = decode_dss_signature(signed)
        n = ORDER[keypair.algorithm]
        for bad in (encode_dss_signature(r + n, s), encode_dss_signature(r, s + n)):
            assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, bad)
        for bad in (encode_dss_signature(n, s), encode_dss_signature(r, n)):
            assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, bad)

    def test_random_signatures_of_the_right_shape(self, keypair: KeyPair) -> None:
        n = ORDER[keypair.algorithm]
        for _ in range(20):
            bad = encode_dss_signature(secrets.randbelow(n - 1) + 1, secrets.randbelow(n - 1) + 1)
            assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, bad)

    @settings(max_examples=300, deadline=None)
    @given(garbage=st.binary(max_size=100))
    def test_never_raises_for_arbitrary_bytes(self, garbage: bytes) -> None:
        for algorithm, pem in FUZZ_KEYS.items():
            assert signing.verify(algorithm, pem, MESSAGE, garbage) is False

    def test_wrong_key(self, keypair: KeyPair, signed: bytes) -> None:
        other = signing.generate_key(keypair.algorithm, SECRET)
        assert not signing.verify(keypair.algorithm, other.public_key_pem, MESSAGE, signed)

    def test_signature_of_the_other_algorithm(self, keys: dict[str, KeyPair]) -> None:
        sm2 = signing.sign("SM2", keys["SM2"].private_key_pem_encrypted, SECRET, MESSAGE)
        p256 = signing.sign("P-256", keys["P-256"].private_key_pem_encrypted, SECRET, MESSAGE)
        assert not signing.verify("P-256", keys["P-256"].public_key_pem, MESSAGE, sm2)
        assert not signing.verify("SM2", keys["SM2"].public_key_pem, MESSAGE, p256)

    def test_key_of_the_other_algorithm_raises(self, keys: dict[str, KeyPair]) -> None:
        # A misconfigured key is not a bad signature: it must not pass as "invalid".
        with pytest.raises(InvalidKey):
            signing.verify("P-256", keys["SM2"].public_key_pem, MESSAGE, b"\x30\x00")

    def test_unknown_algorithm(self, keypair: KeyPair, signed: bytes) -> None:
        with pytest.raises(UnknownAlgorithm):
            signing.verify("ECDSA", keypair.public_key_pem, MESSAGE, signed)

    def test_backend_still_works_after_garbage(self, keypair: KeyPair, signed: bytes) -> None:
        # Tongsuo leaves errors on its queue for undecodable input; later calls must not
        # trip over them.
        for garbage in (b"\x30\x03\x02\x01", b"\xff" * 10):
            assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, garbage)
        assert signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, signed)


def _gmssl(private_value: int, x: int, y: int) -> Any:
    """A gmssl CryptSM2 for a key pair, side-stepping its public-key parsing bug.

    CryptSM2.__init__ does ``public_key.lstrip("04")`` when the hex starts with "04",
    which strips every leading '0' and '4' character, not the one prefix byte; an x
    coordinate starting with 0x04, 0x40, 0x44... is then corrupted even when no prefix is
    given. So pass a dummy and set the attribute gmssl reads: 128 hex characters, x || y,
    no 04 prefix.
    """
    oracle = CryptSM2(private_key=f"{private_value:064x}", public_key="00" * 64)
    oracle.public_key = f"{x:064x}{y:064x}"
    return oracle


class TestGmsslCrossCheck:
    """Independent implementation: our SM2 signatures verify there, and theirs here."""

    def test_gmssl_agrees_with_the_standard_example(self) -> None:
        oracle = _gmssl(GMT_D, GMT_X, GMT_Y)
        assert oracle.sign_with_sm3(GMT_MESSAGE, f"{GMT_K:064x}") == f"{GMT_R:064x}{GMT_S:064x}"

    def test_both_directions(self) -> None:
        for _ in range(8):
            pair = signing.generate_key("SM2", SECRET)
            self._check(pair)

    def test_key_whose_x_starts_with_04(self) -> None:
        # The case gmssl's lstrip bug would corrupt: the workaround must cover it.
        for _ in range(20_000):
            key = t_ec.generate_private_key(t_ec.SM2())
            if f"{key.public_key().public_numbers().x:064x}".startswith("04"):
                break
        else:
            pytest.fail("no key with x starting 04 found")
        pem = key.private_bytes(
            t_ser.Encoding.PEM,
            t_ser.PrivateFormat.PKCS8,
            t_ser.BestAvailableEncryption(derive_key(SECRET, "signing-key")),
        ).decode()
        public = key.public_key().public_bytes(
            t_ser.Encoding.PEM, t_ser.PublicFormat.SubjectPublicKeyInfo
        )
        self._check(
            KeyPair(
                algorithm="SM2",
                private_key_pem_encrypted=pem,
                public_key_pem=bytes(public).decode(),
                fingerprint=signing.fingerprint(bytes(public).decode()),
            )
        )

    @staticmethod
    def _check(pair: KeyPair) -> None:
        key = signing.load_private_key("SM2", pair.private_key_pem_encrypted, SECRET)
        numbers = key.private_numbers()
        oracle = _gmssl(numbers.private_value, numbers.public_numbers.x, numbers.public_numbers.y)
        data = secrets.token_bytes(secrets.randbelow(300))

        ours = signing.sign("SM2", pair.private_key_pem_encrypted, SECRET, data)
        r, s = decode_dss_signature(ours)
        assert oracle.verify_with_sm3(f"{r:064x}{s:064x}", data)
        assert not oracle.verify_with_sm3(f"{r:064x}{s:064x}", data + b"x")

        # gmssl draws its nonce from random.choice; give it a proper one.
        k = secrets.randbelow(SM2_N - 1) + 1
        theirs = oracle.sign_with_sm3(data, f"{k:064x}")
        if theirs is None:  # gmssl's own rejection of a degenerate k (r = 0 or r + k = n)
            return
        signature = encode_dss_signature(int(theirs[:64], 16), int(theirs[64:], 16))
        assert signing.verify("SM2", pair.public_key_pem, data, signature)
        assert not signing.verify("SM2", pair.public_key_pem, data + b"x", signature)


class TestDetachedSignature:
    @pytest.fixture
    def detached(self, keypair: KeyPair) -> DetachedSignature:
        return signing.sign_document(
            keypair.algorithm,
            keypair.private_key_pem_encrypted,
            keypair.public_key_pem,
            SECRET,
            MESSAGE,
            SIGNED_AT,
        )

    def test_json_round_trip(self, detached: DetachedSignature) -> None:
        assert DetachedSignature.from_json(detached.to_json()) == detached
        assert DetachedSignature.from_json(detached.to_json().encode()) == detached

    def test_json_fields(self, detached: DetachedSignature) -> None:
        value = json.loads(detached.to_json())
        assert set(value) == {"algorithm", "key_fingerprint", "signed_at", "digest", "signature"}
        assert value["signed_at"] == "2026-11-24T08:30:15Z"
        assert base64.b64decode(value["signature"]) == detached.signature_bytes()

    def test_signed_message_format(self) -> None:
        sig = DetachedSignature(
            algorithm="SM2",
            key_fingerprint="a" * 64,
            signed_at="2026-11-24T08:30:15Z",
            digest="0" * 64,
            signature="MAA=",
        )
        assert sig.signed_message() == (
            b"smartcity-detached-signature/v1\n"
            b"algorithm:SM2\n"
            b"key-fingerprint:" + b"a" * 64 + b"\n"
            b"signed-at:2026-11-24T08:30:15Z\n"
            b"digest:" + b"0" * 64 + b"\n"
        )

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "not valid JSON"),
            ("{", "not valid JSON"),
            ("[]", "JSON object"),
            ('"SM2"', "JSON object"),
            ("{}", "missing field"),
        ],
    )
    def test_not_a_signature_object(self, text: str, message: str) -> None:
        with pytest.raises(MalformedSignature, match=message):
            DetachedSignature.from_json(text)

    def test_not_utf8(self) -> None:
        with pytest.raises(MalformedSignature):
            DetachedSignature.from_json(b"\xff\xfe{}")

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"signature": None}, "must be a string"),
            ({"algorithm": "RSA"}, "unknown algorithm"),
            ({"algorithm": "sm2"}, "unknown algorithm"),
            ({"key_fingerprint": "abc"}, "key_fingerprint"),
            ({"key_fingerprint": "A" * 64}, "key_fingerprint"),
            ({"digest": "0" * 63}, "digest"),
            ({"digest": 12}, "must be a string"),
            ({"signed_at": "2026-11-24T16:30:15+08:00"}, "signed_at"),
            ({"signed_at": "2026-11-24 08:30:15Z"}, "signed_at"),
            ({"signed_at": "2026-13-24T08:30:15Z"}, "signed_at"),
            ({"signature": "not base64!"}, "base64"),
            ({"signature": "MEU"}, "base64"),
            ({"signature": ""}, "empty"),
            ({"signature": "签名"}, "base64"),
        ],
    )
    def test_bad_field(
        self, detached: DetachedSignature, change: dict[str, Any], message: str
    ) -> None:
        value = json.loads(detached.to_json())
        value.update(change)
        with pytest.raises(MalformedSignature, match=message):
            DetachedSignature.from_json(json.dumps(value))

    def test_missing_field_is_named(self, detached: DetachedSignature) -> None:
        value = json.loads(detached.to_json())
        del value["digest"]
        with pytest.raises(MalformedSignature, match=r"missing field.*digest"):
            DetachedSignature.from_json(json.dumps(value))

    def test_unknown_field(self, detached: DetachedSignature) -> None:
        value = json.loads(detached.to_json())
        value["signer"] = "市长"
        with pytest.raises(MalformedSignature, match=r"unknown field.*signer"):
            DetachedSignature.from_json(json.dumps(value))

    def test_duplicate_field(self, detached: DetachedSignature) -> None:
        text = detached.to_json().replace('"digest"', f'"digest": "{"0" * 64}",\n  "digest"', 1)
        with pytest.raises(MalformedSignature, match=r"duplicate field.*digest"):
            DetachedSignature.from_json(text)

    def test_malformed_is_a_value_error(self) -> None:
        assert issubclass(MalformedSignature, ValueError)


class TestSignDocument:
    def test_fields(self, keypair: KeyPair) -> None:
        sig = signing.sign_document(
            keypair.algorithm,
            keypair.private_key_pem_encrypted,
            keypair.public_key_pem,
            SECRET,
            MESSAGE,
            SIGNED_AT,
        )
        assert sig.algorithm == keypair.algorithm
        assert sig.key_fingerprint == keypair.fingerprint
        assert sig.signed_at == "2026-11-24T08:30:15Z"
        assert sig.digest == signing.document_digest(keypair.algorithm, MESSAGE)
        # The signature covers the canonical message, not the document itself.
        raw = sig.signature_bytes()
        assert signing.verify(keypair.algorithm, keypair.public_key_pem, sig.signed_message(), raw)
        assert not signing.verify(keypair.algorithm, keypair.public_key_pem, MESSAGE, raw)

    def test_signed_at_is_recorded_in_utc_whole_seconds(self, keys: dict[str, KeyPair]) -> None:
        shanghai = timezone(timedelta(hours=8))
        pair = keys["SM2"]
        sig = signing.sign_document(
            "SM2",
            pair.private_key_pem_encrypted,
            pair.public_key_pem,
            SECRET,
            MESSAGE,
            datetime(2026, 11, 24, 16, 30, 15, 999_999, tzinfo=shanghai),
        )
        assert sig.signed_at == "2026-11-24T08:30:15Z"

    def test_naive_time_is_refused(self, keys: dict[str, KeyPair]) -> None:
        pair = keys["P-256"]
        with pytest.raises(ValueError, match="timezone-aware"):
            signing.sign_document(
                "P-256",
                pair.private_key_pem_encrypted,
                pair.public_key_pem,
                SECRET,
                MESSAGE,
                datetime(2026, 11, 24, 8, 30),
            )

    def test_public_key_of_another_pair_is_refused(
        self, keys: dict[str, KeyPair], other_keys: dict[str, KeyPair]
    ) -> None:
        for algorithm in ALGORITHMS:
            with pytest.raises(InvalidKey, match="does not belong"):
                signing.sign_document(
                    algorithm,
                    keys[algorithm].private_key_pem_encrypted,
                    other_keys[algorithm].public_key_pem,
                    SECRET,
                    MESSAGE,
                    SIGNED_AT,
                )

    def test_wrong_secret(self, keypair: KeyPair) -> None:
        with pytest.raises(InvalidKey):
            signing.sign_document(
                keypair.algorithm,
                keypair.private_key_pem_encrypted,
                keypair.public_key_pem,
                OTHER_SECRET,
                MESSAGE,
                SIGNED_AT,
            )

    def test_unknown_algorithm(self, keypair: KeyPair) -> None:
        with pytest.raises(UnknownAlgorithm):
            signing.sign_document(
                "SM3",
                keypair.private_key_pem_encrypted,
                keypair.public_key_pem,
                SECRET,
                MESSAGE,
                SIGNED_AT,
            )


class TestVerifyDocument:
    @pytest.fixture
    def detached(self, keypair: KeyPair) -> DetachedSignature:
        return signing.sign_document(
            keypair.algorithm,
            keypair.private_key_pem_encrypted,
            keypair.public_key_pem,
            SECRET,
            MESSAGE,
            SIGNED_AT,
        )

    @staticmethod
    def _relabel(sig: DetachedSignature, **change: str) -> DetachedSignature:
        value = json.loads(sig.to_json())
        value.update(change)
        return DetachedSignature.from_json(json.dumps(value))

    def test_valid(self, keypair: KeyPair, detached: DetachedSignature) -> None:
        result = signing.verify_document(keypair.public_key_pem, MESSAGE, detached)
        assert result == Verification(True, VALID)

    def test_valid_after_a_trip_through_json(
        self, keypair: KeyPair, detached: DetachedSignature
    ) -> None:
        again = DetachedSignature.from_json(detached.to_json())
        assert signing.verify_document(keypair.public_key_pem, MESSAGE, again).valid

    def test_document_changed(self, keypair: KeyPair, detached: DetachedSignature) -> None:
        result = signing.verify_document(keypair.public_key_pem, MESSAGE + b" ", detached)
        assert result == Verification(False, DOCUMENT_CHANGED)

    def test_signature_tampered(self, keypair: KeyPair, detached: DetachedSignature) -> None:
        raw = detached.signature_bytes()
        tampered = self._relabel(
            detached, signature=base64.b64encode(_flip(raw, len(raw) - 1)).decode()
        )
        result = signing.verify_document(keypair.public_key_pem, MESSAGE, tampered)
        assert result == Verification(False, SIGNATURE_MISMATCH)

    def test_signed_by_another_key(self, keypair: KeyPair, detached: DetachedSignature) -> None:
        other = signing.generate_key(keypair.algorithm, SECRET)
        result = signing.verify_document(other.public_key_pem, MESSAGE, detached)
        assert result == Verification(False, OTHER_KEY)

    def test_key_of_the_other_algorithm(
        self, keypair: KeyPair, keys: dict[str, KeyPair], detached: DetachedSignature
    ) -> None:
        other_algorithm = next(a for a in ALGORITHMS if a != keypair.algorithm)
        result = signing.verify_document(keys[other_algorithm].public_key_pem, MESSAGE, detached)
        assert result == Verification(False, OTHER_KEY)

    def test_relabelled_signed_at(self, keypair: KeyPair, detached: DetachedSignature) -> None:
        backdated = self._relabel(detached, signed_at="2020-01-01T00:00:00Z")
        result = signing.verify_document(keypair.public_key_pem, MESSAGE, backdated)
        assert result == Verification(False, SIGNATURE_MISMATCH)

    def test_relabelled_algorithm(self, keypair: KeyPair, detached: DetachedSignature) -> None:
        other_algorithm = next(a for a in ALGORITHMS if a != keypair.algorithm)
        relabelled = self._relabel(detached, algorithm=other_algorithm)
        result = signing.verify_document(keypair.public_key_pem, MESSAGE, relabelled)
        assert result == Verification(False, ALGORITHM_MISMATCH)

    def test_relabelled_to_another_signer(
        self, keypair: KeyPair, detached: DetachedSignature
    ) -> None:
        # Claiming another key signed it, and checking with that key: the fingerprint now
        # matches, but it is part of the signed message.
        other = signing.generate_key(keypair.algorithm, SECRET)
        relabelled = self._relabel(detached, key_fingerprint=other.fingerprint)
        result = signing.verify_document(other.public_key_pem, MESSAGE, relabelled)
        assert result == Verification(False, SIGNATURE_MISMATCH)

    def test_digest_changed_to_match_a_new_document(
        self, keypair: KeyPair, detached: DetachedSignature
    ) -> None:
        forged = b"a different document"
        relabelled = self._relabel(
            detached, digest=signing.document_digest(keypair.algorithm, forged)
        )
        result = signing.verify_document(keypair.public_key_pem, forged, relabelled)
        assert result == Verification(False, SIGNATURE_MISMATCH)

    def test_raw_signature_of_the_document_is_not_a_detached_one(
        self, keypair: KeyPair, detached: DetachedSignature
    ) -> None:
        raw = signing.sign(keypair.algorithm, keypair.private_key_pem_encrypted, SECRET, MESSAGE)
        swapped = self._relabel(detached, signature=base64.b64encode(raw).decode())
        result = signing.verify_document(keypair.public_key_pem, MESSAGE, swapped)
        assert result == Verification(False, SIGNATURE_MISMATCH)

    def test_unusable_public_key_raises(self, detached: DetachedSignature) -> None:
        with pytest.raises(InvalidKey):
            signing.verify_document("not a key", MESSAGE, detached)
