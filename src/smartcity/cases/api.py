"""REST API of the case engine (办件): the work queue, a case with its timeline, transitions,
assignment, transfer, comments, corrections, supervision flags and the applicant's rating."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import flags, service
from smartcity.cases.deadline import case_deadline
from smartcity.cases.hooks import run_read_hooks
from smartcity.cases.models import Case, CaseFlag, CaseUrge
from smartcity.cases.schemas import (
    AssignInput,
    CaseDetail,
    CaseEventRead,
    CaseRead,
    CommentInput,
    CorrectionInput,
    DeadlineRead,
    FlagRead,
    FlagReviewInput,
    RatingInput,
    RatingRead,
    StepRead,
    TransferInput,
    TransitionInput,
    UrgeInput,
    UrgeRead,
    UrgeReplyInput,
)
from smartcity.cases.service import urging
from smartcity.cases.types import get_case_type
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.i18n import gettext
from smartcity.core.security import AnyPrincipal, require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.core.workdays import load_calendar


async def _read(
    session: AsyncSession, principal: Principal, cases: Sequence[Case]
) -> list[CaseRead]:
    """Cases as the API answers them, each with its deadline as of now (``case_deadline``).
    The answer carries each case's data, so the owning domains' read hooks log it first
    (the service hall's prefilled personal fields, as its pages do)."""
    await run_read_hooks(session, principal, cases)
    calendar = await load_calendar(session)
    now = clock.now()
    return [
        CaseRead.model_validate(c).model_copy(
            update={"deadline": DeadlineRead.model_validate(case_deadline(c, calendar, now))}
        )
        for c in cases
    ]


router = APIRouter(prefix="/api/v1/cases", route_class=UnitOfWorkRoute, tags=["cases"])

Staff = Annotated[Principal, Depends(require_principal("staff", "admin"))]
Commenter = Annotated[
    Principal, Depends(require_principal("staff", "supervisor", "admin", "system"))
]
FlagReader = Annotated[
    Principal, Depends(require_principal("staff", "supervisor", "admin", "auditor"))
]
Reviewer = Annotated[Principal, Depends(require_principal("supervisor", "admin"))]
Urger = Annotated[Principal, Depends(require_principal("supervisor"))]
Replier = Annotated[Principal, Depends(require_principal("staff"))]
# Paths take a UUID convertor so that fixed paths (/flags, and those of the supervision
# routers included after this one) are never read as a case id.
CASE = "/{case_id:uuid}"


def _flag_read(flag: CaseFlag, case_: Case) -> FlagRead:
    return FlagRead(
        id=flag.id,
        case_id=case_.id,
        case_number=case_.number,
        case_title=case_.title,
        case_type=case_.case_type,
        department_id=case_.department_id,
        kind=flag.kind,
        raised_at=flag.raised_at,
        actor=flag.actor,
        detail=flag.detail,
        reviewed_at=flag.reviewed_at,
        reviewed_by=flag.reviewed_by,
        review_note=flag.review_note,
        review_outcome=flag.review_outcome,
    )


def _urge_read(urge: CaseUrge, now: datetime) -> UrgeRead:
    read = UrgeRead.model_validate(urge)
    read.overdue = urging.is_overdue(urge, now)
    return read


@router.get("/", response_model=list[CaseRead])
async def queue(
    principal: AnyPrincipal,
    session: DbSession,
    state: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    warning: Literal["red", "yellow"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseRead]:
    """Open cases the caller may see, by urgency: red first, then the nearest due."""
    cases = await service.work_queue(
        session, principal, state=state, department=department, warning=warning, limit=limit
    )
    return await _read(session, principal, cases)


@router.get("/flags", response_model=list[FlagRead])
async def list_flags(
    principal: FlagReader,
    session: DbSession,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    open_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[FlagRead]:
    """Irregularity flags (电子监察异常) the caller may see, newest first; by default those
    not yet reviewed. Staff see their department's."""
    rows = await flags.list_flags(
        session, principal, kind=kind or None, open_only=open_only, limit=limit
    )
    return [_flag_read(flag, case_) for flag, case_ in rows]


@router.post("/flags/{flag_id}/review", response_model=FlagRead)
async def review_flag(
    flag_id: uuid.UUID, body: FlagReviewInput, principal: Reviewer, session: DbSession
) -> FlagRead:
    """A supervisor's review (核查) of a flag, with a note (409 when already reviewed)."""
    flag = await flags.review_flag(session, principal, flag_id, body.note, body.outcome)
    case_ = await session.get(Case, flag.case_id)
    assert case_ is not None  # the flag was read through its case
    return _flag_read(flag, case_)


@router.get(CASE, response_model=CaseDetail)
async def read_case(case_id: uuid.UUID, principal: AnyPrincipal, session: DbSession) -> CaseDetail:
    """A case and its timeline."""
    case = await service.get_case(session, principal, case_id)
    events = await service.timeline(session, principal, case_id)
    return CaseDetail(
        case=(await _read(session, principal, [case]))[0],
        timeline=[CaseEventRead.model_validate(e) for e in events],
    )


@router.get(CASE + "/steps", response_model=list[StepRead])
async def steps(case_id: uuid.UUID, principal: AnyPrincipal, session: DbSession) -> list[StepRead]:
    """The steps the caller may take on the case now, with the fields each needs."""
    case_ = await service.get_case(session, principal, case_id)
    ct = get_case_type(case_.case_type)
    return [
        StepRead(
            name=t.name,
            title=gettext(t.title),
            to_state=t.to_state,
            to_state_title=gettext(ct.state(t.to_state).title),
            required_fields=list(t.required_fields),
            refusal=t.refusal,
            decisive=t.decisive,
        )
        for t in ct.outgoing(case_.state)
        if service.may_take(principal, case_, t)
    ]


@router.post(CASE + "/transitions/{name}", response_model=CaseRead)
async def take_transition(
    case_id: uuid.UUID,
    name: str,
    body: TransitionInput,
    principal: AnyPrincipal,
    session: DbSession,
) -> CaseRead:
    """Take a step of the case type (409 from the wrong state, 422 without a needed field or,
    on a decisive step, without the approval opinion)."""
    case = await service.transition(session, principal, case_id, name, fields=body.step_fields())
    return (await _read(session, principal, [case]))[0]


@router.post(CASE + "/assign", response_model=CaseRead)
async def assign(
    case_id: uuid.UUID, body: AssignInput, principal: Staff, session: DbSession
) -> CaseRead:
    """Assign the case to an officer of its department."""
    case = await service.assign(session, principal, case_id, body.officer)
    return (await _read(session, principal, [case]))[0]


@router.post(CASE + "/transfer", response_model=CaseRead)
async def transfer(
    case_id: uuid.UUID, body: TransferInput, principal: Staff, session: DbSession
) -> CaseRead:
    """Transfer the case to another department, with a reason."""
    case = await service.transfer(session, principal, case_id, body.department, body.reason)
    return (await _read(session, principal, [case]))[0]


@router.post(CASE + "/comments", response_model=CaseEventRead, status_code=201)
async def add_comment(
    case_id: uuid.UUID, body: CommentInput, principal: Commenter, session: DbSession
) -> CaseEventRead:
    """A note on the case's timeline (办理意见)."""
    event = await service.comment(session, principal, case_id, body.text)
    return CaseEventRead.model_validate(event)


@router.post(CASE + "/correction", response_model=CaseRead)
async def correct(
    case_id: uuid.UUID, body: CorrectionInput, principal: Staff, session: DbSession
) -> CaseRead:
    """Move the case to a state outside the declared steps (纠错); supervisors are flagged."""
    case = await service.correct(session, principal, case_id, body.to_state, body.reason)
    return (await _read(session, principal, [case]))[0]


@router.get(CASE + "/flags", response_model=list[FlagRead])
async def case_flags(
    case_id: uuid.UUID, principal: FlagReader, session: DbSession, open_only: bool = False
) -> list[FlagRead]:
    """The case's irregularity flags, reviewed ones too unless ``open_only``."""
    await service.get_case(session, principal, case_id)  # 404 for an unreadable case
    rows = await flags.list_flags(session, principal, case_id=case_id, open_only=open_only)
    return [_flag_read(flag, case_) for flag, case_ in rows]


@router.post(CASE + "/rating", response_model=RatingRead, status_code=201)
async def rate(
    case_id: uuid.UUID, body: RatingInput, principal: AnyPrincipal, session: DbSession
) -> RatingRead:
    """The applicant's evaluation (好差评) of the finished case, once."""
    rating = await service.rate(session, principal, case_id, body.score, body.comment)
    return RatingRead.model_validate(rating)


@router.post("/urges/{urge_id}/reply", response_model=UrgeRead)
async def reply_urge(
    urge_id: uuid.UUID, body: UrgeReplyInput, principal: Replier, session: DbSession
) -> UrgeRead:
    """The urged department's reply (督办回复), once (409 when replied already; 403 from
    another department that reads the case, 404 from one that does not)."""
    urge = await urging.reply(session, principal, urge_id, body.reply)
    return _urge_read(urge, clock.now())


@router.get(CASE + "/urges", response_model=list[UrgeRead])
async def case_urges(
    case_id: uuid.UUID, principal: FlagReader, session: DbSession
) -> list[UrgeRead]:
    """The case's urgings (督办) and their replies, oldest first."""
    now = clock.now()
    return [_urge_read(u, now) for u in await urging.case_urges(session, principal, case_id)]


@router.post(CASE + "/urges", response_model=UrgeRead, status_code=201)
async def urge(
    case_id: uuid.UUID, body: UrgeInput, principal: Urger, session: DbSession
) -> UrgeRead:
    """A supervisor urges the case's department (督办) with a note and a reply deadline of
    1 to 10 working days; the department's officers get a message."""
    item = await urging.urge(session, principal, case_id, body.note, body.reply_days)
    return _urge_read(item, clock.now())
