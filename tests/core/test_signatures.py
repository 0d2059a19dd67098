"""Document signatures through the service, the API and the CLI (core.signatures)."""

from __future__ import annotations

import json

import pytest

from smartcity.core import signatures, signing
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from tests.core import factories
from tests.core.factories import ROOT
from tests.problems import assert_problem

LICENCE = "食品经营许可证 JY14403040012345 深圳市示例餐饮有限公司".encode()


class TestSignDocument:
    @pytest.mark.parametrize("algorithm", ["SM2", "P-256"])
    async def test_round_trip(self, session, algorithm):
        sig = await signatures.sign_document(
            session, ROOT, algorithm=algorithm, document=LICENCE, name="licence.txt"
        )
        result, key = await signatures.verify_document(
            session, document=LICENCE, signature_json=sig.to_json()
        )
        assert result.valid and key.algorithm == algorithm

    async def test_changed_document(self, session):
        sig = await signatures.sign_document(session, ROOT, algorithm="SM2", document=LICENCE)
        result, _ = await signatures.verify_document(
            session, document=LICENCE + b" ", signature_json=sig.to_json()
        )
        assert not result.valid and result.reason == signing.DOCUMENT_CHANGED

    async def test_tampered_signature(self, session):
        sig = await signatures.sign_document(session, ROOT, algorithm="P-256", document=LICENCE)
        body = json.loads(sig.to_json())
        body["signed_at"] = "2020-01-01T00:00:00Z"  # relabelled: the signed message changes
        result, _ = await signatures.verify_document(
            session, document=LICENCE, signature_json=json.dumps(body)
        )
        assert not result.valid

    async def test_unknown_key(self, session):
        pair = signing.generate_key("SM2", b"another-instance")
        foreign = signing.sign_document(
            "SM2",
            pair.private_key_pem_encrypted,
            pair.public_key_pem,
            b"another-instance",
            LICENCE,
            signing.datetime.now(signing.UTC),
        )
        result, key = await signatures.verify_document(
            session, document=LICENCE, signature_json=foreign.to_json()
        )
        assert not result.valid and key is None and result.reason == signatures.UNKNOWN_KEY

    async def test_garbage_signature_file(self, session):
        with pytest.raises(InvalidInput) as exc:
            await signatures.verify_document(session, document=LICENCE, signature_json="{oops")
        assert exc.value.extensions["field"] == "signature"

    async def test_citizen_cannot_sign(self, session):
        citizen = factories.principal(await factories.create_account(session))
        with pytest.raises(Forbidden):
            await signatures.sign_document(session, citizen, algorithm="SM2", document=LICENCE)

    async def test_unknown_algorithm(self, session):
        with pytest.raises(InvalidInput):
            await signatures.sign_document(session, ROOT, algorithm="RSA", document=LICENCE)


class TestRotate:
    async def test_old_signatures_still_verify(self, session):
        old_sig = await signatures.sign_document(session, ROOT, algorithm="SM2", document=LICENCE)
        old_key = await signatures.active_key(session, "SM2")
        new_key = await signatures.rotate_key(session, ROOT, "SM2")
        assert new_key.fingerprint != old_key.fingerprint and not old_key.active
        result, key = await signatures.verify_document(
            session, document=LICENCE, signature_json=old_sig.to_json()
        )
        assert result.valid and key.id == old_key.id

    async def test_private_key_is_stored_encrypted(self, session):
        key = await signatures.active_key(session, "P-256")
        assert "ENCRYPTED PRIVATE KEY" in key.private_key_enc
        assert "BEGIN PRIVATE KEY" not in key.private_key_enc


class TestSignaturesApi:
    async def test_sign_and_verify_over_http(self, client, session):
        staff = await factories.create_account(session, kind="staff")
        token = issue_access_token(get_settings(), staff, amr=["pwd", "otp"])
        r = await client.post(
            "/api/v1/signatures",
            params={"algorithm": "SM2"},
            headers={"Authorization": f"Bearer {token}"},
            files={"document": ("licence.txt", LICENCE)},
        )
        assert r.status_code == 201, r.text
        sig = r.json()
        # Anyone verifies, no sign-in.
        r = await client.post(
            "/api/v1/signatures/verify",
            files={
                "document": ("licence.txt", LICENCE),
                "signature": ("licence.txt.sig", json.dumps(sig).encode()),
            },
        )
        assert r.status_code == 200 and r.json()["valid"] is True
        assert r.json()["key"]["algorithm"] == "SM2"
        r = await client.post(
            "/api/v1/signatures/verify",
            files={
                "document": ("licence.txt", LICENCE + b"!"),
                "signature": ("licence.txt.sig", json.dumps(sig).encode()),
            },
        )
        assert r.json() == {**r.json(), "valid": False, "reason": signing.DOCUMENT_CHANGED}
        keys = await client.get("/api/v1/signing-keys")
        assert sig["key_fingerprint"] in [k["fingerprint"] for k in keys.json()]
        assert all("private" not in json.dumps(k).lower() for k in keys.json())

    async def test_bad_input(self, client, session):
        staff = await factories.create_account(session, kind="staff")
        headers = {"Authorization": f"Bearer {issue_access_token(get_settings(), staff, amr=[])}"}
        r = await client.post(
            "/api/v1/signatures",
            params={"algorithm": "RSA"},
            headers=headers,
            files={"document": ("x", b"abc")},
        )
        assert_problem(r, 422, "invalid-input")
        r = await client.post("/api/v1/signatures", headers=headers, files={"document": ("x", b"")})
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "document"
        r = await client.post(
            "/api/v1/signatures/verify",
            files={"document": ("x", b"abc"), "signature": ("x.sig", b"not json")},
        )
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "signature"

    async def test_anonymous_cannot_sign(self, client):
        r = await client.post("/api/v1/signatures", files={"document": ("x", b"abc")})
        assert_problem(r, 401, "unauthenticated")
