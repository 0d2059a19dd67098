"""How far along an application is (办理进度), as its applicant reads it: the state in the case
type's words, the working days left of the promise (承诺时限) and the timeline in words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import (
    CaseEventRecord,
    CaseRecord,
    CaseType,
    DeadlineState,
    case_deadline,
    get_case_type,
)
from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.i18n import gettext as _
from smartcity.core.workdays import WorkCalendar
from smartcity.registry.contract import department_names


@dataclass(frozen=True)
class ClockView:
    """The case's time as the applicant sees it: working days left of the promise (承诺时限)."""

    due_at: datetime
    due_date: date  # the limit's last working day in the city (it ends at 24:00 of it)
    remaining_workdays: int | None  # negative: overdue by that many; None once closed
    paused: bool
    warning: str  # none, yellow, red: the deadline's warning and overdue states as tags
    state: DeadlineState  # on_time, warning, overdue, paused, closed (cases/deadline.py)
    closed_at: datetime | None
    handled_workdays: int | None
    on_time: bool | None


@dataclass(frozen=True)
class TimelineLine:
    """One line of the applicant's timeline, in words."""

    at: datetime
    title: str
    detail: str = ""
    by_you: bool = False


def clock_view(case_: CaseRecord, calendar: WorkCalendar, now: datetime | None = None) -> ClockView:
    """The case's time as the applicant sees it, ``now`` or the clock's now: the engine's one
    deadline (``case_deadline``), so it reads as on the desk, in messages and on the board."""
    line = case_deadline(case_, calendar, now or clock.now())
    return ClockView(
        due_at=line.due_at,
        due_date=line.due_date,
        remaining_workdays=None if line.state == "closed" else line.remaining,
        paused=line.state == "paused",
        warning=_WARNING[line.state],
        state=line.state,
        closed_at=case_.closed_at,
        handled_workdays=case_.handled_workdays,
        on_time=case_.on_time,
    )


# The tag the citizen's pages show for the deadline's state.
_WARNING = {
    "on_time": "none",
    "warning": "yellow",
    "overdue": "red",
    "paused": "none",
    "closed": "none",
}


def state_title(case_: CaseRecord | None) -> str:
    """The case's state in the type's (Chinese) words; a draft is 草稿."""
    if case_ is None:
        return _("Draft")
    try:
        return _(get_case_type(case_.case_type).state(case_.state).title)
    except (LookupError, KeyError):
        return case_.state


def _line(
    event: CaseEventRecord, ct: CaseType, principal: Principal, dept_names: Mapping[str, str]
) -> TimelineLine | None:
    data = event.data or {}
    fields = data.get("fields") or {}
    by_you = event.actor == principal.name
    if event.kind == "transition":
        if event.name == "open":
            return TimelineLine(event.at, _("Application submitted"), by_you=by_you)
        step = ct.transition(event.name)
        title = _(step.title) if step is not None else event.name
        details = []
        if fields.get("reason"):
            details.append(_("Reason: %(text)s") % {"text": fields["reason"]})
        if fields.get("missing"):
            details.append(_("What is needed: %(text)s") % {"text": fields["missing"]})
        if fields.get("note"):
            details.append(_("Note: %(text)s") % {"text": fields["note"]})
        if fields.get("materials"):
            details.append(
                _("Files: %(names)s")
                % {"names": i18n.list_separator().join(str(m) for m in fields["materials"])}
            )
        return TimelineLine(event.at, title, "；".join(details), by_you)
    if event.kind == "clock" and event.name == "paused":
        return TimelineLine(event.at, _("The clock stops while the department waits for you"))
    if event.kind == "clock" and event.name == "resumed":
        return TimelineLine(event.at, _("The clock runs again"))
    if event.kind == "attachment":
        return TimelineLine(
            event.at,
            _("File handed in: %(name)s") % {"name": event.name},
            str(data.get("filename") or ""),
            by_you,
        )
    if event.kind == "transfer":
        to = str(data.get("to") or "")
        return TimelineLine(
            event.at,
            _("Passed on to %(department)s") % {"department": dept_names.get(to, to)},
            _("Reason: %(text)s") % {"text": data.get("reason", "")},
        )
    if event.kind == "correction":
        return TimelineLine(
            event.at,
            _("Corrected by the department"),
            _("Reason: %(text)s") % {"text": data.get("reason", "")},
        )
    if event.kind == "rating":
        return TimelineLine(
            event.at, _("You rated the service %(score)s of 5") % {"score": event.name}, by_you=True
        )
    # Comments, assignments, warnings and flags are the departments' and supervisors' own.
    return None


async def applicant_timeline(
    session: AsyncSession,
    principal: Principal,
    case_: CaseRecord,
    events: Sequence[CaseEventRecord],
) -> list[TimelineLine]:
    """The case's events the applicant is told of, in words, oldest first."""
    ct = get_case_type(case_.case_type)
    codes = {str((e.data or {}).get("to") or "") for e in events if e.kind == "transfer"}
    names = await department_names(session, codes)
    lines = [_line(e, ct, principal, names) for e in events]
    return [line for line in lines if line is not None]
