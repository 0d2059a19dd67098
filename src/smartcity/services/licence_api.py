"""REST API of licences (证照) and item subscriptions (订阅事项).

Public: the check of a licence by number and of a licence file with its signature, both
rate-limited per client address. Holders and staff: their licences and the signed files.
Staff of the issuing department: revocation. Citizens and enterprises: following items;
administrators: changing an item, which tells its followers.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field, StringConstraints
from starlette.responses import Response

from smartcity.core.authz import Principal
from smartcity.core.errors import TooManyRequests
from smartcity.core.ratelimit import RateLimiter, client_ip
from smartcity.core.security import public, require_principal
from smartcity.core.text import FreeText
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.services import licences, service, subscriptions
from smartcity.services.models import Licence
from smartcity.services.schemas import CODE_PATTERN, ServiceItemRead

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, tags=["licences"])

Number = Annotated[str, Path(pattern=licences.NUMBER_PATTERN)]
Code = Annotated[str, Path(pattern=CODE_PATTERN)]
Holder = Annotated[
    Principal,
    Depends(require_principal("citizen", "enterprise", "staff", "supervisor", "admin")),
]
Revoker = Annotated[Principal, Depends(require_principal("staff", "admin"))]
Follower = Annotated[Principal, Depends(require_principal("citizen", "enterprise"))]
Admin = Annotated[Principal, Depends(require_principal("admin"))]


async def limit_verification(request: Request) -> None:
    """One bucket per client for every licence check, whatever the number: a per-path
    bucket would let a client walk the numbers at full speed."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.hit(f"{client_ip(request)}:licence-check")
    if wait > 0:
        raise TooManyRequests(
            "Too many checks from your address; wait a moment and try again.",
            headers={"Retry-After": str(int(wait) + 1)},
        )


# --- shapes ------------------------------------------------------------------------------


class SignatureInfo(BaseModel):
    algorithm: str
    key_fingerprint: str
    signed_at: str
    digest: str


class LicenceCheckRead(BaseModel):
    """A licence as anyone may see it: the check's conclusion and the signed, masked content.

    ``status``: valid, invalid, revoked or expired. Content fields are null when the
    signature does not hold: nothing unsigned is shown as if it were the licence."""

    number: str | None
    status: str
    reason: str
    signature_valid: bool
    title: str | None = None
    item_code: str | None = None
    item_name: str | None = None
    holder_name: str | None = None
    holder_identifier_type: str | None = None
    holder_identifier: str | None = None
    department_code: str | None = None
    department_name: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None
    case_number: str | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    signature: SignatureInfo | None = None


class LicencePublicRead(BaseModel):
    """The public check by number (亮证核验): whether the licence holds and is in force, and
    what it is, with the holder masked (张*三, 深圳市****有限公司). No case number, item or
    identity number: anyone holding the full number may ask. Content fields are null when
    the signature does not hold."""

    number: str
    status: str
    reason: str
    signature_valid: bool
    title: str | None = None
    holder_name_masked: str | None = None
    department_name: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None
    revoked_at: datetime | None = None


class LicenceRead(BaseModel):
    """A licence in its holder's (or department's) list."""

    number: str
    title: str
    item_code: str
    item_name: str
    holder_name: str
    issued_at: datetime
    valid_until: date | None
    status: str
    revoked_at: datetime | None
    revoked_reason: str


DocumentText = Annotated[
    str, StringConstraints(min_length=1, max_length=licences.DOCUMENT_MAX_BYTES)
]
SignatureText = Annotated[
    str, StringConstraints(min_length=1, max_length=licences.SIGNATURE_MAX_BYTES)
]


class LicenceFile(BaseModel):
    """A licence file and its detached signature, as text or as JSON objects. A document
    given as an object is checked in its canonical form (sorted keys, no whitespace), which
    is how licences are issued."""

    document: DocumentText | dict[str, Any]
    signature: SignatureText | dict[str, Any]


class Revocation(BaseModel):
    reason: FreeText = Field(max_length=2000)


class SubscriptionRead(BaseModel):
    code: str
    subscribed: bool


class ItemChanged(BaseModel):
    item: ServiceItemRead
    changes: list[str]


def _check_read(check: licences.LicenceCheck) -> LicenceCheckRead:
    doc = check.document or {}
    item, holder, dep = doc.get("item", {}), doc.get("holder", {}), doc.get("department", {})
    lic = check.licence
    shown = check.document is not None
    return LicenceCheckRead(
        number=lic.number if lic else doc.get("number"),
        status=check.status,
        reason=check.reason,
        signature_valid=check.signature_valid,
        title=doc.get("title"),
        item_code=item.get("code"),
        item_name=item.get("name"),
        holder_name=holder.get("name"),
        holder_identifier_type=holder.get("identifier_type") or None,
        holder_identifier=holder.get("identifier") or None,
        department_code=dep.get("code"),
        department_name=dep.get("name"),
        issued_on=doc.get("issued_on"),
        valid_until=doc.get("valid_until"),
        case_number=doc.get("case_number"),
        revoked_at=lic.revoked_at if lic and shown else None,
        revoked_reason=(lic.revoked_reason or None) if lic and shown else None,
        signature=SignatureInfo(
            algorithm=check.signature.algorithm,
            key_fingerprint=check.signature.key_fingerprint,
            signed_at=check.signature.signed_at,
            digest=check.signature.digest,
        )
        if check.signature
        else None,
    )


def licence_read(lic: Licence) -> LicenceRead:
    doc = licences.document_of(lic)
    return LicenceRead(
        number=lic.number,
        title=str(doc.get("title", "")),
        item_code=str(doc.get("item", {}).get("code", "")),
        item_name=str(doc.get("item", {}).get("name", "")),
        holder_name=str(doc.get("holder", {}).get("name", "")),
        issued_at=lic.issued_at,
        valid_until=lic.valid_until,
        status=licences.row_status(lic),
        revoked_at=lic.revoked_at,
        revoked_reason=lic.revoked_reason,
    )


def _file(content: str, filename: str) -> Response:
    return Response(
        content.encode(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- licences ----------------------------------------------------------------------------


@router.get("/licences", response_model=list[LicenceRead])
async def list_licences(session: DbSession, principal: Holder) -> list[LicenceRead]:
    """The caller's licences (holders), or their department's (staff); newest first."""
    return [licence_read(lic) for lic in await licences.list_licences(session, principal)]


@router.post(
    "/licences/verify",
    response_model=LicenceCheckRead,
    dependencies=[Depends(public), Depends(limit_verification)],
)
async def verify_licence_file(session: DbSession, data: LicenceFile) -> LicenceCheckRead:
    """Check a licence file with its detached signature: a changed byte, a signature by a
    key the platform does not know, or a document the platform never issued is ``invalid``;
    a genuine licence since revoked is ``revoked`` with ``signature_valid`` true."""
    document = (
        licences.canonical_json(data.document)
        if isinstance(data.document, dict)
        else data.document.encode()
    )
    signature = (
        json.dumps(data.signature).encode()
        if isinstance(data.signature, dict)
        else data.signature.encode()
    )
    return _check_read(await licences.check_licence_file(session, document, signature))


@router.get(
    "/licences/{number}",
    response_model=LicencePublicRead,
    dependencies=[Depends(public), Depends(limit_verification)],
)
async def check_licence(session: DbSession, number: Number) -> LicencePublicRead:
    """The public check by number (亮证核验): status, masked holder, department, dates. The
    number must be whole, with its check part (the last five characters); a number from
    before check parts is checked with its check part appended (shown to its holder)."""
    check = await licences.check_licence(session, number)
    doc = check.document or {}
    shown = check.document is not None
    return LicencePublicRead(
        number=number.strip().upper(),
        status=check.status,
        reason=check.reason,
        signature_valid=check.signature_valid,
        title=doc.get("title"),
        holder_name_masked=(licences.public_holder(check) or None) if shown else None,
        department_name=(doc.get("department") or {}).get("name"),
        issued_on=doc.get("issued_on"),
        valid_until=doc.get("valid_until"),
        revoked_at=check.licence.revoked_at if check.licence and shown else None,
    )


@router.get("/licences/{number}/document")
async def licence_document(session: DbSession, principal: Holder, number: Number) -> Response:
    """The signed licence document, exactly the bytes the signature covers."""
    lic = await licences.get_licence(session, principal, number)
    return _file(lic.document, f"{lic.number}.json")


@router.get("/licences/{number}/signature")
async def licence_signature(session: DbSession, principal: Holder, number: Number) -> Response:
    """The detached signature of the licence document (SM2 with SM3)."""
    lic = await licences.get_licence(session, principal, number)
    return _file(lic.signature, f"{lic.number}.sig.json")


@router.post("/licences/{number}/revoke", response_model=LicenceCheckRead)
async def revoke_licence(
    session: DbSession, principal: Revoker, number: Number, data: Revocation
) -> LicenceCheckRead:
    """Revoke a licence (撤销) with a reason: staff of the issuing department or an
    administrator; 409 if already revoked. The holder is told."""
    await licences.revoke_licence(session, principal, number, data.reason)
    return _check_read(await licences.check_licence(session, licences.verification_number(number)))


# --- subscriptions and item changes ------------------------------------------------------


@router.get("/services/subscriptions", response_model=list[ServiceItemRead], tags=["services"])
async def my_subscriptions(session: DbSession, principal: Follower) -> list[ServiceItemRead]:
    """The items the caller follows."""
    items = await subscriptions.my_subscriptions(session, principal)
    departments = await subscriptions.departments_by_id(session, {i.department_id for i in items})
    return [service.item_read(i, departments[i.department_id]) for i in items]


@router.put(
    "/services/items/{code}/subscription", response_model=SubscriptionRead, tags=["services"]
)
async def subscribe(session: DbSession, principal: Follower, code: Code) -> SubscriptionRead:
    """Follow an item (订阅): told when it changes or is withdrawn. Idempotent."""
    await subscriptions.subscribe(session, principal, code)
    return SubscriptionRead(code=code, subscribed=True)


@router.delete(
    "/services/items/{code}/subscription", response_model=SubscriptionRead, tags=["services"]
)
async def unsubscribe(session: DbSession, principal: Follower, code: Code) -> SubscriptionRead:
    """Stop following an item. Idempotent."""
    await subscriptions.unsubscribe(session, principal, code)
    return SubscriptionRead(code=code, subscribed=False)


@router.patch("/services/items/{code}", response_model=ItemChanged, tags=["services"])
async def update_item(
    session: DbSession, principal: Admin, code: Code, data: subscriptions.ServiceItemUpdate
) -> ItemChanged:
    """Change an item or withdraw it (``active: false``); administrators only. Followers
    get a message listing the changes."""
    item, lines = await subscriptions.update_service_item(session, principal, code, data)
    departments = await subscriptions.departments_by_id(session, {item.department_id})
    return ItemChanged(item=service.item_read(item, departments[item.department_id]), changes=lines)
