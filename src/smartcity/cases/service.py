"""The case engine's services (办件服务): open, transition, assign, transfer, queue, timeline.

Clock rule (计时规则): every clock counts working days (工作日) after the day it starts (the day
itself is not counted) and ends at 24:00 of its last working day. A case in a state that waits
for the applicant (补正) is paused; on leaving that state the working days of the pause, counted
as the working days after the pause's day up to and including the resume's day, are added to
the statutory and promised limits (so a pause and resume on one day moves nothing, and a pause
over a holiday counts only the working days, 调休 included). The step clock (环节时限) restarts
whenever the case enters a new state.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import flags
from smartcity.cases.hooks import StepTaken, hooks_for
from smartcity.cases.models import Case, CaseEvent, CaseRating
from smartcity.cases.types import CaseType, Transition, get_case_type
from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize, register_actions, register_rule
from smartcity.core.bus import emit
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account, Department
from smartcity.core.workdays import WorkCalendar, load_calendar

ACTIONS: dict[str, frozenset[str]] = {
    "cases.case.open": frozenset({"citizen", "enterprise", "staff", "system", "admin"}),
    # Who may take a transition is the case type's rule; this only admits the caller.
    "cases.case.transition": frozenset(
        {"citizen", "enterprise", "staff", "supervisor", "system", "admin", "auditor"}
    ),
    "cases.case.assign": frozenset({"staff", "admin"}),
    "cases.case.transfer": frozenset({"staff", "admin"}),
    "cases.case.comment": frozenset({"staff", "supervisor", "admin", "system"}),
    # Correcting a case's state (纠错), including reopening a closed one, is rare, always
    # flagged for supervisors, and never a citizen's.
    "cases.case.correct": frozenset({"staff", "admin"}),
}
register_actions(ACTIONS)


def _own_department(principal: Principal, obj: Any) -> bool:
    # Staff assign and transfer only their own department's cases; admins anywhere.
    if principal.is_("admin"):
        return True
    return principal.department_id is not None and obj.department_id == principal.department_id


register_rule("cases.case.assign", _own_department)
register_rule("cases.case.transfer", _own_department)
register_rule("cases.case.correct", _own_department)

TITLE_MAX = 200
REASON_MAX = 500
COMMENT_MAX = 2000
RATING_COMMENT_MAX = 500
CATEGORY_MAX = 64
# Tries to reserve a case number when concurrent openings take the same one.
NUMBER_ATTEMPTS = 5
_ALL_KINDS = frozenset({"supervisor", "admin", "auditor"})


# --- reading ----------------------------------------------------------------------------


def readable_cases(principal: Principal) -> Select[Case]:
    """Cases the principal may see: staff and machine accounts their department's, supervisors,
    admins and auditors all, citizens and enterprises those they applied for."""
    query = select(Case)
    if principal.is_(*_ALL_KINDS):
        return query
    if principal.kind in ("staff", "system") and principal.department_id is not None:
        return query.where(Case.department_id == principal.department_id)
    if principal.kind in ("citizen", "enterprise") and principal.id is not None:
        return query.where(Case.applicant_account_id == principal.id)
    return query.where(false())


async def get_case(session: AsyncSession, principal: Principal, case_id: uuid.UUID) -> Case:
    """One readable case (办件), else 404."""
    found = (
        await session.execute(readable_cases(principal).where(Case.id == case_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such case."))
    return found


async def timeline(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> list[CaseEvent]:
    """The case's timeline (办理过程), oldest first, in one query."""
    readable = readable_cases(principal).where(Case.id == case_id).with_only_columns(Case.id)
    rows = (
        await session.execute(
            select(CaseEvent).where(CaseEvent.case_id.in_(readable)).order_by(CaseEvent.seq)
        )
    ).scalars()
    events = list(rows)
    if not events:
        await get_case(session, principal, case_id)  # 404 for an unreadable case
    return events


def _is_red() -> Any:
    return or_(
        Case.statutory_warning == "red", Case.promised_warning == "red", Case.step_warning == "red"
    )


async def work_queue(
    session: AsyncSession,
    principal: Principal,
    *,
    department: str | None = None,
    state: str | None = None,
    warning: str | None = None,
    assignee: uuid.UUID | None = None,
    limit: int = 100,
) -> list[Case]:
    """Open cases by urgency (按紧急程度): red first, then the nearest due."""
    query = readable_cases(principal).where(Case.closed_at.is_(None))
    if department:
        dep = await _department(session, department)
        query = query.where(Case.department_id == dep.id)
    if state:
        query = query.where(Case.state == state)
    if assignee:
        query = query.where(Case.assignee_account_id == assignee)
    if warning == "red":
        query = query.where(_is_red())
    elif warning == "yellow":
        query = query.where(
            or_(
                Case.statutory_warning == "yellow",
                Case.promised_warning == "yellow",
                Case.step_warning == "yellow",
            )
        )
    elif warning is not None:
        raise InvalidInput(
            _("A warning filter is red or yellow, not %(value)s.") % {"value": warning},
            field="warning",
        )
    query = query.order_by(case((_is_red(), 0), else_=1), Case.next_due_at, Case.number)
    return list((await session.execute(query.limit(limit))).scalars())


# --- clocks -----------------------------------------------------------------------------


def _limit_clock(
    calendar: WorkCalendar, start: datetime, days: int, share: float
) -> tuple[datetime, datetime, bool]:
    """The end of a limit, its yellow instant and whether either is provisional.

    Yellow comes at the end of the ⌈share × days⌉-th working day, and at the latest when the
    last working day begins, so a short limit still warns before it runs out."""
    due = calendar.add_workdays(start, days)
    warn_days = min(math.ceil(share * days), days - 1)
    if warn_days <= 0:
        # A one-day limit warns from the start: no working day lies between.
        return due.at, start, due.provisional
    warn = calendar.add_workdays(start, warn_days)
    return due.at, warn.at, due.provisional or warn.provisional


def compute_clocks(case_: Case, ct: CaseType, calendar: WorkCalendar) -> None:
    """Set every due and yellow instant of the case from its start, pauses and state.

    The statutory and promised limits are the case's own (set when it was opened); the step
    limits and the warning share are the type's."""
    limits = ct.limits
    share = limits.warning_share
    paused = case_.paused_workdays
    due, warn, provisional = _limit_clock(
        calendar, case_.opened_at, case_.statutory_days + paused, share
    )
    case_.statutory_due_at, case_.statutory_warn_at = due, warn
    dues = [due]
    if case_.promised_days is not None:
        p_due, p_warn, p_prov = _limit_clock(
            calendar, case_.opened_at, case_.promised_days + paused, share
        )
        case_.promised_due_at, case_.promised_warn_at = p_due, p_warn
        provisional = provisional or p_prov
        dues.append(p_due)
    else:
        case_.promised_due_at = case_.promised_warn_at = None
    step_days = limits.step_limit(case_.state)
    kind = ct.state(case_.state).kind
    if step_days is not None and kind == "active":
        s_due, s_warn, s_prov = _limit_clock(calendar, case_.step_started_at, step_days, share)
        case_.step_due_at, case_.step_warn_at = s_due, s_warn
        provisional = provisional or s_prov
        dues.append(s_due)
    else:
        case_.step_due_at = case_.step_warn_at = None
    case_.next_due_at = min(dues)
    case_.provisional = provisional


# --- changing ---------------------------------------------------------------------------


async def _department(session: AsyncSession, code: str) -> Department:
    dep = (
        await session.execute(select(Department).where(Department.code == code))
    ).scalar_one_or_none()
    if dep is None or not dep.active:
        raise InvalidInput(
            _("There is no department with the code %(code)s.") % {"code": code},
            field="department",
        )
    return dep


async def _record(
    session: AsyncSession,
    principal: Principal,
    case_: Case,
    kind: str,
    *,
    name: str = "",
    from_state: str = "",
    to_state: str = "",
    topic: str,
    data: Mapping[str, Any] | None = None,
) -> CaseEvent:
    """The timeline line, the audit entry and the bus event of one change."""
    detail = dict(data or {})
    event = CaseEvent(
        case_id=case_.id,
        at=clock.now(),
        actor=principal.name[:100],
        kind=kind,
        name=name,
        from_state=from_state,
        to_state=to_state,
        data=detail,
    )
    session.add(event)
    await audit.log(
        session,
        principal,
        topic,
        target=case_.number,
        case_type=case_.case_type,
        name=name,
        from_state=from_state,
        to_state=to_state,
        **detail,
    )
    await emit(
        session,
        topic,
        {
            "case_id": str(case_.id),
            "number": case_.number,
            "case_type": case_.case_type,
            "kind": kind,
            "name": name,
            "from_state": from_state,
            "to_state": to_state,
            "department_id": str(case_.department_id),
            **detail,
        },
    )
    return event


async def _next_number(session: AsyncSession, ct: CaseType, at: datetime) -> str:
    """The day's next case number (受理编号), e.g. ``SP-20261124-000042``. The highest
    number of the day plus one, read from the unique index; the unique constraint refuses a
    concurrent duplicate and open_case takes the next one."""
    stem = f"{ct.prefix}-{clock.to_city(at):%Y%m%d}-"
    highest = (
        await session.execute(select(func.max(Case.number)).where(Case.number.like(f"{stem}%")))
    ).scalar_one()
    last = int(highest[len(stem) :]) if highest and highest[len(stem) :].isdigit() else 0
    return f"{stem}{last + 1:06d}"


def _known_type(name: str) -> CaseType:
    try:
        return get_case_type(name)
    except LookupError:
        raise InvalidInput(
            _("There is no case type %(name)s.") % {"name": name}, field="case_type"
        ) from None


async def open_case(
    session: AsyncSession,
    principal: Principal,
    *,
    case_type: str,
    title: str,
    department_code: str,
    data: Mapping[str, Any] | None = None,
    applicant: uuid.UUID | None = None,
    category: str = "",
    statutory_days: int | None = None,
    promised_days: int | None = None,
) -> Case:
    """Open a case (立案/申报) in the type's initial state, with its clocks started.

    ``statutory_days`` and ``promised_days`` set this case's limits (e.g. the service item's);
    left out, the type's apply. ``category`` groups the case on the boards (事项编码)."""
    authorize(principal, "cases.case.open")
    ct = _known_type(case_type)
    title = title.strip()
    if not title or len(title) > TITLE_MAX:
        raise InvalidInput(
            _("A title of 1 to %(max)s characters is needed.") % {"max": TITLE_MAX}, field="title"
        )
    if len(category) > CATEGORY_MAX:
        raise InvalidInput(
            _("A category of at most %(max)s characters is needed.") % {"max": CATEGORY_MAX},
            field="category",
        )
    statutory, promised = _case_limits(ct, statutory_days, promised_days)
    if principal.kind in ("citizen", "enterprise"):
        # People apply for themselves only.
        if applicant not in (None, principal.id):
            raise Forbidden(_("You can apply only for yourself."))
        applicant = principal.id
    elif applicant is not None and await session.get(Account, applicant) is None:
        raise InvalidInput(_("There is no such applicant account."), field="applicant")
    dep = await _department(session, department_code)
    now = clock.now()
    calendar = await load_calendar(session)
    fields: dict[str, Any] = {
        "case_type": ct.name,
        "state": ct.initial,
        "title": title,
        "applicant_account_id": applicant,
        "department_id": dep.id,
        "data": dict(data or {}),
        "category": category,
        "statutory_days": statutory,
        "promised_days": promised,
        "opened_at": now,
        "step_started_at": now,
        "paused_workdays": 0,
        "statutory_warning": "none",
        "promised_warning": "none",
        "step_warning": "none",
    }
    for _attempt in range(NUMBER_ATTEMPTS):
        number = await _next_number(session, ct, now)
        case_ = Case(id=uuid.uuid4(), number=number, **fields)
        compute_clocks(case_, ct, calendar)
        try:
            async with session.begin_nested():
                session.add(case_)
                await session.flush()
        except IntegrityError:
            continue  # another request took this number meanwhile: take the next
        break
    else:
        raise Conflict(_("No case number could be reserved; try again."))
    await _record(
        session,
        principal,
        case_,
        "transition",
        name="open",
        to_state=ct.initial,
        topic="cases.case.opened",
        data={"department": dep.code},
    )
    await session.flush()
    return case_


def _case_limits(
    ct: CaseType, statutory_days: int | None, promised_days: int | None
) -> tuple[int, int | None]:
    """The case's limits: the given ones, else the type's; promised never beyond statutory."""
    if statutory_days is None:
        statutory_days = ct.limits.statutory_days
        if promised_days is None:
            promised_days = ct.limits.promised_days
    assert statutory_days is not None  # the type's is validated at registration
    if statutory_days <= 0:
        raise InvalidInput(
            _("A statutory limit of one or more working days is needed."), field="statutory_days"
        )
    if promised_days is not None and not 0 < promised_days <= statutory_days:
        raise InvalidInput(
            _("A promised limit lies between one working day and the statutory limit."),
            field="promised_days",
        )
    return statutory_days, promised_days


def may_take(principal: Principal, case_: Case, transition: Transition) -> bool:
    """Whether the principal is one of those the transition names for this case."""
    for who in transition.who:
        if who == "department":
            if principal.kind == "staff" and principal.department_id == case_.department_id:
                return True
        elif who == "assignee":
            if principal.id is not None and principal.id == case_.assignee_account_id:
                return True
        elif who == "applicant":
            if principal.id is not None and principal.id == case_.applicant_account_id:
                return True
        elif principal.is_(who):
            return True
    return False


def _missing(transition: Transition, fields: Mapping[str, Any]) -> str | None:
    for name in transition.required_fields:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return name
    return None


async def transition(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    name: str,
    *,
    fields: Mapping[str, Any] | None = None,
) -> Case:
    """Take a declared transition (流转): from-state, who and required fields are checked."""
    authorize(principal, "cases.case.transition")
    case_ = await get_case(session, principal, case_id)
    ct = get_case_type(case_.case_type)
    step = ct.transition(name)
    if step is None:
        raise NotFound(_("This case type has no step %(name)s.") % {"name": name})
    if case_.state not in step.from_states:
        raise Conflict(
            _("The step %(name)s cannot be taken from the state %(state)s.")
            % {"name": name, "state": case_.state},
            state=case_.state,
        )
    if not may_take(principal, case_, step):
        raise Forbidden(_("You may not take the step %(name)s on this case.") % {"name": name})
    fields = dict(fields or {})
    missing = _missing(step, fields)
    if missing is not None:
        raise InvalidInput(
            _("The step %(name)s needs the field %(field)s.") % {"name": name, "field": missing},
            field=missing,
        )
    now = clock.now()
    calendar = await load_calendar(session)
    before = case_.state
    was_waiting = ct.state(before).kind == "waiting_applicant"
    target = ct.state(step.to_state)
    if was_waiting and case_.paused_at is not None:
        paused_days = calendar.workdays_between(case_.paused_at, now)
        case_.paused_workdays += paused_days
        paused_since = case_.paused_at
        case_.paused_at = None
        await _record(
            session,
            principal,
            case_,
            "clock",
            name="resumed",
            topic="cases.case.clock_resumed",
            data={"paused_since": paused_since.isoformat(), "paused_workdays": paused_days},
        )
    _enter(case_, ct, calendar, target.name, now)
    await session.flush()
    await _record(
        session,
        principal,
        case_,
        "transition",
        name=name,
        from_state=before,
        to_state=target.name,
        topic="cases.case.transitioned",
        data={"fields": fields},
    )
    if target.kind == "waiting_applicant":
        case_.paused_at = now
        await _record(
            session, principal, case_, "clock", name="paused", topic="cases.case.clock_paused"
        )
    if step.refusal and flags.is_empty_reason(fields.get("reason")):
        await flags.raise_flag(
            session,
            principal,
            case_,
            "refusal_without_reason",
            {"step": name, "reason": str(fields.get("reason") or "")},
        )
    taken = StepTaken(name=name, from_state=before, to_state=target.name, fields=fields)
    for hook in hooks_for(case_.case_type):
        await hook(session, principal, case_, taken)
    await session.flush()
    return case_


def _enter(case_: Case, ct: CaseType, calendar: WorkCalendar, state: str, now: datetime) -> None:
    """Move the case into a state: restart the step clock, close or reopen, recompute."""
    case_.state = state
    case_.step_started_at = now
    case_.step_warning = "none"
    if ct.state(state).kind == "final":
        case_.closed_at = now
        # 办理用时: working days after the opening day up to the closing day, less pauses.
        case_.handled_workdays = max(
            0, calendar.workdays_between(case_.opened_at, now) - case_.paused_workdays
        )
        promise = case_.promised_due_at or case_.statutory_due_at
        case_.on_time = now <= promise
    else:
        case_.closed_at = None
        case_.handled_workdays = None
        case_.on_time = None
    compute_clocks(case_, ct, calendar)


async def assign(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, officer_username: str
) -> Case:
    """Assign the case to an officer (分派) of its current department."""
    case_ = await get_case(session, principal, case_id)
    authorize(principal, "cases.case.assign", case_)
    _closed_check(case_)
    officer = (
        await session.execute(select(Account).where(Account.username == officer_username))
    ).scalar_one_or_none()
    if (
        officer is None
        or not officer.active
        or officer.kind != "staff"
        or officer.department_id != case_.department_id
    ):
        raise InvalidInput(
            _("%(name)s is not an officer of the case's department.") % {"name": officer_username},
            field="officer",
        )
    previous = case_.assignee_account_id
    case_.assignee_account_id = officer.id
    await session.flush()
    await _record(
        session,
        principal,
        case_,
        "assignment",
        name="reassigned" if previous else "assigned",
        topic="cases.case.assigned",
        data={"officer": officer.username},
    )
    await session.flush()
    return case_


def _closed_check(case_: Case) -> None:
    if case_.closed_at is not None:
        raise Conflict(_("The case is closed."), state=case_.state)


async def transfer(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    department_code: str,
    reason: str,
) -> Case:
    """Transfer the case to another department (转办) with a reason; the assignee is cleared."""
    case_ = await get_case(session, principal, case_id)
    authorize(principal, "cases.case.transfer", case_)
    _closed_check(case_)
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(
            _("A reason of 1 to %(max)s characters is needed.") % {"max": REASON_MAX},
            field="reason",
        )
    dep = await _department(session, department_code)
    if dep.id == case_.department_id:
        raise InvalidInput(_("The case is already with this department."), field="department")
    old = await session.get(Department, case_.department_id)
    case_.department_id = dep.id
    case_.assignee_account_id = None
    await session.flush()
    await _record(
        session,
        principal,
        case_,
        "transfer",
        name="transferred",
        topic="cases.case.transferred",
        data={"from": old.code if old else "", "to": dep.code, "reason": reason},
    )
    await session.flush()
    return case_


def open_case_filter() -> Sequence[Any]:
    """Open cases whose clocks run (not closed, not paused)."""
    return [Case.closed_at.is_(None), Case.paused_at.is_(None)]


async def comment(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, text: str
) -> CaseEvent:
    """A note on the case's timeline (办理意见) by staff who can read it, or a supervisor."""
    authorize(principal, "cases.case.comment")
    case_ = await get_case(session, principal, case_id)
    text = (text or "").strip()
    if not text or len(text) > COMMENT_MAX:
        raise InvalidInput(
            _("A comment of 1 to %(max)s characters is needed.") % {"max": COMMENT_MAX},
            field="text",
        )
    event = await _record(
        session, principal, case_, "comment", topic="cases.case.commented", data={"text": text}
    )
    await session.flush()
    return event


async def record_attachment(
    session: AsyncSession,
    principal: Principal,
    case_: Case,
    *,
    name: str,
    filename: str,
    sha256: str,
    size: int,
) -> CaseEvent:
    """Put a file added to the case (e.g. a supplemented material) on its timeline.

    The owning module stores the file and has checked who may add it."""
    event = await _record(
        session,
        principal,
        case_,
        "attachment",
        name=name[:64],
        topic="cases.case.attachment_added",
        data={"filename": filename, "sha256": sha256, "size": size},
    )
    await session.flush()
    return event


async def correct(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    to_state: str,
    reason: str,
) -> Case:
    """Move a case to a state outside the declared steps (纠错), with a reason.

    For what the steps cannot express: reopening a closed case after a review (行政复议) or
    putting back a case moved by mistake. Always flagged for supervisors: ``reopened`` when
    the case was closed, ``out_of_order`` when no declared step leads there."""
    case_ = await get_case(session, principal, case_id)
    authorize(principal, "cases.case.correct", case_)
    ct = get_case_type(case_.case_type)
    try:
        target = ct.state(to_state)
    except KeyError:
        raise InvalidInput(
            _("This case type has no state %(state)s.") % {"state": to_state}, field="to_state"
        ) from None
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(
            _("A reason of 1 to %(max)s characters is needed.") % {"max": REASON_MAX},
            field="reason",
        )
    if target.name == case_.state:
        raise InvalidInput(_("The case is already in this state."), field="to_state")
    before = case_.state
    was_closed = case_.closed_at is not None
    declared = any(target.name == t.to_state for t in ct.outgoing(before))
    now = clock.now()
    calendar = await load_calendar(session)
    if case_.paused_at is not None and target.kind != "waiting_applicant":
        case_.paused_workdays += calendar.workdays_between(case_.paused_at, now)
        case_.paused_at = None
    _enter(case_, ct, calendar, target.name, now)
    if target.kind == "waiting_applicant" and case_.paused_at is None:
        case_.paused_at = now
    await session.flush()
    await _record(
        session,
        principal,
        case_,
        "correction",
        name="correct",
        from_state=before,
        to_state=target.name,
        topic="cases.case.corrected",
        data={"reason": reason},
    )
    detail = {"from_state": before, "to_state": target.name, "reason": reason}
    if was_closed:
        await flags.raise_flag(session, principal, case_, "reopened", detail)
    elif not declared:
        await flags.raise_flag(session, principal, case_, "out_of_order", detail)
    await session.flush()
    return case_


async def rate(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, score: int, comment: str = ""
) -> CaseRating:
    """The applicant's evaluation (好差评) of their closed case, once: 1 to 5."""
    case_ = await get_case(session, principal, case_id)
    if principal.id is None or principal.id != case_.applicant_account_id:
        raise Forbidden(_("Only the applicant rates a case."))
    if case_.closed_at is None:
        raise Conflict(_("A case is rated once it is finished."), state=case_.state)
    if await session.get(CaseRating, case_.id) is not None:
        raise Conflict(_("You have rated this case already."))
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidInput(_("A rating is a whole number from 1 to 5."), field="score")
    comment = (comment or "").strip()
    if len(comment) > RATING_COMMENT_MAX:
        raise InvalidInput(
            _("A comment of at most %(max)s characters is needed.") % {"max": RATING_COMMENT_MAX},
            field="comment",
        )
    rating = CaseRating(case_id=case_.id, score=score, comment=comment, rated_at=clock.now())
    session.add(rating)
    await _record(
        session,
        principal,
        case_,
        "rating",
        name=str(score),
        topic="cases.case.rated",
        data={"score": score, "comment": comment},
    )
    await session.flush()
    return rating


# --- desk helpers -------------------------------------------------------------------------
# Reading helpers of the staff pages (cases.pages, 办件工作台): the queue's tabs with their
# counts, the clocks' remaining working days, and the names the pages show.

QUEUE_TABS = ("mine", "department", "unassigned")


def _tab_filter(principal: Principal, tab: str) -> Any:
    if tab == "mine":
        if principal.id is None:
            return false()
        return Case.assignee_account_id == principal.id
    if tab == "unassigned":
        return Case.assignee_account_id.is_(None)
    return true()


def _is_yellow() -> Any:
    return or_(
        Case.statutory_warning == "yellow",
        Case.promised_warning == "yellow",
        Case.step_warning == "yellow",
    )


def _desk_base(
    principal: Principal, department_id: uuid.UUID | None, case_type: str | None
) -> Select[Case]:
    query = readable_cases(principal).where(Case.closed_at.is_(None))
    if department_id is not None:
        query = query.where(Case.department_id == department_id)
    if case_type:
        query = query.where(Case.case_type == case_type)
    return query


async def desk_queue(
    session: AsyncSession,
    principal: Principal,
    *,
    tab: str = "mine",
    department_id: uuid.UUID | None = None,
    case_type: str | None = None,
    state: str | None = None,
    warning: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Case], bool]:
    """One page of a queue tab (我的待办, 本部门, 未分派) in the order of ``work_queue``, and
    whether more follow."""
    if tab not in QUEUE_TABS:
        raise InvalidInput(_("There is no queue %(tab)s.") % {"tab": tab}, field="tab")
    query = _desk_base(principal, department_id, case_type).where(_tab_filter(principal, tab))
    if state:
        query = query.where(Case.state == state)
    if warning == "red":
        query = query.where(_is_red())
    elif warning == "yellow":
        query = query.where(_is_yellow())
    elif warning:
        raise InvalidInput(
            _("A warning filter is red or yellow, not %(value)s.") % {"value": warning},
            field="warning",
        )
    query = query.order_by(case((_is_red(), 0), else_=1), Case.next_due_at, Case.number)
    rows = list((await session.execute(query.limit(limit + 1).offset(offset))).scalars())
    return rows[:limit], len(rows) > limit


async def desk_counts(
    session: AsyncSession,
    principal: Principal,
    *,
    department_id: uuid.UUID | None = None,
    case_type: str | None = None,
) -> dict[str, dict[str, int]]:
    """Open cases of each tab, with its red and yellow ones, in one query:
    ``{"mine": {"all": 3, "red": 1, "yellow": 0}, ...}``."""

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    columns = []
    for tab in QUEUE_TABS:
        in_tab = _tab_filter(principal, tab)
        columns += [
            count(in_tab),
            count(and_(in_tab, _is_red())),
            count(and_(in_tab, _is_yellow())),
        ]
    query = _desk_base(principal, department_id, case_type).with_only_columns(
        *columns, maintain_column_froms=True
    )
    row = list((await session.execute(query)).one())
    return {
        tab: {"all": int(row[3 * i]), "red": int(row[3 * i + 1]), "yellow": int(row[3 * i + 2])}
        for i, tab in enumerate(QUEUE_TABS)
    }


def remaining_workdays(calendar: WorkCalendar, due_at: datetime, now: datetime) -> int:
    """Working days left of a limit ending at ``due_at`` (剩余工作日): 0 on its last day,
    negative once it has run out (-1 at least, even on the weekend right after)."""
    last_moment = due_at - timedelta(microseconds=1)
    if now < due_at:
        return calendar.workdays_between(now, last_moment)
    return -max(1, calendar.workdays_between(last_moment, now))


async def department_officers(session: AsyncSession, department_id: uuid.UUID) -> list[Account]:
    """The active officers (在岗工作人员) of a department, by name: whom a case may go to."""
    rows = await session.execute(
        select(Account)
        .where(
            Account.department_id == department_id,
            Account.kind == "staff",
            Account.active.is_(True),
        )
        .order_by(Account.display_name, Account.username)
    )
    return list(rows.scalars())


async def active_departments(session: AsyncSession) -> list[Department]:
    """Departments a case may be transferred to (转办), by code."""
    rows = await session.execute(
        select(Department).where(Department.active.is_(True)).order_by(Department.code)
    )
    return list(rows.scalars())


async def display_names(
    session: AsyncSession,
    *,
    ids: Iterable[uuid.UUID | None] = (),
    usernames: Iterable[str] = (),
) -> tuple[dict[uuid.UUID, str], dict[str, str]]:
    """Accounts' display names by id and by username, in one query; never ID numbers."""
    id_set = {i for i in ids if i is not None}
    name_set = {n for n in usernames if n}
    if not id_set and not name_set:
        return {}, {}
    rows = await session.execute(
        select(Account.id, Account.username, Account.display_name).where(
            or_(Account.id.in_(id_set), Account.username.in_(name_set))
        )
    )
    by_id: dict[uuid.UUID, str] = {}
    by_username: dict[str, str] = {}
    for account_id, username, display_name in rows:
        by_id[account_id] = display_name or username
        by_username[username] = display_name or username
    return by_id, by_username
