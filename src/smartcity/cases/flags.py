"""Irregularity flags of electronic supervision (电子监察异常): raised, listed, reviewed.

The clocks catch lateness; these catch what lateness does not: a complete application refused
acceptance, a refusal without a real reason, a step outside the declared order and a closed
case opened again. A flag stays open until a supervisor reviews it (核查) with a note.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.events import FLAGGED, CaseFlagged
from smartcity.cases.hooks import CaseRecord
from smartcity.cases.models import FLAG_KINDS, REVIEW_OUTCOMES, Case, CaseEvent, CaseFlag
from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.text import clean_text

ACTIONS: dict[str, frozenset[str]] = {
    "cases.flag.review": frozenset({"supervisor", "admin"}),
}

FLAGGED_TOPIC = FLAGGED.name
NOTE_MAX = 500
# Reasons that say nothing (空洞理由): a refusal giving only these is flagged.
EMPTY_REASONS = frozenset(
    {"无", "没有", "不符合", "不符合条件", "不符合要求", "不予通过", "材料不全", "其他", "略"}
    | {"-", "/", "n/a", "na", "none", "no"}
)
MIN_REASON_CHARS = 4


def is_empty_reason(reason: Any) -> bool:
    """Whether a refusal's reason is missing or an empty formula."""
    text = str(reason or "").strip().strip("。.,，;；")
    return len(text) < MIN_REASON_CHARS or text.lower() in EMPTY_REASONS


async def raise_flag(
    session: AsyncSession,
    principal: Principal,
    case_: CaseRecord,
    kind: str,
    detail: Mapping[str, Any] | None = None,
) -> CaseFlag:
    """Record an irregularity on the case: a flag, a timeline line, an audit entry, an event."""
    if kind not in FLAG_KINDS:
        raise ValueError(f"unknown flag kind {kind!r}")
    data = dict(detail or {})
    flag = CaseFlag(
        id=uuid.uuid4(),
        case_id=case_.id,
        kind=kind,
        raised_at=clock.now(),
        actor=principal.name[:100],
        detail=data,
    )
    session.add(flag)
    session.add(
        CaseEvent(
            case_id=case_.id,
            at=flag.raised_at,
            actor=principal.name[:100],
            kind="flag",
            name=kind,
            from_state=case_.state,
            to_state=case_.state,
            data=data,
        )
    )
    await audit.log(session, principal, FLAGGED_TOPIC, target=case_.number, flag=kind, **data)
    await FLAGGED.emit(
        session,
        CaseFlagged.model_validate(
            {
                "case_id": str(case_.id),
                "number": case_.number,
                "case_type": case_.case_type,
                "department_id": str(case_.department_id),
                "flag": kind,
                **data,
            }
        ),
    )
    await session.flush()
    return flag


def readable_flags(principal: Principal) -> Select[CaseFlag, Case]:
    """Flags with their cases: supervisors, admins and auditors see all; staff their
    department's; no one else any."""
    query = select(CaseFlag, Case).join(Case, Case.id == CaseFlag.case_id)
    if principal.is_("supervisor", "admin", "auditor"):
        return query
    if principal.kind == "staff" and principal.department_id is not None:
        return query.where(Case.department_id == principal.department_id)
    return query.where(Case.id.is_(None))


async def list_flags(
    session: AsyncSession,
    principal: Principal,
    *,
    open_only: bool = True,
    kind: str | None = None,
    case_id: uuid.UUID | None = None,
    limit: int = 200,
) -> list[tuple[CaseFlag, Case]]:
    """Flags, newest first; by default those not yet reviewed."""
    query = readable_flags(principal)
    if kind is not None:
        if kind not in FLAG_KINDS:
            raise InvalidInput(_("There is no flag kind %(kind)s.") % {"kind": kind}, field="kind")
        query = query.where(CaseFlag.kind == kind)
    if open_only:
        query = query.where(CaseFlag.reviewed_at.is_(None))
    if case_id is not None:
        query = query.where(CaseFlag.case_id == case_id)
    rows = await session.execute(query.order_by(CaseFlag.raised_at.desc()).limit(limit))
    return [(row[0], row[1]) for row in rows]


async def review_flag(
    session: AsyncSession,
    principal: Principal,
    flag_id: uuid.UUID,
    note: str,
    outcome: str = "confirmed",
) -> CaseFlag:
    """A supervisor's review (核查) of a flag, with what was found: the irregularity
    confirmed (属实) or dismissed (不属实), and a note; it goes on the case's timeline."""
    authorize(principal, "cases.flag.review")
    found = (await session.execute(readable_flags(principal).where(CaseFlag.id == flag_id))).first()
    if found is None:
        raise NotFound(_("There is no such flag."))
    flag: CaseFlag = found[0]
    case_: Case = found[1]
    if flag.reviewed_at is not None:
        raise Conflict(_("This flag was already reviewed."))
    note = clean_text(note or "", "note").strip()
    if not note or len(note) > NOTE_MAX:
        raise InvalidInput(
            _("A note of 1 to %(max)s characters is needed.") % {"max": NOTE_MAX}, field="note"
        )
    if outcome not in REVIEW_OUTCOMES:
        raise InvalidInput(
            _("Say whether the review confirms or dismisses the flag."), field="outcome"
        )
    flag.reviewed_at = clock.now()
    flag.reviewed_by = principal.name[:100]
    flag.review_note = note
    flag.review_outcome = outcome
    session.add(
        CaseEvent(
            case_id=case_.id,
            at=flag.reviewed_at,
            actor=principal.name[:100],
            kind="review",
            name=outcome,
            from_state=case_.state,
            to_state=case_.state,
            data={"flag": flag.kind, "flag_id": str(flag.id), "note": note},
        )
    )
    await audit.log(
        session,
        principal,
        "cases.flag.reviewed",
        target=case_.number,
        flag=flag.kind,
        note=note,
        outcome=outcome,
    )
    await session.flush()
    return flag
