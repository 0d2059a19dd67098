"""Moving a case between states: a declared step (流转) with its who, from-state and required
fields checked, the pause and resume for the applicant (补正), the hooks; and a correction
outside the steps (纠错), always flagged for supervisors."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import events, flags
from smartcity.cases.hooks import StepTaken, hooks_for
from smartcity.cases.models import Case
from smartcity.cases.service.access import get_case, may_take
from smartcity.cases.service.assignment import REASON_MAX
from smartcity.cases.service.events import record
from smartcity.cases.service.limits import compute_clocks
from smartcity.cases.types import CaseType, Transition, get_case_type
from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.text import clean_text
from smartcity.core.workdays import WorkCalendar, load_calendar

# An approval opinion (审批意见): required on a decisive step, shown on the timeline.
OPINION_MAX = 1000
# What a step's fields may hold: a few short texts, not documents.
FIELDS_MAX = 20
FIELD_TEXT_MAX = 2000


def _missing(transition: Transition, fields: Mapping[str, Any]) -> str | None:
    for name in transition.required_fields:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return name
    return None


def _bounded_fields(step: Transition, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The step's fields, bounded, with the opinion cleaned (required later if decisive)."""
    fields = dict(given or {})
    if len(fields) > FIELDS_MAX:
        raise InvalidInput(
            _("A step takes at most %(max)s fields.") % {"max": FIELDS_MAX}, field="fields"
        )
    for key, value in fields.items():
        if len(str(key)) > 64 or (isinstance(value, str) and len(value) > FIELD_TEXT_MAX):
            raise InvalidInput(
                _("The field %(field)s is longer than %(max)s characters.")
                % {"field": str(key)[:64], "max": FIELD_TEXT_MAX},
                field=str(key)[:64],
            )
    opinion = clean_text(str(fields.get("opinion") or ""), "opinion").strip()
    if len(opinion) > OPINION_MAX:
        raise InvalidInput(
            _("An opinion of at most %(max)s characters is needed.") % {"max": OPINION_MAX},
            field="opinion",
        )
    if opinion:
        fields["opinion"] = opinion
    else:
        fields.pop("opinion", None)
    return fields


async def check_transition(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    name: str,
    *,
    fields: Mapping[str, Any] | None = None,
) -> tuple[Case, Transition, dict[str, Any]]:
    """Everything ``transition`` checks, changing nothing: the case, the step and its
    cleaned fields. The confirmation page (确认) is shown only for a step that would pass."""
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
    checked = _bounded_fields(step, fields)
    missing = _missing(step, checked)
    if missing is not None:
        raise InvalidInput(
            _("The step %(name)s needs the field %(field)s.") % {"name": name, "field": missing},
            field=missing,
        )
    if step.decisive and not checked.get("opinion"):
        raise InvalidInput(
            _("The step %(name)s is a decision: write the approval opinion.")
            % {"name": _(step.title)},
            field="opinion",
        )
    return case_, step, checked


def _takes_over(principal: Principal, case_: Case) -> bool:
    """Whether the officer taking a step becomes the case's officer (承办人): staff of the
    case's department acting on a case nobody is assigned to."""
    return (
        case_.assignee_account_id is None
        and principal.kind == "staff"
        and principal.id is not None
        and principal.department_id == case_.department_id
    )


async def transition(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    name: str,
    *,
    fields: Mapping[str, Any] | None = None,
) -> Case:
    """Take a declared transition (流转): from-state, who and required fields are checked; a
    decisive step needs an opinion; an unassigned case goes to the officer who acts on it."""
    case_, step, fields = await check_transition(session, principal, case_id, name, fields=fields)
    ct = get_case_type(case_.case_type)
    if _takes_over(principal, case_):
        case_.assignee_account_id = principal.id
        await session.flush()
        await record(
            session,
            principal,
            case_,
            "assignment",
            name="assigned",
            topic=events.ASSIGNED,
            data={"officer": principal.name, "automatic": True, "step": name},
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
        await record(
            session,
            principal,
            case_,
            "clock",
            name="resumed",
            topic=events.CLOCK_RESUMED,
            data={"paused_since": paused_since.isoformat(), "paused_workdays": paused_days},
        )
    _enter(case_, ct, calendar, target.name, now)
    await session.flush()
    await record(
        session,
        principal,
        case_,
        "transition",
        name=name,
        from_state=before,
        to_state=target.name,
        topic=events.TRANSITIONED,
        data={"fields": fields},
    )
    if target.kind == "waiting_applicant":
        case_.paused_at = now
        await record(session, principal, case_, "clock", name="paused", topic=events.CLOCK_PAUSED)
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
    case_.step_extended_workdays = 0
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
    reason = clean_text(reason or "", "reason").strip()
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
    await record(
        session,
        principal,
        case_,
        "correction",
        name="correct",
        from_state=before,
        to_state=target.name,
        topic=events.CORRECTED,
        data={"reason": reason},
    )
    detail = {"from_state": before, "to_state": target.name, "reason": reason}
    if was_closed:
        await flags.raise_flag(session, principal, case_, "reopened", detail)
    elif not declared:
        await flags.raise_flag(session, principal, case_, "out_of_order", detail)
    await session.flush()
    return case_
