"""The licence as a signed PDF (电子证照 PDF): one file a holder keeps and anyone checks.

The page is drawn with reportlab in its built-in CID font STSong-Light (Adobe-GB1), which
every PDF reader supplies, so nothing is embedded or fetched. The licence document (the
canonical JSON the SM2 signature covers, byte for byte) travels inside the file as an
attachment, ``licence.json``; the PDF is then signed in the file (PAdES baseline B, SHA-256)
with the platform's active P-256 key and its self-issued certificate (core.signing).

Checking a PDF (``check_licence_pdf``) asks, in this order: is it a PDF at all; does it hold
exactly one signature that covers the whole file (nothing appended after signing); was it
made by a platform P-256 key, the certificate being the one the platform derives from that
key; is the attached document, byte for byte, a licence on record; is that licence in
force. Nothing in the file is read past the signature check except what the platform itself
signed, so a hostile file is never decompressed.

Signing per download is cheap (milliseconds); nothing signed is cached, since the file
carries the signing time and an old one must not be served as new. Only the certificate of
a key (public, and the same for the same key) is kept per process.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import segno
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock, signatures, signing
from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput, PayloadTooLarge
from smartcity.core.i18n import gettext as _
from smartcity.core.models import SigningKey
from smartcity.services import licences
from smartcity.services.models import Licence
from smartcity.settings import get_settings

log = logging.getLogger(__name__)

# A licence PDF is about 15 KiB (the font is not embedded); 512 KiB leaves room and bounds
# what a public upload can make the parser walk.
PDF_MAX_BYTES = 512 * 1024
ATTACHMENT = "licence.json"
FIELD_NAME = "PlatformSignature"
FONT = "STSong-Light"
MEDIA_TYPE = "application/pdf"
# Why a PDF check failed, beyond the reasons of licences.REASON_CODES.
NOT_SIGNED = "not_signed"

_INK = HexColor("#1b1b1b")
_MUTED = HexColor("#555555")
_RED = HexColor("#c8102e")


class _FixedTimeSigner(signers.PdfSigner):
    """pyHanko stamps the signing time from the system clock; the platform's clock decides
    it here (frozen in tests, so a file can be checked against what it must say)."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(
        self, pdf_out: Any, existing_fields_only: bool = False
    ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signing_time
        return session


# --- the certificate --------------------------------------------------------------------


def _common_name() -> str:
    return f"{get_settings().city_name}政务服务平台"


@lru_cache(maxsize=16)
def _certificate_der(fingerprint: str, encrypted_pem: str, not_before: datetime) -> bytes:
    # Keyed by the fingerprint and the stored key: a rotated key gets its own entry, and
    # the value is public (the certificate), so keeping it is safe.
    return signing.platform_certificate_der(
        encrypted_pem, get_settings().resolved_secret(), _common_name(), not_before
    )


def certificate_of(key: SigningKey) -> asn1_x509.Certificate:
    """The platform's certificate for one of its P-256 keys."""
    return asn1_x509.Certificate.load(
        _certificate_der(key.fingerprint, key.private_key_enc, key.created_at)
    )


# --- drawing ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _day(value: str | None) -> str:
    if not value:
        return "长期（撤销前有效） Until revoked"
    year, month, day = value[:4], int(value[5:7]), int(value[8:10])
    return f"{year}年{month}月{day}日  {value}"


def _fit(canvas: Canvas, text: str, size: float, width: float) -> float:
    """The font size at which ``text`` fits ``width`` (never above ``size``)."""
    measured = pdfmetrics.stringWidth(text, _font(), size)
    return size if measured <= width else max(7.0, size * width / measured)


def _lines(text: str, size: float, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (CJK breaks anywhere)."""
    lines, current = [], ""
    for char in text:
        if pdfmetrics.stringWidth(current + char, _font(), size) > width and current:
            lines.append(current)
            current = char
        else:
            current += char
    return [*lines, current] if current else lines


def _qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    """The QR code of the check address, drawn as squares (the print view's code, segno)."""
    matrix = segno.make(url, error="m").matrix
    cell = size / len(matrix)
    canvas.setFillColor(_INK)
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                canvas.rect(x + col * cell, y + size - (row + 1) * cell, cell, cell, 0, 1)


def _seal(canvas: Canvas, department: str, cx: float, cy: float) -> None:
    canvas.saveState()
    canvas.setStrokeColor(_RED)
    canvas.setFillColor(_RED)
    canvas.setLineWidth(3)
    canvas.circle(cx, cy, 58, 1, 0)
    canvas.setLineWidth(0.8)
    canvas.circle(cx, cy, 53, 1, 0)
    star = []
    import math

    for i in range(10):
        radius = 15 if i % 2 == 0 else 6
        angle = math.pi / 2 + i * math.pi / 5
        star.append((cx + radius * math.cos(angle), cy + 4 + radius * math.sin(angle)))
    path = canvas.beginPath()
    path.moveTo(*star[0])
    for point in star[1:]:
        path.lineTo(*point)
    path.close()
    canvas.drawPath(path, 0, 1)
    # The department's name along the upper arc, one character at a time.
    name = department[:24]
    span = min(200.0, 16.0 * len(name))
    size = min(12.0, 260.0 / max(len(name), 1))
    canvas.setFont(_font(), size)
    for i, char in enumerate(name):
        angle = math.radians(90 + span / 2 - (span * (i + 0.5) / len(name)))
        canvas.saveState()
        canvas.translate(cx + 40 * math.cos(angle), cy + 40 * math.sin(angle))
        canvas.rotate(math.degrees(angle) - 90)
        canvas.drawCentredString(0, -size / 3, char)
        canvas.restoreState()
    canvas.setFont(_font(), 9)
    canvas.drawCentredString(cx, cy - 30, "电子证照专用章")
    canvas.restoreState()


def render_pdf(doc: dict[str, Any], *, status: str, verify_url: str, sm2_fingerprint: str) -> bytes:
    """The licence page (A4), unsigned, with the print view's content. ``invariant`` keeps
    reportlab from stamping its own time and a random file id, so equal input gives equal
    bytes."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    font = _font()
    width, height = A4
    number = str(doc.get("number", ""))
    title = str(doc.get("title", ""))
    holder = doc.get("holder") or {}
    item = doc.get("item") or {}
    department = str((doc.get("department") or {}).get("name", ""))
    canvas.setTitle(f"{title} {number}")
    canvas.setAuthor(department)
    canvas.setSubject(f"{get_settings().city_name} 电子证照 Electronic licence")
    canvas.setCreator("smartcity")

    # Frame: a double rule, as on a printed licence.
    canvas.setStrokeColor(_INK)
    canvas.setLineWidth(2)
    canvas.rect(36, 36, width - 72, height - 72)
    canvas.setLineWidth(0.6)
    canvas.rect(42, 42, width - 84, height - 84)

    canvas.setFillColor(_MUTED)
    canvas.setFont(font, 10)
    canvas.drawCentredString(
        width / 2, height - 80, f"{get_settings().city_name}  电子证照  Electronic licence"
    )
    canvas.setFillColor(_INK)
    size = _fit(canvas, title, 30, width - 140)
    canvas.setFont(font, size)
    canvas.drawCentredString(width / 2, height - 128, title)
    canvas.setFont(font, 11)
    canvas.drawCentredString(width / 2, height - 156, f"编号 No.  {number}")
    canvas.setLineWidth(0.6)
    canvas.line(80, height - 174, width - 80, height - 174)

    identifier_labels = {
        "resident_id": "公民身份号码 Resident ID number",
        "uscc": "统一社会信用代码 Unified social credit code",
    }
    rows: list[tuple[str, str]] = [("持证人 Holder", str(holder.get("name") or "—"))]
    if holder.get("identifier"):
        label = identifier_labels.get(
            str(holder.get("identifier_type")), "证件号码 Identity number"
        )
        rows.append((label, str(holder["identifier"])))
    rows += [
        ("许可事项 Licensed service", f"{item.get('name', '')}（事项编码 {item.get('code', '')}）"),
        ("发证机关 Issued by", department),
        ("发证日期 Issued on", _day(doc.get("issued_on"))),
        ("有效期至 Valid until", _day(doc.get("valid_until"))),
        ("办件编号 Case number", str(doc.get("case_number", ""))),
    ]
    y = height - 214
    label_x, value_x, value_width = 80, 250, width - 250 - 80
    for label, value in rows:
        canvas.setFillColor(_MUTED)
        canvas.setFont(font, 10)
        canvas.drawString(label_x, y, label)
        canvas.setFillColor(_INK)
        value_size = 15 if label.startswith("持证人") else 12
        lines = _lines(value, value_size, value_width)
        canvas.setFont(font, value_size)
        for line in lines:
            canvas.drawString(value_x, y, line)
            y -= value_size + 6
        y -= 16

    # QR code (left) and seal (right), as on the print view.
    qr_size = 120
    qr_y = 250
    _qr(canvas, verify_url, 80, qr_y, qr_size)
    canvas.setFillColor(_INK)
    canvas.setFont(font, 10)
    canvas.drawString(80, qr_y - 16, "扫码核验 Scan to check")
    canvas.setFillColor(_MUTED)
    canvas.setFont(font, _fit(canvas, verify_url, 8, 260))
    canvas.drawString(80, qr_y - 30, verify_url)
    _seal(canvas, department, width - 150, qr_y + 64)
    canvas.setFillColor(_INK)
    canvas.setFont(font, 10)
    canvas.drawCentredString(width - 150, qr_y - 16, department[:30])
    canvas.drawCentredString(width - 150, qr_y - 30, _day(doc.get("issued_on")).split("  ")[0])

    # What the file is signed with, for people who read the small print.
    canvas.setStrokeColor(_MUTED)
    canvas.line(80, 150, width - 80, 150)
    canvas.setFillColor(_MUTED)
    canvas.setFont(font, 8)
    notes = [
        "本文件内含平台数字签名（PAdES，P-256）；"
        "在 /licences/verify 上传本 PDF 即可核验真伪与效力。",
        "This file carries the platform's digital signature (PAdES, P-256); upload it at "
        "/licences/verify to check it.",
        f"附件 licence.json 为证照数据，另有 SM2 签名（GM/T 0003）；SM2 密钥指纹 {sm2_fingerprint}",
    ]
    y = 134
    for note in notes:
        for line in _lines(note, 8, width - 160):
            canvas.drawString(80, y, line)
            y -= 12
    if status in (licences.REVOKED, licences.EXPIRED):
        canvas.saveState()
        canvas.setFillColor(Color(0.78, 0.06, 0.18, alpha=0.25))
        canvas.setFont(font, 72)
        canvas.translate(width / 2, height / 2)
        canvas.rotate(30)
        canvas.drawCentredString(
            0, 0, "已撤销 REVOKED" if status == licences.REVOKED else "已过期 EXPIRED"
        )
        canvas.restoreState()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- issuing ----------------------------------------------------------------------------


async def licence_pdf(
    session: AsyncSession, principal: Principal, licence: Licence, verify_url: str
) -> bytes:
    """The licence as a PDF signed by the platform (a fresh signature per download)."""
    check = await licences.check_licence(session, licences.verification_number(licence.number))
    if check.document is None:
        # The stored signature no longer holds: nothing to vouch for.
        raise InvalidInput(_("This licence's record does not verify; ask the issuing department."))
    sm2 = licences.fingerprint_groups(check.signature.key_fingerprint) if check.signature else ""
    unsigned = render_pdf(
        check.document, status=check.status, verify_url=verify_url, sm2_fingerprint=sm2
    )
    key = await signatures.active_key(session, signing.P256)
    now = clock.now()
    signed = await _sign(unsigned, licence.document.encode(), key, now)
    await audit.log(
        session,
        principal,
        "services.licence.pdf",
        licence.number,
        key=key.fingerprint,
        digest=hashlib.sha256(signed).hexdigest(),
    )
    return signed


async def _sign(unsigned: bytes, document: bytes, key: SigningKey, now: datetime) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(unsigned))
    # The licence document as the file's attachment, so the PDF alone carries what the
    # SM2 signature covers and what the check compares with the record.
    embed_file(
        writer,
        FileSpec(
            file_spec_string=ATTACHMENT,
            file_name=ATTACHMENT,
            embedded_data=EmbeddedFileObject.from_file_data(
                writer,
                document,
                mime_type="application/json",
                params=EmbeddedFileParams(creation_date=now, modification_date=now),
            ),
            description="证照数据（SM2 签名所覆盖的原文） Licence data signed with SM2",
            af_relationship=generic.pdf_name("/Data"),
        ),
    )
    certificate = certificate_of(key)
    signer = signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=asn1_keys.PrivateKeyInfo.load(
            signing.load_pkcs8_der(
                signing.P256, key.private_key_enc, get_settings().resolved_secret()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([certificate]),  # type: ignore[no-untyped-call]
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason="电子证照签发 Licence issued",
        location=get_settings().city_name,
        name=_common_name(),
    )
    pdf_signer = _FixedTimeSigner(
        meta,
        signer=signer,
        new_field_spec=fields.SigFieldSpec(FIELD_NAME),
        signing_time=now,
    )
    out = io.BytesIO()
    await pdf_signer.async_sign_pdf(writer, output=out)
    return out.getvalue()


# --- checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfSigner:
    """Who signed a PDF, as its certificate says (for the result page)."""

    subject: str
    key_fingerprint: str
    signed_at: datetime | None


def too_large(limit: int = PDF_MAX_BYTES) -> PayloadTooLarge:
    return PayloadTooLarge(
        _("The file is larger than %(kib)s KiB; a licence PDF is much smaller.")
        % {"kib": limit // 1024},
        field="pdf",
    )


def _limit(data: bytes) -> bytes:
    if not data.strip():
        raise InvalidInput(_("The file is empty."), field="pdf")
    if len(data) > PDF_MAX_BYTES:
        raise too_large()
    if not data.lstrip()[:5] == b"%PDF-":
        raise InvalidInput(_("The file is not a PDF."), field="pdf")
    return data


def _not_readable() -> InvalidInput:
    return InvalidInput(_("The file is not a readable PDF."), field="pdf")


def _spki_fingerprint(certificate: asn1_x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_key.dump()).hexdigest()


def _attachment(reader: PdfFileReader) -> bytes | None:
    """The ``licence.json`` attachment of a (platform-signed) PDF, if there is one."""
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names) - 1, 2):
            if str(names[i]) == ATTACHMENT:
                stream = names[i + 1].get_object()["/EF"]["/F"].get_object()
                return bytes(stream.data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None
    return None


@dataclass(frozen=True)
class PdfCheck:
    """A licence check (licences.LicenceCheck) made from a PDF, with who signed the PDF."""

    check: licences.LicenceCheck
    signer: PdfSigner | None


def _invalid(reason: str, signer: PdfSigner | None = None) -> PdfCheck:
    return PdfCheck(
        licences.LicenceCheck(licences.INVALID, reason, False, None, None, None), signer
    )


async def check_licence_pdf(session: AsyncSession, data: bytes) -> PdfCheck:
    """Check a licence PDF alone (验证电子证照 PDF); see the module's docstring. A file that
    is not a PDF, is empty or too large is a 4xx problem; every other failing file is an
    ``invalid`` result with a reason."""
    data = _limit(data)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:
        log.info("unreadable PDF upload: %s", exc)
        raise _not_readable() from exc
    if len(embedded) != 1:
        return _invalid(NOT_SIGNED)
    signature = embedded[0]
    try:
        certificate = signature.signer_cert
    except Exception:
        return _invalid(NOT_SIGNED)
    fingerprint = _spki_fingerprint(certificate)
    signer = PdfSigner(
        subject=_common_name_of(certificate),
        key_fingerprint=fingerprint,
        signed_at=_signing_time(signature),
    )
    key = (
        await session.execute(
            select(SigningKey).where(
                SigningKey.fingerprint == fingerprint, SigningKey.algorithm == signing.P256
            )
        )
    ).scalar_one_or_none()
    if key is None:
        return _invalid("other_key", signer)
    trusted = certificate_of(key)
    context = ValidationContext(
        trust_roots=[trusted], allow_fetching=False, moment=clock.now(), revocation_mode="soft-fail"
    )
    try:
        status = await async_validate_pdf_signature(
            signature,
            signer_validation_context=context,
            key_usage_settings=KeyUsageConstraints(key_usage={"digital_signature"}),
            skip_diff=True,
        )
    except (SigningError, ValueError, KeyError, TypeError) as exc:
        log.info("PDF signature could not be validated: %s", exc)
        return _invalid("signature_mismatch", signer)
    except Exception as exc:
        log.info("PDF signature could not be validated: %s", exc)
        return _invalid("signature_mismatch", signer)
    if not status.intact:
        return _invalid("document_changed", signer)
    if not status.valid or not status.trusted or certificate.dump() != trusted.dump():
        return _invalid("signature_mismatch", signer)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        # Something was appended after signing (an incremental update): what a reader
        # shows may not be what the platform signed.
        return _invalid("document_changed", signer)
    # From here on the file is the platform's own: reading its attachment is safe.
    document = _attachment(reader)
    if document is None:
        check = licences.LicenceCheck(licences.INVALID, licences.NOT_ISSUED, True, None, None, None)
        return PdfCheck(check, signer)
    return PdfCheck(await licences.check_issued_document(session, document), signer)


def _common_name_of(certificate: asn1_x509.Certificate) -> str:
    """The certificate's CN (the whole subject when it has none), at most 200 characters."""
    try:
        name = certificate.subject.native.get("common_name")
        text = str(name) if name else certificate.subject.human_friendly
    except Exception:
        text = ""
    return text[:200]


def _signing_time(signature: Any) -> datetime | None:
    try:
        value = signature.self_reported_timestamp
    except Exception:
        return None
    return value if isinstance(value, datetime) else None
