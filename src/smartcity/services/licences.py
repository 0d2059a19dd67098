"""Licences and certificates (证照): issued when an application is approved, signed with the
platform's SM2 key, verified by anyone, revoked by the issuing department.

The licence document is canonical JSON (sorted keys, UTF-8, no whitespace) and the detached
signature covers it byte for byte, so a licence file checked years later needs only the
document, the signature and the platform's public key. Personal data in it is masked as the
registry masks it: a resident ID number keeps its first and last four characters; a unified
social credit code is shown in full, as the registry and every 营业执照 show it.

Title rule (证照名称), from the item's name, because items carry no column for it:
``…许可`` → ``…许可证`` (食品经营许可 → 食品经营许可证); ``…执业登记`` → ``…执业许可证``;
``…设立登记`` / ``…变更登记`` → 营业执照; ``…证明`` stays as it is; ``…申领`` / ``…办理`` /
``…换领`` drop the verb when what remains is a document (…证, …卡, …照, …书); anything else
is a 准予行政许可决定书 (the written decision of 行政许可法 第三十八条).

Validity (有效期): only where a regulation fixes it for the licence named (VALIDITY); every
other licence is valid until revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.cases.contract import CaseRecord, StepTaken
from smartcity.core import audit, clock, notifications, signatures, signing
from smartcity.core.authz import ObjectRule, Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account, Department
from smartcity.core.secrets import derive_key
from smartcity.core.text import clean_text
from smartcity.registry import contract as registry
from smartcity.services.events import LICENCE_ISSUED, LICENCE_REVOKED, LicenceIssued, LicenceRevoked
from smartcity.services.models import Application, Licence, ServiceItem
from smartcity.settings import get_settings

log = logging.getLogger(__name__)

ACTIONS: dict[str, frozenset[str]] = {
    "services.licence.revoke": frozenset({"staff", "admin"}),
}

ALGORITHM = signing.SM2
FORMAT = "smartcity-licence/v1"
# A number as typed for a check: a stored number, or a stored number from before check parts
# with its check part appended (46 characters at most).
NUMBER_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{1,45}$"
_NUMBER = re.compile(NUMBER_PATTERN)
REASON_MAX = 500
# A licence document is about a kilobyte; anything far larger is not one.
DOCUMENT_MAX_BYTES = 16 * 1024
SIGNATURE_MAX_BYTES = 4 * 1024
# The check part of a number (核验码): 5 characters of Crockford's base 32 from an HMAC of
# the rest with the instance secret, so 33 million guesses per number and no walking the
# sequence. Letters that look like digits (I, L, O, U) are left out.
CHECK_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_LENGTH = 5
# Number stem: the item code cut so the whole number fits the column (40).
_CODE_IN_NUMBER = 40 - len("-2026-000000-") - CHECK_LENGTH
_ISSUE_ATTEMPTS = 5

# Years of validity fixed by regulation, by a word of the licence's title.
VALIDITY: tuple[tuple[str, int, str], ...] = (
    ("食品经营许可证", 5, "《食品经营许可和备案管理办法》"),
    ("药品", 5, "《中华人民共和国药品管理法实施条例》"),
    ("卫生许可证", 4, "《公共场所卫生管理条例实施细则》"),
    ("排水管网许可证", 5, "《城镇污水排入排水管网许可管理办法》"),
)

# What a check concludes (核验结论).
VALID, INVALID, REVOKED, EXPIRED = "valid", "invalid", "revoked", "expired"

# Why a check failed, by core.signing's stable reasons, plus the licence's own.
REASON_CODES = {
    signing.VALID: "valid",
    signing.DOCUMENT_CHANGED: "document_changed",
    signing.SIGNATURE_MISMATCH: "signature_mismatch",
    signing.OTHER_KEY: "other_key",
    signing.ALGORITHM_MISMATCH: "other_key",
    signatures.UNKNOWN_KEY: "unknown_key",
}
NOT_ISSUED = "not_issued"  # signed by the platform, but no licence with this content


# --- who may do what --------------------------------------------------------------------


@dataclass(frozen=True)
class _Issuer:
    department_id: uuid.UUID


def _issuing_department(principal: Principal, obj: Any) -> bool:
    if principal.is_("admin"):
        return True
    return principal.department_id is not None and obj.department_id == principal.department_id


# Declared in MODULE.rules.
RULES: dict[str, ObjectRule] = {"services.licence.revoke": _issuing_department}


def readable_licences(principal: Principal) -> Select[Licence]:
    """Holders read their own licences; staff their department's; supervisors, admins and
    auditors all. (The public check by number is ``check_licence``, masked.)"""
    query = select(Licence)
    if principal.is_("supervisor", "admin", "auditor"):
        return query
    if principal.kind == "staff" and principal.department_id is not None:
        return query.where(Licence.case_id.in_(cases.department_case_ids(principal.department_id)))
    if principal.kind in ("citizen", "enterprise") and principal.id is not None:
        return query.where(Licence.holder_account_id == principal.id)
    return query.where(false())


async def list_licences(session: AsyncSession, principal: Principal) -> list[Licence]:
    """The licences the principal may read, newest first."""
    query = readable_licences(principal).order_by(Licence.issued_at.desc(), Licence.number)
    return list((await session.execute(query.limit(500))).scalars())


async def get_licence(session: AsyncSession, principal: Principal, number: str) -> Licence:
    """One readable licence by number, else 404."""
    found = (
        await session.execute(readable_licences(principal).where(Licence.number == number))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such licence."))
    return found


async def licence_for_case(session: AsyncSession, case_id: uuid.UUID) -> Licence | None:
    """The licence issued on a case, if any (for the step notices)."""
    return (
        await session.execute(select(Licence).where(Licence.case_id == case_id))
    ).scalar_one_or_none()


# --- the document -----------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Sorted keys, UTF-8, no whitespace: one object has exactly one encoding."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


_DOCUMENT_WORDS = ("证", "卡", "照", "书")


def licence_title(item_name: str) -> str:
    """The licence's name (证照名称) from the item's (see the module's docstring)."""
    name = item_name.strip()
    if name.endswith("许可"):
        return name + "证"
    if name.endswith("执业登记"):
        return name[: -len("登记")] + "许可证"
    if name.endswith(("设立登记", "变更登记")):
        return "营业执照"
    if name.endswith("证明"):
        return name
    for verb in ("申领", "办理", "换领"):
        if name.endswith(verb) and name[: -len(verb)].endswith(_DOCUMENT_WORDS):
            return name[: -len(verb)]
    return "准予行政许可决定书"


def validity_years(title: str) -> int | None:
    """Years a licence of this title is valid for, where a regulation says; else None."""
    for word, years, _basis in VALIDITY:
        if word in title:
            return years
    return None


def _valid_until(issued_on: date, years: int | None) -> date | None:
    if years is None:
        return None
    try:
        end = issued_on.replace(year=issued_on.year + years)
    except ValueError:  # 29 February
        end = issued_on.replace(year=issued_on.year + years, day=28)
    return end - timedelta(days=1)


@dataclass(frozen=True)
class Holder:
    """Who holds the licence (持证人), as the document names them."""

    name: str
    identifier_type: str  # resident_id, uscc or "" when the registry does not know them
    identifier: str  # masked where personal


async def _holder(session: AsyncSession, account_id: uuid.UUID | None) -> Holder:
    """From the registries (the authoritative source), else the account's display name."""
    if account_id is None:
        return Holder("", "", "")
    known = await registry.account_holder(session, account_id)
    if known is not None:
        return Holder(known.name, known.identifier_type, known.identifier)
    account = await session.get(Account, account_id)
    return Holder(account.display_name if account else "", "", "")


async def _item_of(session: AsyncSession, case_: CaseRecord) -> ServiceItem | None:
    """The item applied for: the application's, else the one the case's category names."""
    item_id = (
        await session.execute(select(Application.item_id).where(Application.case_id == case_.id))
    ).scalar_one_or_none()
    if item_id is not None:
        return await session.get(ServiceItem, item_id)
    if not case_.category:
        return None
    return (
        await session.execute(select(ServiceItem).where(ServiceItem.code == case_.category))
    ).scalar_one_or_none()


def check_part(base: str) -> str:
    """The check part of a licence number whose other part is ``base``."""
    key = derive_key(get_settings().resolved_secret(), "licence-number")
    value = int.from_bytes(hmac.new(key, base.encode(), hashlib.sha256).digest()[:8], "big")
    chars = []
    for _position in range(CHECK_LENGTH):
        value, index = divmod(value, len(CHECK_ALPHABET))
        chars.append(CHECK_ALPHABET[index])
    return "".join(chars)


def _base_of(number: str) -> str | None:
    """The part of a full number before a valid check part, or None."""
    base, dash, check = number.rpartition("-")
    if not dash or not base or len(check) != CHECK_LENGTH:
        return None
    return base if hmac.compare_digest(check, check_part(base)) else None


def verification_number(number: str) -> str:
    """The number to check a licence by: the number itself when it carries its check part;
    a number issued before check parts existed, with its check part appended."""
    return number if _base_of(number) is not None else f"{number}-{check_part(number)}"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _next_number(session: AsyncSession, item: ServiceItem, issued_on: date) -> str:
    """``<item code>-<YYYY>-<6-digit sequence>-<check part>``, the sequence the next after
    the highest issued (numbers from before check parts count too)."""
    stem = f"{item.code[:_CODE_IN_NUMBER]}-{issued_on:%Y}-"
    # Exactly six characters after the stem (and the check part), so an item whose code
    # extends this one's (SCJGJ-003 and SCJGJ-003-2026) never counts in its sequence.
    pattern = _escape_like(stem) + "______"
    highest = (
        await session.execute(
            select(func.max(Licence.number)).where(
                Licence.number.like(pattern, escape="\\")
                | Licence.number.like(pattern + "-" + "_" * CHECK_LENGTH, escape="\\")
            )
        )
    ).scalar_one_or_none()
    seq_text = highest[len(stem) : len(stem) + 6] if highest else ""
    seq = int(seq_text) + 1 if seq_text.isdigit() else 1
    base = f"{stem}{seq:06d}"
    return f"{base}-{check_part(base)}"


def mask_holder_name(name: str, identifier_type: str) -> str:
    """The holder's name as the public check shows it: 张*三, 欧**明, 深圳市****有限公司."""
    if not name:
        return ""
    if identifier_type == "uscc" and len(name) > 8:
        return name[:3] + "****" + name[-4:]
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def public_holder(check: LicenceCheck) -> str:
    """The masked holder of a checked licence ("" when the signature does not hold)."""
    holder = (check.document or {}).get("holder") or {}
    return mask_holder_name(str(holder.get("name") or ""), str(holder.get("identifier_type") or ""))


def issuing_authority(department_name: str) -> str:
    """The department's name as a licence states it (发证机关): with the city, as 深圳市公安局."""
    city = get_settings().city_name
    return department_name if department_name.startswith(city) else city + department_name


def _document(
    number: str,
    title: str,
    item: ServiceItem,
    holder: Holder,
    department: Department,
    case_: CaseRecord,
    issued_on: date,
    valid_until: date | None,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "number": number,
        "title": title,
        "item": {"code": item.code, "name": item.name},
        "holder": {
            "name": holder.name,
            "identifier_type": holder.identifier_type,
            "identifier": holder.identifier,
        },
        "department": {"code": department.code, "name": issuing_authority(department.name)},
        "issued_on": issued_on.isoformat(),
        "valid_until": valid_until.isoformat() if valid_until else None,
        "case_number": case_.number,
    }


async def issue_licence(
    session: AsyncSession, principal: Principal, case_: CaseRecord
) -> Licence | None:
    """Issue and sign the licence of an approved case (发证), once per case.

    The approving officer signs with the platform's SM2 key (core.signatures, audited). The
    number's sequence is the highest issued plus one; two approvals racing for one number
    are kept apart by the unique constraint, and the loser takes the next. A case with no
    catalog item behind it gets no licence; a case that already has one keeps it."""
    existing = await licence_for_case(session, case_.id)
    if existing is not None:
        return existing
    item = await _item_of(session, case_)
    if item is None:
        log.warning("case %s has no service item; no licence issued", case_.number)
        return None
    department = await session.get(Department, case_.department_id)
    assert department is not None  # RESTRICT foreign key
    holder = await _holder(session, case_.applicant_account_id)
    now = clock.now()
    issued_on = clock.to_city(now).date()
    title = licence_title(item.name)
    valid_until = _valid_until(issued_on, validity_years(title))
    for _attempt in range(_ISSUE_ATTEMPTS):
        number = await _next_number(session, item, issued_on)
        document = canonical_json(
            _document(number, title, item, holder, department, case_, issued_on, valid_until)
        )
        try:
            async with session.begin_nested():
                signature = await signatures.sign_document(
                    session, principal, algorithm=ALGORITHM, document=document, name=number
                )
                licence = Licence(
                    id=uuid.uuid4(),
                    number=number,
                    case_id=case_.id,
                    item_id=item.id,
                    holder_account_id=case_.applicant_account_id,
                    document=document.decode(),
                    signature=signature.to_json(),
                    issued_at=now,
                    valid_until=valid_until,
                    revoked_reason="",
                )
                session.add(licence)
                await session.flush()
        except IntegrityError:
            continue  # someone took this number meanwhile: take the next
        await audit.log(session, principal, LICENCE_ISSUED.name, target=number, case=case_.number)
        await LICENCE_ISSUED.emit(
            session, LicenceIssued(number=number, case_id=str(case_.id), item=item.code)
        )
        return licence
    raise Conflict(_("No licence number could be reserved; try again."))


async def issue_on_approval(
    session: AsyncSession, principal: Principal, case_: CaseRecord, step: StepTaken
) -> None:
    """Transition hook ``services.licence.issue``: the licence of an approved application."""
    if step.name == "approve":
        await issue_licence(session, principal, case_)


# --- checking (核验) ----------------------------------------------------------------------


@dataclass(frozen=True)
class LicenceCheck:
    """What a check of a licence found: the conclusion, why, and what the document says.

    ``document`` is only set when the signature holds, so a forged row never shows as
    content; ``licence`` is the row on record (None when the number is unknown)."""

    status: str
    reason: str
    signature_valid: bool
    licence: Licence | None
    document: dict[str, Any] | None
    signature: signing.DetachedSignature | None


def row_status(licence: Licence) -> str:
    """Revoked, expired or valid as the row says, without checking the signature (for
    lists; a check by number or file also verifies)."""
    if licence.revoked_at is not None:
        return REVOKED
    if licence.valid_until is not None and licence.valid_until < clock.to_city(clock.now()).date():
        return EXPIRED
    return VALID


def _status(licence: Licence) -> tuple[str, str]:
    status = row_status(licence)
    return status, status


def document_of(licence: Licence) -> dict[str, Any]:
    """The licence's document as a dict (empty if the stored text is not JSON)."""
    return _parse_document(licence.document.encode()) or {}


def _parse_signature(text: str | bytes) -> signing.DetachedSignature:
    try:
        return signing.DetachedSignature.from_json(text)
    except signing.MalformedSignature as exc:
        raise InvalidInput(
            _("The signature file is not a valid signature: %(problem)s") % {"problem": exc},
            field="signature",
        ) from exc


def _parse_document(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def check_number(number: str) -> str:
    """A licence number as typed, cleaned, or 422."""
    number = (number or "").strip().upper()
    if not _NUMBER.fullmatch(number):
        raise InvalidInput(
            _("A licence number is 2 to 40 capital letters, digits and hyphens."),
            field="number",
        )
    return number


async def check_licence(session: AsyncSession, number: str) -> LicenceCheck:
    """The public check by number (亮证核验): the stored signature against the stored
    document, then revocation and expiry. Anyone may; 404 for an unknown number, and for a
    number without its right check part (so guessing a neighbour's number finds nothing)."""
    number = check_number(number)
    base = _base_of(number)
    licence = None
    if base is not None:
        # A number with its check part, or one issued before check parts with it appended.
        rows = (
            await session.execute(select(Licence).where(Licence.number.in_((number, base))))
        ).scalars()
        by_number = {row.number: row for row in rows}
        licence = by_number.get(number) or by_number.get(base)
    if licence is None:
        raise NotFound(_("There is no licence with this number."))
    try:
        signature = signing.DetachedSignature.from_json(licence.signature)
    except signing.MalformedSignature:
        return LicenceCheck(INVALID, "signature_mismatch", False, licence, None, None)
    document = licence.document.encode()
    result, _key = await signatures.verify_document(
        session, document=document, signature_json=licence.signature
    )
    if not result.valid:
        code = REASON_CODES.get(result.reason, "signature_mismatch")
        return LicenceCheck(INVALID, code, False, licence, None, signature)
    parsed = _parse_document(document)
    if parsed is None or parsed.get("number") != licence.number:
        return LicenceCheck(INVALID, NOT_ISSUED, True, licence, None, signature)
    status, reason = _status(licence)
    return LicenceCheck(status, reason, True, licence, parsed, signature)


def _limit(data: bytes, field: str, limit: int) -> bytes:
    if not data.strip():
        raise InvalidInput(_("The file is empty."), field=field)
    if len(data) > limit:
        raise PayloadTooLarge(
            _("The file is larger than %(kib)s KiB; a licence file is much smaller.")
            % {"kib": limit // 1024},
            field=field,
        )
    return data


async def check_licence_file(
    session: AsyncSession, document: bytes, signature: bytes
) -> LicenceCheck:
    """Check a licence file and its detached signature (验证证照文件): the signature must be
    the platform's and hold for these bytes, and the document must be, byte for byte, a
    licence on record. A document signed by the platform's key but not issued as a licence
    (anything staff had signed) is refused too."""
    document = _limit(document, "document", DOCUMENT_MAX_BYTES)
    signature = _limit(signature, "signature", SIGNATURE_MAX_BYTES)
    parsed_signature = _parse_signature(signature)
    result, _key = await signatures.verify_document(
        session, document=document, signature_json=signature
    )
    if not result.valid:
        code = REASON_CODES.get(result.reason, "signature_mismatch")
        return LicenceCheck(INVALID, code, False, None, None, parsed_signature)
    return await check_issued_document(session, document, parsed_signature)


async def check_issued_document(
    session: AsyncSession, document: bytes, signature: signing.DetachedSignature | None = None
) -> LicenceCheck:
    """After a platform signature over ``document`` held (SM2 detached, or a PDF's): is it,
    byte for byte, a licence on record, and is that licence in force?"""
    parsed = _parse_document(document)
    number = parsed.get("number") if parsed else None
    licence = None
    if isinstance(number, str) and _NUMBER.fullmatch(number):
        licence = (
            await session.execute(select(Licence).where(Licence.number == number))
        ).scalar_one_or_none()
    if parsed is None or licence is None or licence.document.encode() != document:
        return LicenceCheck(INVALID, NOT_ISSUED, True, licence, None, signature)
    status, reason = _status(licence)
    return LicenceCheck(status, reason, True, licence, parsed, signature)


# --- revoking (撤销) ---------------------------------------------------------------------


async def revoke_licence(
    session: AsyncSession, principal: Principal, number: str, reason: str
) -> Licence:
    """Revoke a licence (撤销证照) with a reason: staff of the issuing department or an
    administrator. Audited, announced on the bus, and the holder is told."""
    authorize(principal, "services.licence.revoke")
    number = check_number(number)
    licence = (
        await session.execute(select(Licence).where(Licence.number == number))
    ).scalar_one_or_none()
    if licence is None:
        raise NotFound(_("There is no licence with this number."))
    case_ = await cases.case_by_id(session, licence.case_id)
    assert case_ is not None  # RESTRICT foreign key
    authorize(principal, "services.licence.revoke", _Issuer(case_.department_id))
    reason = clean_text(reason or "", "reason").strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(
            _("A reason of 1 to %(max)s characters is needed.") % {"max": REASON_MAX},
            field="reason",
        )
    if licence.revoked_at is not None:
        raise Conflict(_("This licence was already revoked."), revoked_at=str(licence.revoked_at))
    licence.revoked_at = clock.now()
    licence.revoked_reason = reason
    licence.revoked_by = principal.name[:100]
    await session.flush()
    await audit.log(session, principal, LICENCE_REVOKED.name, target=number, reason=reason)
    await LICENCE_REVOKED.emit(
        session, LicenceRevoked(number=number, case_id=str(licence.case_id), reason=reason)
    )
    if licence.holder_account_id is not None:
        title = str(document_of(licence).get("title") or "证照")
        await notifications.notify(
            session,
            licence.holder_account_id,
            topic=LICENCE_REVOKED.name,
            title=notifications.Text(N_("Your %(licence)s has been revoked"), {"licence": title}),
            body=notifications.Text(
                N_(
                    "Licence %(number)s was revoked on %(day)s. Reason: %(reason)s. If you "
                    "disagree, you may apply for administrative reconsideration or bring an "
                    "administrative lawsuit."
                ),
                {
                    "number": number,
                    "day": clock.to_city(licence.revoked_at).date(),
                    "reason": reason,
                },
            ),
            link=f"/my/licences/{number}",
        )
    return licence


def fingerprint_groups(fingerprint: str) -> str:
    """A key fingerprint as people compare it: groups of four, upper case."""
    value = fingerprint.upper()
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
