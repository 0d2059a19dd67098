"""How a case reads on the desk pages (办件工作台): the labels of clocks, fields and flags,
its type and state titles, its clocks with their last day and working days left, its warnings,
and its timeline (办理过程) in the officer's words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from smartcity.cases.deadline import ClockName, case_deadline, format_day
from smartcity.cases.models import Case, CaseEvent
from smartcity.cases.types import CaseType, get_case_type
from smartcity.core import people
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.workdays import WorkCalendar

CLOCK_LABELS = {
    "statutory": N_("Statutory limit"),
    "promised": N_("Promised limit"),
    "step": N_("Step limit"),
}
FIELD_LABELS = {
    "reason": N_("Reason"),
    "missing": N_("What the applicant must supplement"),
    "text": N_("Comment"),
    "note": N_("Note"),
    "opinion": N_("Approval opinion"),
    # 派单 or 转办 to a department (named, not given as its code).
    "department": N_("Department"),
}
FLAG_LABELS = {
    "qualifying_not_accepted": N_("Qualifying application not accepted"),
    "refusal_without_reason": N_("Refusal without a reason"),
    "out_of_order": N_("Step out of order"),
    "reopened": N_("Reopened after closing"),
}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


@dataclass(frozen=True)
class ClockView:
    """One clock of a case as an officer reads it: limit, last day, days left, warning."""

    name: str
    label: str
    days: int | None
    extra_days: int
    due_at: datetime
    due_date: date
    last_day: str
    short_day: str
    remaining: int
    warning: str
    state: str  # the deadline's: on_time, warning, overdue, paused (cases/deadline.py)
    # 延期: working days added to this limit by extensions.
    extended_days: int = 0


@dataclass(frozen=True)
class QueueRow:
    case: Case
    type_title: str
    state_title: str
    applicant: str
    assignee: str
    limit: ClockView
    step: ClockView | None
    red: list[str]
    yellow: list[str]


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    actor: str
    kind: str
    text: str
    details: list[tuple[str, str]] = field(default_factory=list)
    quote: str = ""


def type_of(case_: Case) -> CaseType | None:
    try:
        return get_case_type(case_.case_type)
    except LookupError:
        return None


def state_title(ct: CaseType | None, state: str) -> str:
    if ct is None or not state:
        return state
    try:
        return _(ct.state(state).title)
    except KeyError:
        return state


def step_title(ct: CaseType | None, name: str) -> str:
    step = ct.transition(name) if ct else None
    return _(step.title) if step else name


def type_title(ct: CaseType | None, name: str) -> str:
    """A case type's title (办件类型) in the reader's language; titles are msgids."""
    return _(ct.title) if ct else name


def _last_day(day: date, *, short: bool = False) -> str:
    """The last working day of a limit (it ends at 24:00 of that day), with its weekday."""
    shown = f"{day:%m-%d}" if short else format_day(day)
    return f"{shown} {_(WEEKDAYS[day.weekday()])}"


def due_day(due_at: datetime) -> str:
    """The last working day of a deadline ending at 24:00, e.g. an urging's reply (督办)."""
    return _last_day(due_at)


def clocks(
    case_: Case, ct: CaseType | None, calendar: WorkCalendar, now: datetime
) -> list[ClockView]:
    """The running clocks of an open case, each after the one deadline rule
    (``case_deadline``): a paused case's days left stand as of the pause."""
    found: list[ClockView] = []
    limits: tuple[tuple[ClockName, int | None, int, int], ...] = (
        ("statutory", case_.statutory_days, case_.paused_workdays, case_.extended_workdays),
        ("promised", case_.promised_days, case_.paused_workdays, case_.extended_workdays),
        (
            "step",
            ct.limits.step_limit(case_.state) if ct else None,
            0,
            case_.step_extended_workdays,
        ),
    )
    for name, days, extra, extended in limits:
        if getattr(case_, f"{name}_due_at") is None:
            continue
        line = case_deadline(case_, calendar, now, name)
        found.append(
            ClockView(
                name=name,
                label=CLOCK_LABELS[name],
                days=days,
                extra_days=extra,
                due_at=line.due_at,
                due_date=line.due_date,
                last_day=_last_day(line.due_date),
                short_day=_last_day(line.due_date, short=True),
                remaining=line.remaining,
                warning=getattr(case_, f"{name}_warning"),
                state=line.state,
                extended_days=extended or 0,
            )
        )
    return found


def warned(case_: Case, level: str) -> list[str]:
    return [
        _(CLOCK_LABELS[name])
        for name in ("statutory", "promised", "step")
        if getattr(case_, f"{name}_warning") == level
    ]


def timeline_lines(
    events: list[CaseEvent],
    ct: CaseType | None,
    names: dict[str, str],
    departments: dict[str, str],
) -> list[TimelineLine]:
    return [_describe(e, ct, names, departments) for e in events]


def actor_name(actor: str, names: dict[str, str]) -> str:
    """Who did something, as a person reads it (core.people): never a bare user name."""
    return people.actor_name(actor, names)


def _day_of(stored: Any) -> str:
    """A day stored as ISO text (an event's data), written as the reader's locale does."""
    try:
        return format_day(date.fromisoformat(str(stored)))
    except ValueError:
        return str(stored or "")


def _fields(
    data: dict[str, Any], departments: dict[str, str], ct: CaseType | None
) -> list[tuple[str, str]]:
    # The opinion is the line's quote, not one of its details. A department is named, not
    # given as its code; the case type names its own fields and coded values.
    labels = FIELD_LABELS | dict(ct.field_labels if ct else ())
    values = {(f, v): t for f, v, t in (ct.field_values if ct else ())}

    def shown(name: str, value: Any) -> str:
        if name == "department":
            return departments.get(str(value), str(value))
        title = values.get((name, str(value)))
        return _(title) if title else str(value)

    return [
        (_(labels.get(name, name)), shown(name, value))
        for name, value in (data.get("fields") or {}).items()
        if value not in (None, "") and name != "opinion"
    ]


def _describe(
    event: CaseEvent, ct: CaseType | None, names: dict[str, str], departments: dict[str, str]
) -> TimelineLine:
    """A timeline event as a line in the officer's words."""
    data = event.data or {}
    actor = actor_name(event.actor, names)
    details: list[tuple[str, str]] = []
    quote = ""
    kind = event.kind
    if kind == "transition" and event.name == "open":
        text = _("Opened; now at %(state)s") % {"state": state_title(ct, event.to_state)}
        if data.get("department"):
            details.append(
                (_("Department"), departments.get(data["department"], data["department"]))
            )
    elif kind == "transition":
        text = _("%(step)s: %(from)s → %(to)s") % {
            "step": step_title(ct, event.name),
            "from": state_title(ct, event.from_state),
            "to": state_title(ct, event.to_state),
        }
        details = _fields(data, departments, ct)
        opinion = (data.get("fields") or {}).get("opinion")
        if opinion:
            quote = _("Approval opinion: %(text)s") % {"text": opinion}
    elif kind == "assignment":
        officer = names.get(data.get("officer", ""), data.get("officer", ""))
        text = (
            _("Reassigned to %(officer)s")
            if event.name == "reassigned"
            else _("Assigned to %(officer)s")
        ) % {"officer": officer}
        if data.get("automatic"):
            text = _("Took the case on by taking the step %(step)s") % {
                "step": step_title(ct, str(data.get("step", "")))
            }
    elif kind == "transfer":
        text = _("Transferred from %(from)s to %(to)s") % {
            "from": departments.get(data.get("from", ""), data.get("from", "")),
            "to": departments.get(data.get("to", ""), data.get("to", "")),
        }
        quote = str(data.get("reason", ""))
    elif kind == "clock" and event.name == "paused":
        text = _("Clock paused while the applicant supplements")
    elif kind == "clock" and event.name == "resumed":
        text = _("Clock resumed: %(n)s working days of pause added to the limits") % {
            "n": data.get("paused_workdays", 0)
        }
    elif kind == "clock" and event.name == "extended":
        text = _("Limit extended by %(n)s working days") % {"n": data.get("days", "")}
        if data.get("due_date"):
            details.append((_("New due date"), _day_of(data.get("due_date"))))
        quote = _("Reason: %(text)s") % {"text": data.get("reason", "")}
    elif kind == "clock":
        text = _("Deadlines recomputed with the official calendar")
    elif kind == "warning":
        label = _(CLOCK_LABELS.get(str(data.get("clock")), str(data.get("clock"))))
        text = (
            _("Red warning: the %(clock)s has run out")
            if data.get("level") == "red"
            else _("Yellow warning: the %(clock)s is nearly used up")
        ) % {"clock": label}
        kind = f"warning {data.get('level', '')}".strip()
    elif kind == "flag":
        text = _("Supervision flag: %(kind)s") % {
            "kind": _(FLAG_LABELS.get(event.name, event.name))
        }
        quote = str(data.get("reason", ""))
    elif kind == "urge" and event.name == "urged":
        text = _("Urged by supervision: reply within %(n)s working days, by %(day)s") % {
            "n": data.get("reply_days", ""),
            "day": _day_of(data.get("reply_due")),
        }
        quote = str(data.get("note", ""))
    elif kind == "urge":
        text = (
            _("The department replied to the urging, after its deadline")
            if data.get("overdue")
            else _("The department replied to the urging")
        )
        quote = str(data.get("reply", ""))
    elif kind == "review":
        label = _(FLAG_LABELS.get(str(data.get("flag", "")), str(data.get("flag", ""))))
        text = (
            _("Flag reviewed and confirmed: %(kind)s")
            if event.name == "confirmed"
            else _("Flag reviewed and dismissed: %(kind)s")
        ) % {"kind": label}
        quote = str(data.get("note", ""))
    elif kind == "correction":
        text = _("Correction: %(from)s → %(to)s") % {
            "from": state_title(ct, event.from_state),
            "to": state_title(ct, event.to_state),
        }
        quote = str(data.get("reason", ""))
    elif kind == "comment":
        text = _("Comment")
        quote = str(data.get("text", ""))
    elif kind == "attachment":
        text = _("Attachment added: %(name)s") % {"name": data.get("filename") or event.name}
        if data.get("size") is not None:
            details.append((_("Size"), f"{max(1, int(data['size']) // 1024)} KB"))
    elif kind == "rating":
        text = _("Rated %(score)s of 5 by the applicant") % {"score": data.get("score", "")}
        quote = str(data.get("comment", ""))
    else:
        text = f"{kind} {event.name}".strip()
    css = " ".join(f"ev-{part}" for part in kind.split())
    return TimelineLine(event.at, actor, css, text, details, quote)
