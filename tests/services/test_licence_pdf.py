"""The licence as a PDF signed inside the file (PAdES, the platform's P-256 key): issued to
its holder and the issuing department's staff, checked alone at /licences/verify (page and
API), refused when changed, signed by another key, not a PDF, or too large."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock, signatures, signing
from smartcity.core.errors import InvalidInput, PayloadTooLarge
from smartcity.core.models import Account, SigningKey
from smartcity.services import licence_pdf, licences
from smartcity.services.models import Licence
from smartcity.settings import get_settings
from tests.cases.factories import World
from tests.problems import assert_problem
from tests.services.test_licences import HTML, _issued, bearer, csrf_of

CST = timezone(timedelta(hours=8))
LATER = datetime(2026, 10, 14, 9, 30, tzinfo=CST)
URL = "http://testserver/licences/verify?number=X"


async def _pdf(session: AsyncSession, w: World, lic: Licence) -> bytes:
    with clock.frozen(LATER):
        return await licence_pdf.licence_pdf(session, w.applicant_p, lic, URL)


async def _platform_key(session: AsyncSession) -> SigningKey:
    return await signatures.active_key(session, signing.P256)


async def _check(session: AsyncSession, data: bytes) -> licence_pdf.PdfCheck:
    with clock.frozen(LATER):
        return await licence_pdf.check_licence_pdf(session, data)


def _tamper(data: bytes) -> bytes:
    """One byte changed inside the first content stream (covered by the signature)."""
    at = data.index(b"stream\n") + len(b"stream\n") + 20
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


class TestIssuing:
    async def test_pyhanko_validates_it_as_signed_by_the_platform_key(
        self, session: AsyncSession
    ) -> None:
        w, lic = await _issued(session)
        data = await _pdf(session, w, lic)
        assert data.startswith(b"%PDF-")
        key = await _platform_key(session)
        trusted = licence_pdf.certificate_of(key)
        # The certificate is the P-256 key's own, and the same every time (no storage).
        assert hashlib_spki(trusted) == key.fingerprint
        secret = get_settings().resolved_secret()
        again = [
            signing.platform_certificate_der(
                key.private_key_enc, secret, "深圳市政务服务平台", LATER
            )
            for _ in range(2)
        ]
        assert again[0] == again[1]  # deterministic ECDSA: the same key, the same bytes
        parsed = asn1_x509.Certificate.load(again[0])
        assert parsed.key_usage_value.native == {"digital_signature", "non_repudiation"}
        assert parsed.ca is False
        reader = PdfFileReader(io.BytesIO(data))
        [embedded] = reader.embedded_signatures
        with clock.frozen(LATER):
            status = await async_validate_pdf_signature(
                embedded,
                signer_validation_context=ValidationContext(
                    trust_roots=[trusted], allow_fetching=False, moment=clock.now()
                ),
            )
        assert status.intact and status.valid and status.trusted
        assert status.signing_cert.dump() == trusted.dump()
        assert embedded.self_reported_timestamp == LATER
        assert "/ETSI.CAdES.detached" in str(embedded.sig_object["/SubFilter"])
        # The licence document rides inside, byte for byte what the SM2 signature covers.
        assert licence_pdf._attachment(reader) == lic.document.encode()
        # Deterministic enough: the page drawn twice is the same bytes.
        doc = licences.document_of(lic)
        first = licence_pdf.render_pdf(doc, status="valid", verify_url=URL, sm2_fingerprint="F")
        second = licence_pdf.render_pdf(doc, status="valid", verify_url=URL, sm2_fingerprint="F")
        assert first == second

    async def test_the_page_says_what_the_print_view_says(self, session: AsyncSession) -> None:
        _w, lic = await _issued(session)
        doc = licences.document_of(lic)
        page = licence_pdf.render_pdf(doc, status="valid", verify_url=URL, sm2_fingerprint="F")
        text = _page_text(page)
        for expected in (
            doc["title"],
            lic.number,
            doc["holder"]["name"],
            doc["item"]["name"],
            doc["department"]["name"],
            doc["case_number"],
            "2026年10月13日",
            "/licences/verify",
        ):
            assert expected in text, expected
        if doc["holder"]["identifier"]:
            assert doc["holder"]["identifier"] in text
        revoked = licence_pdf.render_pdf(doc, status="revoked", verify_url=URL, sm2_fingerprint="F")
        assert "REVOKED" in _page_text(revoked) and "REVOKED" not in text


def hashlib_spki(certificate: asn1_x509.Certificate) -> str:
    import hashlib

    return hashlib.sha256(certificate.public_key.dump()).hexdigest()


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(raw: bytes) -> bytes:
    """A PDF literal string's bytes, escapes undone."""
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i : i + 1] != b"\\":
            out += raw[i : i + 1]
            i += 1
            continue
        octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(), 8))
            i += 1 + len(octal.group())
        else:
            nxt = raw[i + 1 : i + 2]
            out += _ESCAPES.get(nxt, nxt)
            i += 2
    return bytes(out)


def _page_text(data: bytes) -> str:
    """The text the page draws in the CID font (UCS-2 strings, as reportlab writes them)."""
    page = PdfFileReader(io.BytesIO(data)).root["/Pages"]["/Kids"][0]
    content = page["/Contents"].data
    strings = re.findall(rb"/F2 [\d.]+ Tf [\d.]+ TL \(((?:\\.|[^\\)])*)\) Tj", content)
    return "\n".join(_literal(raw).decode("utf-16-be") for raw in strings)


class TestChecking:
    async def test_round_trip(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        result = await _check(session, await _pdf(session, w, lic))
        assert (result.check.status, result.check.reason) == ("valid", "valid")
        assert result.check.signature_valid and result.check.licence is not None
        assert result.check.document == licences.document_of(lic)
        assert result.signer is not None and result.signer.signed_at == LATER
        assert result.signer.key_fingerprint == (await _platform_key(session)).fingerprint

    async def test_revoked_and_expired(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        data = await _pdf(session, w, lic)
        with clock.frozen(datetime(2032, 1, 1, tzinfo=CST)):
            late = await licence_pdf.check_licence_pdf(session, data)
        assert late.check.status == "expired"
        with clock.frozen(LATER):
            await licences.revoke_licence(session, w.officer_p, lic.number, "吊销")
        assert (await _check(session, data)).check.status == "revoked"

    async def test_tampered_byte(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        result = await _check(session, _tamper(await _pdf(session, w, lic)))
        assert (result.check.status, result.check.reason) == ("invalid", "document_changed")
        assert result.check.document is None

    async def test_appended_update_is_refused(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        writer = IncrementalPdfFileWriter(io.BytesIO(await _pdf(session, w, lic)))
        writer.root["/Lang"] = generic.TextStringObject("en")  # any change, as an update
        writer.update_root()
        out = io.BytesIO()
        writer.write(out)
        assert len(out.getvalue()) > len(await _pdf(session, w, lic)) - 100
        result = await _check(session, out.getvalue())
        assert (result.check.status, result.check.reason) == ("invalid", "document_changed")

    async def test_other_key(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        data = await _pdf(session, w, lic)
        # The same page and attachment, signed by a key the platform does not have.
        pair = signing.generate_key(signing.P256, b"another-secret")
        der = signing.platform_certificate_der(
            pair.private_key_enc
            if hasattr(pair, "private_key_enc")
            else pair.private_key_pem_encrypted,
            b"another-secret",
            "冒充平台",
            LATER,
        )
        forged = await _resign(data, lic, pair.private_key_pem_encrypted, b"another-secret", der)
        result = await _check(session, forged)
        assert (result.check.status, result.check.reason) == ("invalid", "other_key")

    async def test_not_issued_content(self, session: AsyncSession) -> None:
        """Signed by the platform, but the attachment is no licence on record."""
        _w, lic = await _issued(session)
        key = await _platform_key(session)
        unsigned = licence_pdf.render_pdf(
            licences.document_of(lic), status="valid", verify_url=URL, sm2_fingerprint=""
        )
        with clock.frozen(LATER):
            data = await licence_pdf._sign(unsigned, b'{"number":"X"}', key, clock.now())
        result = await _check(session, data)
        assert (result.check.status, result.check.reason) == ("invalid", "not_issued")

    async def test_garbage_empty_and_oversize(self, session: AsyncSession) -> None:
        for bad in (b"", b"   ", b"hello", b"%PDF-1.7\n garbage", b"\x00" * 100):
            with pytest.raises(InvalidInput):
                await _check(session, bad)
        with pytest.raises(PayloadTooLarge):
            await _check(session, b"%PDF-1.7\n" + b"0" * licence_pdf.PDF_MAX_BYTES)
        unsigned = licence_pdf.render_pdf({}, status="valid", verify_url=URL, sm2_fingerprint="")
        result = await _check(session, unsigned)
        assert (result.check.status, result.check.reason) == ("invalid", "not_signed")


async def _resign(data: bytes, lic: Licence, pem: str, secret: bytes, der: bytes) -> bytes:
    unsigned = licence_pdf.render_pdf(
        licences.document_of(lic), status="valid", verify_url=URL, sm2_fingerprint=""
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(unsigned))
    certificate = asn1_x509.Certificate.load(der)
    signer = signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=asn1_keys.PrivateKeyInfo.load(
            signing.load_pkcs8_der(signing.P256, pem, secret)
        ),
        cert_registry=SimpleCertificateStore.from_certs([certificate]),
    )
    out = io.BytesIO()
    await signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="Sig"), signer=signer
    ).async_sign_pdf(writer, output=out)
    assert data != out.getvalue()
    return out.getvalue()


# --- over HTTP ----------------------------------------------------------------------------

PDF = {"content-type": "application/pdf"}


async def _download(client: httpx.AsyncClient, path: str, account: Account) -> httpx.Response:
    # On the real clock, as the bearer token is: the fixed clock is the service tests' own.
    return await client.get(path, headers={**HTML, **bearer(account)})


class TestHttp:
    async def test_download_rules(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        stranger = await session.get(Account, w.stranger_p.id)
        outsider = await session.get(Account, w.outsider_p.id)
        assert stranger is not None and outsider is not None
        await session.commit()
        for path in (
            f"/my/licences/{lic.number}/licence.pdf",
            f"/api/v1/licences/{lic.number}/pdf",
        ):
            for who in (w.applicant, w.officer):  # the holder, staff of the issuing department
                r = await _download(client, path, who)
                assert r.status_code == 200, (path, r.text)
                assert r.headers["content-type"] == "application/pdf"
                assert f'filename="{lic.number}.pdf"' in r.headers["content-disposition"]
                assert "no-store" in r.headers["cache-control"]
                assert r.content.startswith(b"%PDF-")
            for who in (stranger, outsider):  # another citizen, another department's staff
                assert (await _download(client, path, who)).status_code == 404
        anonymous = await client.get(f"/api/v1/licences/{lic.number}/pdf")
        assert_problem(anonymous, 401, "unauthenticated")
        page = await client.get(f"/my/licences/{lic.number}/licence.pdf", headers=HTML)
        assert page.status_code == 303
        # The download is audited with the file's digest.
        from tests.services.test_licences import audited

        assert "services.licence.pdf" in await audited(session, lic.number)

    async def test_round_trip_through_verify(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w, lic = await _issued(session)
        await session.commit()
        data = (
            await _download(client, f"/my/licences/{lic.number}/licence.pdf", w.applicant)
        ).content
        # The QR code leads to the check form with the number filled in.
        assert licence_pdf._attachment(PdfFileReader(io.BytesIO(data))) == lic.document.encode()
        r = await client.post("/api/v1/licences/verify/pdf", content=data, headers=PDF)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["reason"], body["signature_valid"]) == ("valid", "valid", True)
        assert body["number"] == lic.number and body["title"] == "食品经营许可证"
        key = await _platform_key(session)
        assert body["pdf_signer"]["key_fingerprint"] == key.fingerprint
        signed_at = datetime.fromisoformat(body["pdf_signer"]["signed_at"])
        assert abs(signed_at - clock.now()) < timedelta(minutes=5)
        assert "电子证照签章" in body["pdf_signer"]["subject"]

        r = await client.post("/api/v1/licences/verify/pdf", content=_tamper(data), headers=PDF)
        assert r.status_code == 200
        assert (r.json()["status"], r.json()["reason"]) == ("invalid", "document_changed")
        assert r.json()["title"] is None and r.json()["holder_name"] is None

        for garbage in (b"", b"not a pdf at all", b"%PDF-1.7 broken"):
            r = await client.post("/api/v1/licences/verify/pdf", content=garbage, headers=PDF)
            assert_problem(r, 422, "invalid-input")
            assert r.json()["field"] == "pdf"
        big = b"%PDF-1.7\n" + b"0" * licence_pdf.PDF_MAX_BYTES
        r = await client.post("/api/v1/licences/verify/pdf", content=big, headers=PDF)
        assert_problem(r, 413, "payload-too-large")

        # The SM2 signature still verifies the licence data, as before.
        pair = {"document": lic.document, "signature": lic.signature}
        r = await client.post("/api/v1/licences/verify", json=pair)
        assert r.status_code == 200 and r.json()["status"] == "valid"
        sig = await _download(client, f"/my/licences/{lic.number}/signature.json", w.applicant)
        assert signing.DetachedSignature.from_json(sig.content).algorithm == "SM2"

    @pytest.mark.parametrize("language", ["en", "zh-CN"])
    async def test_verify_page(
        self, client: httpx.AsyncClient, session: AsyncSession, language: str
    ) -> None:
        w, lic = await _issued(session)
        await session.commit()
        data = (await _download(client, f"/api/v1/licences/{lic.number}/pdf", w.applicant)).content
        headers = {**HTML, "Accept-Language": language}
        form = await client.get("/licences/verify", headers=headers)
        assert 'name="pdf"' in form.text
        token = csrf_of(form.text)

        async def post(content: bytes) -> httpx.Response:
            return await client.post(
                "/licences/verify",
                headers=headers,
                data={"csrf_token": token},
                files={"pdf": ("licence.pdf", content, "application/pdf")},
            )

        zh = language.startswith("zh")
        r = await post(data)
        assert r.status_code == 200 and 'class="verdict valid"' in r.text
        assert ("真实有效" if zh else "Genuine and in force") in r.text
        assert ("PDF 中的签名" if zh else "Signature in the PDF") in r.text
        assert lic.number in r.text
        r = await post(_tamper(data))
        assert r.status_code == 200 and 'class="verdict invalid"' in r.text
        assert ("签名后被修改" if zh else "changed after it was signed") in r.text
        r = await post(b"GIF89a not a pdf")
        assert r.status_code == 422 and 'id="pdf-error"' in r.text
        assert ("不是 PDF" if zh else "not a PDF") in r.text
        r = await post(b"%PDF-1.7\n" + b"0" * licence_pdf.PDF_MAX_BYTES)
        assert r.status_code == 413 and 'id="pdf-error"' in r.text
        r = await client.post("/licences/verify", headers=headers, data={"csrf_token": token})
        assert r.status_code == 422 and 'id="pdf-error"' in r.text
        # The SM2 pair still works from the same form.
        files = {
            "document": ("licence.json", lic.document.encode(), "application/json"),
            "signature": ("licence.sig.json", lic.signature.encode(), "application/json"),
        }
        r = await client.post(
            "/licences/verify", headers=headers, data={"csrf_token": token}, files=files
        )
        assert r.status_code == 200 and 'class="verdict valid"' in r.text

    async def test_holder_pages_offer_the_pdf(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w, lic = await _issued(session)
        await session.commit()
        mine = {**HTML, **bearer(w.applicant), "Accept-Language": "en"}
        for path in ("/my/licences", f"/my/licences/{lic.number}"):
            r = await client.get(path, headers=mine)
            assert f"/my/licences/{lic.number}/licence.pdf" in r.text
            assert "Download the signed PDF" in r.text
            assert f"/my/licences/{lic.number}/signature.json" in r.text
