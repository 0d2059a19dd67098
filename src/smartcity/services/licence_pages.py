"""Pages of licences (证照) and item subscriptions: the holder's licences and print view, the
public check by number or by file, revocation by the issuing department, following items."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from smartcity.core import clock, signing
from smartcity.core.authz import Principal
from smartcity.core.errors import Problem
from smartcity.core.i18n import N_
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.services import licence_pdf, licences, service, subscriptions
from smartcity.services.licence_api import licence_verify_url, limit_verification, pdf_response
from smartcity.web.cache import cached_page
from smartcity.web.pages import page_principal, require_page, safe_next
from smartcity.web.render import check_csrf, render

__all__ = ["router"]

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

HolderPage = Annotated[Principal, Depends(require_page("citizen", "enterprise"))]
# Who may download a licence's files: its holder, and staff (their department's licences,
# as readable_licences scopes them).
KeeperPage = Annotated[
    Principal, Depends(require_page("citizen", "enterprise", "staff", "supervisor", "admin"))
]
RevokerPage = Annotated[Principal, Depends(require_page("staff", "admin"))]
Visitor = Annotated[Principal | None, Depends(page_principal)]
# The cache tag of the empty check form; nothing invalidates it (it shows no data).
VERIFY_FORM = "services.licence_verify"
Checked = [Depends(public), Depends(limit_verification)]

# Why a check failed, for people.
REASONS = {
    "valid": N_("The signature is valid and the licence is in force."),
    "revoked": N_("The signature is valid, but the licence has been revoked."),
    "expired": N_("The signature is valid, but the licence has expired."),
    "document_changed": N_("The document was changed after it was signed."),
    "signature_mismatch": N_("The signature does not match the document."),
    "other_key": N_("The signature was made with another key."),
    "unknown_key": N_("The signature was made with a key this platform does not know."),
    "not_issued": N_("This document is not a licence this platform issued."),
    "not_signed": N_("The PDF carries no signature of this platform."),
}
IDENTIFIER_LABELS = {
    "": N_("Identity number"),
    "resident_id": N_("Resident ID number"),
    "uscc": N_("Unified social credit code"),
}


def _field_error(exc: Problem) -> dict[str, str]:
    return {str(exc.extensions.get("field") or "_form"): exc.detail}


def verify_url(request: Request, number: str) -> str:
    return str(request.base_url).rstrip("/") + f"/licences/{number}"


def qr_svg(url: str) -> str:
    """The QR code of the verification address, inline SVG (no request to anyone)."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(
        buffer,
        kind="svg",
        scale=4,
        border=2,
        xmldecl=False,
        svgns=True,
        dark="#1b1b1b",
        light="#ffffff",
        title=url,
    )
    return buffer.getvalue().decode()


def _signed_at(check: licences.LicenceCheck) -> str:
    if check.signature is None:
        return ""
    at = datetime.strptime(check.signature.signed_at, signing.SIGNED_AT_FORMAT).replace(tzinfo=UTC)
    return f"{clock.to_city(at):%Y-%m-%d %H:%M:%S}"


def _context(check: licences.LicenceCheck) -> dict[str, Any]:
    return {
        "signed_at": _signed_at(check),
        "checked_at": f"{clock.to_city(clock.now()):%Y-%m-%d %H:%M}",
        "check": check,
        "doc": check.document or {},
        "reasons": REASONS,
        "identifier_labels": IDENTIFIER_LABELS,
        "fingerprint": licences.fingerprint_groups(check.signature.key_fingerprint)
        if check.signature
        else "",
    }


# --- the holder's licences (我的证照) --------------------------------------------------------


@router.get("/my/licences")
async def my_licences(request: Request, session: DbSession, principal: HolderPage) -> Response:
    rows = await licences.list_licences(session, principal)
    return render(
        request,
        "services/licences.html",
        {
            "licences": [
                (lic, licences.document_of(lic), licences.row_status(lic)) for lic in rows
            ],
            "verification_number": licences.verification_number,
        },
        principal=principal,
    )


@router.get("/my/licences/{number}")
async def licence_print(
    request: Request, session: DbSession, principal: HolderPage, number: str
) -> Response:
    """The licence as a printable A4 sheet, with its QR code and signature fingerprint."""
    lic = await licences.get_licence(session, principal, number[:40])
    check = await licences.check_licence(session, licences.verification_number(lic.number))
    url = verify_url(request, licences.verification_number(lic.number))
    return render(
        request,
        "services/licence.html",
        {**_context(check), "licence": lic, "verify_url": url, "qr": qr_svg(url)},
        principal=principal,
    )


def _download(content: str, filename: str) -> Response:
    return Response(
        content.encode(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/my/licences/{number}/document.json")
async def licence_document(session: DbSession, principal: HolderPage, number: str) -> Response:
    lic = await licences.get_licence(session, principal, number[:40])
    return _download(lic.document, f"{lic.number}.json")


@router.get("/my/licences/{number}/licence.pdf")
async def licence_pdf_download(
    request: Request, session: DbSession, principal: KeeperPage, number: str
) -> Response:
    """The licence as a PDF signed inside the file (PAdES, the platform's P-256 key)."""
    lic = await licences.get_licence(session, principal, number[:40])
    data = await licence_pdf.licence_pdf(
        session, principal, lic, licence_verify_url(request, lic.number)
    )
    return pdf_response(data, lic.number)


@router.get("/my/licences/{number}/signature.json")
async def licence_signature(session: DbSession, principal: HolderPage, number: str) -> Response:
    lic = await licences.get_licence(session, principal, number[:40])
    return _download(lic.signature, f"{lic.number}.sig.json")


# --- public checks (证照核验) ----------------------------------------------------------------


@router.get("/licences/verify", dependencies=[Depends(public)])
async def verify_form(request: Request, principal: Visitor, number: str | None = None) -> Response:
    """The check form: by number (a GET form, so the result has an address) or by file."""
    if number is not None:
        try:
            cleaned = licences.check_number(number[:100])
        except Problem as exc:
            return render(
                request,
                "services/licence_verify.html",
                {"errors": _field_error(exc), "values": {"number": number[:100]}},
                status_code=exc.status,
                principal=principal,
            )
        return RedirectResponse(f"/licences/{cleaned}", status_code=303)
    # The empty form shows no data, so no event changes it: rendered once per language for
    # visitors who are not signed in (web/cache.py).
    return await cached_page(
        request,
        VERIFY_FORM,
        "form",
        lambda: _verify_form(request, principal),
        signed_in=principal is not None,
    )


async def _verify_form(request: Request, principal: Principal | None) -> Response:
    return render(request, "services/licence_verify.html", principal=principal)


async def _upload(form: Any, name: str, limit: int) -> bytes:
    value = form.get(name)
    if not isinstance(value, UploadFile):
        return b""
    # Read one byte past the limit: enough to refuse, never the whole of a huge file.
    return await value.read(limit + 1)


@router.post("/licences/verify", dependencies=Checked)
async def verify_file(request: Request, session: DbSession, principal: Visitor) -> Response:
    """Check an uploaded licence file with its signature file."""
    form = await request.form(max_files=3, max_fields=5)
    check_csrf(request, form)
    pdf = form.get("pdf")
    if isinstance(pdf, UploadFile) and (pdf.filename or pdf.size):
        return await _verify_pdf(request, session, principal, pdf)
    document = await _upload(form, "document", licences.DOCUMENT_MAX_BYTES)
    signature = await _upload(form, "signature", licences.SIGNATURE_MAX_BYTES)
    if not document.strip() and not signature.strip():
        # Nothing chosen at all: the PDF is what the form asks for first.
        return await _verify_pdf(request, session, principal, None)
    try:
        check = await licences.check_licence_file(session, document, signature)
    except Problem as exc:
        return render(
            request,
            "services/licence_verify.html",
            {"errors": _field_error(exc), "tab": "file"},
            status_code=exc.status,
            principal=principal,
        )
    return render(
        request,
        "services/licence_verify.html",
        {**_context(check), "tab": "file", "from_file": True},
        principal=principal,
    )


async def _verify_pdf(
    request: Request, session: DbSession, principal: Principal | None, upload: UploadFile | None
) -> Response:
    # Read one byte past the limit: enough to refuse, never the whole of a huge file.
    data = await upload.read(licence_pdf.PDF_MAX_BYTES + 1) if upload else b""
    try:
        result = await licence_pdf.check_licence_pdf(session, data)
    except Problem as exc:
        return render(
            request,
            "services/licence_verify.html",
            {"errors": _field_error(exc), "tab": "file"},
            status_code=exc.status,
            principal=principal,
        )
    signer = result.signer
    return render(
        request,
        "services/licence_verify.html",
        {
            **_context(result.check),
            "tab": "file",
            "from_file": True,
            "pdf_signer": signer,
            "pdf_signed_at": f"{clock.to_city(signer.signed_at):%Y-%m-%d %H:%M:%S}"
            if signer and signer.signed_at
            else "",
            "pdf_fingerprint": licences.fingerprint_groups(signer.key_fingerprint)
            if signer
            else "",
        },
        principal=principal,
    )


@router.get("/licences/{number}", dependencies=Checked)
async def licence_public(
    request: Request, session: DbSession, principal: Visitor, number: str
) -> Response:
    """The public page of a licence: valid, invalid, revoked or expired, holder masked."""
    try:
        check = await licences.check_licence(session, number[:100])
    except Problem as exc:
        if exc.status not in (404, 422):
            raise
        return render(
            request,
            "services/licence_public.html",
            {"unknown": number[:100]},
            status_code=404,
            principal=principal,
        )
    may_revoke = (
        principal is not None
        and principal.is_("staff", "admin")
        and check.licence is not None
        and check.licence.revoked_at is None
    )
    return render(
        request,
        "services/licence_public.html",
        {
            **_context(check),
            "public": True,
            "holder_masked": licences.public_holder(check),
            "verify_url": verify_url(request, number),
            "may_revoke": may_revoke,
        },
        principal=principal,
    )


# --- revocation (撤销) ---------------------------------------------------------------------


@router.get("/licences/{number}/revoke")
async def revoke_form(
    request: Request, session: DbSession, principal: RevokerPage, number: str
) -> Response:
    lic = await licences.get_licence(session, principal, number[:40])
    return render(
        request,
        "services/licence_revoke.html",
        {"licence": lic, "doc": licences.document_of(lic)},
        principal=principal,
    )


@router.post("/licences/{number}/revoke")
async def revoke(
    request: Request, session: DbSession, principal: RevokerPage, number: str
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    reason = str(form.get("reason") or "")
    lic = await licences.get_licence(session, principal, number[:40])
    try:
        async with session.begin_nested():
            await licences.revoke_licence(session, principal, lic.number, reason)
    except Problem as exc:
        if exc.status == 403:
            raise
        return render(
            request,
            "services/licence_revoke.html",
            {
                "licence": lic,
                "doc": licences.document_of(lic),
                "errors": _field_error(exc) if exc.status == 422 else {"reason": exc.detail},
                "values": {"reason": reason[:2000]},
            },
            status_code=exc.status,
            principal=principal,
        )
    return RedirectResponse(
        f"/licences/{licences.verification_number(lic.number)}", status_code=303
    )


# --- following items (订阅事项) --------------------------------------------------------------


@router.get("/services/{code}/subscription")
async def subscription_page(
    request: Request, session: DbSession, principal: HolderPage, code: str
) -> Response:
    item = await service.get_service_item(session, principal, code[:32])
    return render(
        request,
        "services/subscription.html",
        {"item": item, **await subscriptions.subscription_context(session, principal, item)},
        principal=principal,
    )


@router.post("/services/{code}/subscription")
async def subscription_change(
    request: Request, session: DbSession, principal: HolderPage, code: str
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    if form.get("action") == "unsubscribe":
        await subscriptions.unsubscribe(session, principal, code[:32])
    else:
        await subscriptions.subscribe(session, principal, code[:32])
    target = safe_next(str(form.get("next") or f"/services/{code[:32]}"))
    return RedirectResponse(target, status_code=303)
