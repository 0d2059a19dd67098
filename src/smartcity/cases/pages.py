"""Staff pages of the case engine (办件工作台): the work queue (/cases) and the case page
(/cases/{id}) with its clocks, timeline, the owning domain's panels and the forms of what this
officer may do now. Generic over case types: everything shown comes from the declaration."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from smartcity.cases import flags, service
from smartcity.cases.hooks import Panel, panels_for
from smartcity.cases.models import REVIEW_OUTCOMES, Case, CaseFlag, CaseUrge
from smartcity.cases.service import urging
from smartcity.cases.types import CaseType, Transition, case_types
from smartcity.cases.views import (
    FIELD_LABELS,
    FLAG_LABELS,
    QueueRow,
    actor_name,
    clocks,
    due_day,
    state_title,
    step_title,
    timeline_lines,
    type_of,
    type_title,
    warned,
)
from smartcity.core import clock, i18n
from smartcity.core.authz import Principal, can
from smartcity.core.errors import Conflict, InvalidInput, NotFound, Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.module import NavItem
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.core.workdays import load_calendar
from smartcity.web.pages import require_page, safe_next
from smartcity.web.render import CSRF_FIELD, check_csrf, csrf_token, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

DESK_KINDS = frozenset({"staff", "supervisor", "admin"})
Desk = Annotated[Principal, Depends(require_page(*DESK_KINDS))]
NAV = NavItem("/cases", N_("Case desk"), DESK_KINDS)
Urger = Annotated[Principal, Depends(require_page("supervisor"))]
Replier = Annotated[Principal, Depends(require_page("staff"))]
# A case opened from the supervision board keeps the board, with its filters, as the way back.
BACK_PREFIX = "/supervision"
BACK_MAX = 500
PAGE_SIZE = 50
CASE = "/cases/{case_id:uuid}"

TAB_LABELS = {
    "mine": N_("Assigned to me"),
    "department": N_("My department"),
    "unassigned": N_("Unassigned"),
}
# Supervisors and admins read every department's cases: their second tab is all of them.
TAB_LABEL_ALL = N_("All departments")
EMPTY_TABS = {
    "mine": N_("No open case is assigned to you."),
    "department": N_("There are no open cases here."),
    "unassigned": N_("Every open case has an officer."),
}
FIELD_HINTS = {
    "reason": N_("The applicant and the supervisors read this: say what rule or fact decides it."),
    "missing": N_("Name each material or correction, so it can be supplied in one go."),
}


def _state_options(types: list[CaseType]) -> list[tuple[str, str]]:
    """States to filter by, in declaration order; a name shared by types is listed once."""
    titles: dict[str, list[str]] = {}
    for ct in types:
        for state in ct.states:
            if state.kind == "final":
                continue  # the queue holds open cases only
            known = titles.setdefault(state.name, [])
            if _(state.title) not in known:
                known.append(_(state.title))
    return [(name, " / ".join(t)) for name, t in titles.items()]


# --- the work queue ---------------------------------------------------------------------


def _queue_url(query: dict[str, str], **changes: Any) -> str:
    """The queue with some parameters changed; empty ones (and offset 0) are left out."""
    merged = {**query, **{k: str(v) for k, v in changes.items()}}
    return "/cases?" + urlencode({k: v for k, v in merged.items() if v and v != "0"})


def _reads_all(principal: Principal) -> bool:
    return principal.is_("supervisor", "admin", "auditor")


@router.get("/cases")
async def work_queue(request: Request, session: DbSession, principal: Desk) -> Response:
    """The officer's work queue (工作台): my cases, the department's, the unassigned; the
    urgent first."""
    params = request.query_params
    types = sorted(case_types(), key=lambda ct: ct.name)
    type_names = {ct.name for ct in types}
    case_type = params.get("type", "")
    case_type = case_type if case_type in type_names else ""
    departments = await service.active_departments(session)
    department = None
    if _reads_all(principal):
        department = next((d for d in departments if d.code == params.get("department")), None)
    counts = await service.desk_counts(
        session,
        principal,
        department_id=department.id if department else None,
        case_type=case_type or None,
    )
    tab = params.get("tab", "")
    if tab not in service.QUEUE_TABS:
        # Start with one's own cases, or with the department's when none is assigned.
        tab = "mine" if counts["mine"]["all"] else "department"
    state_options = _state_options([ct for ct in types if not case_type or ct.name == case_type])
    state = params.get("state", "")
    state = state if state in dict(state_options) else ""
    warning = params.get("warning", "")
    warning = warning if warning in ("red", "yellow") else ""
    offset_text = params.get("offset", "")
    offset = min(int(offset_text), 100_000) if offset_text.isdigit() else 0
    cases, more = await service.desk_queue(
        session,
        principal,
        tab=tab,
        department_id=department.id if department else None,
        case_type=case_type or None,
        state=state or None,
        warning=warning or None,
        limit=PAGE_SIZE,
        offset=offset,
    )
    by_id, _names = await service.display_names(
        session,
        ids=[c.applicant_account_id for c in cases] + [c.assignee_account_id for c in cases],
    )
    calendar = await load_calendar(session)
    now = clock.now()
    rows = []
    for c in cases:
        ct = type_of(c)
        views = {v.name: v for v in clocks(c, ct, calendar, now)}
        rows.append(
            QueueRow(
                case=c,
                type_title=type_title(ct, c.case_type),
                state_title=state_title(ct, c.state),
                applicant=by_id.get(c.applicant_account_id, "") if c.applicant_account_id else "",
                assignee=by_id.get(c.assignee_account_id, "") if c.assignee_account_id else "",
                limit=views.get("promised") or views["statutory"],
                step=views.get("step"),
                red=warned(c, "red"),
                yellow=warned(c, "yellow"),
            )
        )
    query = {
        "tab": tab,
        "type": case_type,
        "state": state,
        "warning": warning,
        "department": department.code if department else "",
    }
    own = next((d for d in departments if d.id == principal.department_id), None)
    me, _n = await service.display_names(session, ids=[principal.id])
    return render(
        request,
        "cases/queue.html",
        {
            "rows": rows,
            "tab": tab,
            "tabs": [
                (
                    name,
                    TAB_LABEL_ALL if name == "department" and _reads_all(principal) else label,
                    counts[name]["all"],
                )
                for name, label in TAB_LABELS.items()
            ],
            "counts": counts,
            "empty": EMPTY_TABS[tab],
            "query": query,
            "url": lambda **changes: _queue_url(
                {**query, "offset": str(offset) if offset else ""}, **changes
            ),
            "types": types if len(types) > 1 else [],
            "state_options": state_options,
            "departments": departments if _reads_all(principal) else [],
            "own_department": own,
            "me": me.get(principal.id, principal.name) if principal.id else principal.name,
            "more": more,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "filtered": bool(state or warning),
            "notice": _("The case was transferred to another department.")
            if params.get("done") == "transferred"
            else "",
        },
        principal=principal,
    )


# --- the case page ----------------------------------------------------------------------


@dataclass
class Refusal:
    """A refused form: where to show what, and the status to answer with."""

    status: int
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    open_form: str = ""


NOTICES = {
    "assigned": N_("The case was assigned."),
    "transferred": N_("The case was transferred to another department."),
    "commented": N_("Your comment is on the timeline."),
    "corrected": N_("The correction is recorded; the supervisors have been notified."),
    "urged": N_("The department is urged; its officers have a message."),
    "replied": N_("Your reply is on the timeline; the supervisor has a message."),
    "reviewed": N_("Your review of the flag is recorded."),
}
OUTCOME_LABELS = {
    "confirmed": N_("Confirmed: the irregularity is real"),
    "dismissed": N_("Dismissed: no irregularity"),
}


def board_back(value: str | None) -> str:
    """The board page to go back to, if ``value`` is one (same site, under /supervision)."""
    target = safe_next((value or "")[:BACK_MAX])
    if target == BACK_PREFIX or target.startswith((BACK_PREFIX + "?", BACK_PREFIX + "/")):
        return target
    return ""


def _with_back(url: str, back: str) -> str:
    """A redirect to the case page that keeps the way back to the board."""
    if not back:
        return url
    path, _sep, anchor = url.partition("#")
    joiner = "&" if "?" in path else "?"
    return f"{path}{joiner}{urlencode({'back': back})}" + (f"#{anchor}" if anchor else "")


async def _panels(
    request: Request, session: DbSession, principal: Principal, case_: Case
) -> list[tuple[Panel, Markup]]:
    """The owning domain's panels, each rendered with ``panel``, ``case`` and the keys of its
    context as variables (and the page's CSRF token for any form it has)."""
    env = request.app.state.templates
    found = []
    for make in panels_for(case_.case_type):
        panel = await make(session, principal, case_)
        if panel is None:
            continue
        html = env.get_template(panel.template).render(
            {
                "request": request,
                "principal": principal,
                "locale": i18n.current_locale.get(),
                "csrf_field": CSRF_FIELD,
                "csrf_token": csrf_token(request),
                "errors": {},
                "values": {},
                "case": case_,
                "panel": panel,
                **panel.context,
            }
        )
        found.append((panel, Markup(html)))  # noqa: S704 - rendered by the autoescaping env
    return found


async def _case_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    case_id: uuid.UUID,
    refusal: Refusal | None = None,
) -> Response:
    case_ = await service.get_case(session, principal, case_id)
    ct = type_of(case_)
    events = await service.timeline(session, principal, case_id)
    case_flags: list[tuple[CaseFlag, Case]] = await flags.list_flags(
        session, principal, case_id=case_id, open_only=False
    )
    urges: list[CaseUrge] = await urging.case_urges(session, principal, case_id)
    departments = await service.active_departments(session)
    department_names = {d.code: i18n.pick(d.name, d.name_en) for d in departments}
    by_id, by_username = await service.display_names(
        session,
        ids=[case_.applicant_account_id, case_.assignee_account_id],
        usernames=[e.actor for e in events]
        + [str(e.data.get("officer", "")) for e in events if e.kind == "assignment"]
        + [f.reviewed_by or "" for f, _c in case_flags]
        + [u.urged_by for u in urges]
        + [u.replied_by or "" for u in urges],
    )
    department = await session.get(Department, case_.department_id)
    calendar = await load_calendar(session)
    now = clock.now()
    is_open = case_.closed_at is None
    steps: list[Transition] = (
        [t for t in ct.outgoing(case_.state) if service.may_take(principal, case_, t)]
        if ct and is_open
        else []
    )
    may_assign = is_open and can(principal, "cases.case.assign", case_)
    may_transfer = is_open and can(principal, "cases.case.transfer", case_)
    params = request.query_params
    done = params.get("done", "")
    notice = ""
    if done == "step" and ct and ct.transition(params.get("step", "")):
        notice = _("Done: %(step)s.") % {"step": step_title(ct, params["step"])}
    elif done in NOTICES:
        notice = _(NOTICES[done])
    refusal = refusal or Refusal(200)
    back = board_back(params.get("back") or refusal.values.get("back"))
    return render(
        request,
        "cases/case.html",
        {
            "back": back,
            "who": lambda actor: actor_name(actor or "", by_username),
            "urges": urges,
            "overdue": {u.id for u in urges if urging.is_overdue(u, now)},
            "may_urge": is_open and can(principal, "cases.case.urge"),
            "may_reply": {
                u.id
                for u in urges
                if u.replied_at is None
                and can(principal, "cases.urge.reply")
                and principal.department_id == u.department_id
            },
            "reply_days": range(urging.REPLY_DAYS_MIN, urging.REPLY_DAYS_MAX + 1),
            "reply_days_default": urging.REPLY_DAYS_DEFAULT,
            "may_review": can(principal, "cases.flag.review"),
            "outcomes": [(o, OUTCOME_LABELS[o]) for o in REVIEW_OUTCOMES],
            "outcome_labels_map": OUTCOME_LABELS,
            "opinion_max": service.OPINION_MAX,
            "due_day": due_day,
            "case": case_,
            "case_type": ct,
            "type_title": type_title(ct, case_.case_type),
            "state_title": state_title(ct, case_.state),
            "state_kind": ct.state(case_.state).kind if ct else "active",
            "department": department,
            "applicant": by_id.get(case_.applicant_account_id, "")
            if case_.applicant_account_id
            else "",
            "assignee": by_id.get(case_.assignee_account_id, "")
            if case_.assignee_account_id
            else "",
            "clocks": clocks(case_, ct, calendar, now) if is_open else [],
            "red": warned(case_, "red") if is_open else [],
            "yellow": warned(case_, "yellow") if is_open else [],
            "timeline": timeline_lines(events, ct, by_username, department_names),
            "flags": case_flags,
            "open_flags": sum(1 for flag, _c in case_flags if flag.reviewed_at is None),
            "flag_labels": FLAG_LABELS,
            "panels": await _panels(request, session, principal, case_),
            "steps": steps,
            "state_title_of": lambda name: state_title(ct, name),
            "field_labels": FIELD_LABELS,
            "field_hints": FIELD_HINTS,
            "officers": await service.department_officers(session, case_.department_id)
            if may_assign
            else [],
            "may_assign": may_assign,
            "transfer_to": [d for d in departments if d.id != case_.department_id]
            if may_transfer
            else [],
            "may_transfer": may_transfer,
            "may_comment": can(principal, "cases.case.comment"),
            "may_correct": can(principal, "cases.case.correct", case_),
            "correct_states": [s for s in ct.states if s.name != case_.state] if ct else [],
            "notice": notice,
            "errors": refusal.errors,
            "values": refusal.values,
            "open_form": refusal.open_form,
        },
        status_code=refusal.status,
        principal=principal,
    )


@router.get(CASE)
async def case_page(
    request: Request, session: DbSession, principal: Desk, case_id: uuid.UUID
) -> Response:
    """One case for the officer: clocks, flags, the domain's panels, the timeline, and the
    steps and actions open to this officer now."""
    return await _case_page(request, session, principal, case_id)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    check_csrf(request, form)
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def _refusal(exc: Problem, form_id: str, values: dict[str, str]) -> Refusal:
    """Where a refused action's message goes: next to its field, else on its form."""
    name = exc.extensions.get("field")
    key = f"{form_id}-{name}" if name else form_id
    status = exc.status if exc.status in (403, 409, 422) else 422
    return Refusal(status, {key: exc.detail}, values, form_id)


async def _act(
    request: Request,
    session: DbSession,
    principal: Principal,
    case_id: uuid.UUID,
    *,
    form_id: str,
    values: dict[str, str],
    action: Any,
    done: str,
) -> Response:
    """Run a refusable change in a savepoint: on refusal nothing of it stays and the page
    comes back with the message where it belongs; on success, back to the case (303)."""
    try:
        async with session.begin_nested():
            await action()
    except Problem as exc:
        if exc.status == 404:
            raise
        refusal = _refusal(exc, form_id, values)
        return await _case_page(request, session, principal, case_id, refusal)
    return RedirectResponse(done, status_code=303)


@router.post(CASE + "/steps/{name}")
async def take_step(
    request: Request, session: DbSession, principal: Desk, case_id: uuid.UUID, name: str
) -> Response:
    """Take a declared step (流转) with its fields. A decisive step (准予许可, 不予许可,
    不予受理) is taken in two posts: the first, with its opinion, shows a confirmation page
    (plain HTML, no script needed); the second, from that page, takes it."""
    form = await _form(request)
    case_ = await service.get_case(session, principal, case_id)
    ct = type_of(case_)
    step = ct.transition(name) if ct else None
    if ct is None or step is None:
        raise NotFound(_("This case type has no step %(name)s.") % {"name": name})
    form_id = f"step-{name}"
    names = list(step.required_fields) + (["opinion"] if step.decisive else [])
    fields = {f: form.get(f, "") for f in names}
    values = {f"{form_id}-{f}": v for f, v in fields.items()}
    back = board_back(form.get("back"))
    values["back"] = back
    seen = form.get("state", "")
    if seen and seen != case_.state:
        # The page was read before someone else moved the case: the step may still be
        # allowed from the new state, but not what the officer decided on.
        moved = Conflict(
            _(
                "The case has moved on to %(state)s since you opened it, probably by a "
                "colleague. Check the timeline before you act."
            )
            % {"state": state_title(ct, case_.state)}
        )
        return await _case_page(
            request, session, principal, case_id, _refusal(moved, form_id, values)
        )

    def explained(exc: Problem) -> Problem:
        """The engine's refusal in the words of the form the officer filled in."""
        if isinstance(exc, InvalidInput):
            missing = exc.extensions.get("field")
            if missing in step.required_fields:
                label = _(FIELD_LABELS.get(str(missing), str(missing)))
                return InvalidInput(
                    _("Fill in %(field)s to take the step %(step)s.")
                    % {"field": label, "step": _(step.title)},
                    field=missing,
                )
            return exc
        if isinstance(exc, Conflict):
            return Conflict(
                _(
                    "%(step)s cannot be taken now: the case is at %(state)s. Someone may have "
                    "acted on it before you."
                )
                % {"step": _(step.title), "state": state_title(ct, case_.state)}
            )
        return exc

    if step.decisive and form.get("confirmed") != "1":
        try:
            _case, _step, checked = await service.check_transition(
                session, principal, case_id, name, fields=fields
            )
        except Problem as exc:
            if exc.status == 404:
                raise
            refusal = _refusal(explained(exc), form_id, values)
            return await _case_page(request, session, principal, case_id, refusal)
        return render(
            request,
            "cases/confirm_step.html",
            {
                "case": case_,
                "step": step,
                "type_title": _(ct.title),
                "state_title": state_title(ct, case_.state),
                "to_title": state_title(ct, step.to_state),
                "opinion": checked.get("opinion", ""),
                "details": [
                    (f, _(FIELD_LABELS.get(f, f)), str(checked.get(f, "")))
                    for f in step.required_fields
                ],
                "back": back,
            },
            principal=principal,
        )

    async def take() -> None:
        try:
            await service.transition(session, principal, case_id, name, fields=fields)
        except (InvalidInput, Conflict) as exc:
            raise explained(exc) from exc

    return await _act(
        request,
        session,
        principal,
        case_id,
        form_id=form_id,
        values=values,
        action=take,
        done=_with_back(f"/cases/{case_id}?done=step&step={name}", back),
    )


@router.post(CASE + "/assign")
async def assign(
    request: Request, session: DbSession, principal: Desk, case_id: uuid.UUID
) -> Response:
    """Assign the case to an officer of its department (分派)."""
    form = await _form(request)
    officer = form.get("officer", "")
    return await _act(
        request,
        session,
        principal,
        case_id,
        form_id="assign",
        values={"assign-officer": officer},
        action=lambda: service.assign(session, principal, case_id, officer),
        done=f"/cases/{case_id}?done=assigned",
    )


@router.post(CASE + "/transfer")
async def transfer(
    request: Request, session: DbSession, principal: Desk, case_id: uuid.UUID
) -> Response:
    """Transfer the case to another department with a reason (转办). The officer usually
    cannot read it afterwards, so the answer goes back to the queue."""
    form = await _form(request)
    department, reason = form.get("department", ""), form.get("reason", "")
    back = (
        f"/cases/{case_id}?done=transferred" if _reads_all(principal) else "/cases?done=transferred"
    )
    return await _act(
        request,
        session,
        principal,
        case_id,
        form_id="transfer",
        values={"transfer-department": department, "transfer-reason": reason},
        action=lambda: service.transfer(session, principal, case_id, department, reason),
        done=back,
    )


@router.post(CASE + "/comment")
async def comment(
    request: Request, session: DbSession, principal: Desk, case_id: uuid.UUID
) -> Response:
    """A note on the timeline (办理意见)."""
    form = await _form(request)
    text = form.get("text", "")
    return await _act(
        request,
        session,
        principal,
        case_id,
        form_id="comment",
        values={"comment-text": text},
        action=lambda: service.comment(session, principal, case_id, text),
        done=f"/cases/{case_id}?done=commented#timeline",
    )


@router.post(CASE + "/correct")
async def correct(
    request: Request, session: DbSession, principal: Desk, case_id: uuid.UUID
) -> Response:
    """Correct the case's state outside the declared steps (纠错), flagged for supervisors."""
    form = await _form(request)
    to_state, reason = form.get("to_state", ""), form.get("reason", "")
    return await _act(
        request,
        session,
        principal,
        case_id,
        form_id="correct",
        values={"correct-to_state": to_state, "correct-reason": reason},
        action=lambda: service.correct(session, principal, case_id, to_state, reason),
        done=f"/cases/{case_id}?done=corrected",
    )


@router.post(CASE + "/urge")
async def urge(
    request: Request, session: DbSession, principal: Urger, case_id: uuid.UUID
) -> Response:
    """A supervisor urges the case's department (督办): a note and a reply deadline."""
    form = await _form(request)
    note, days_text = form.get("note", ""), form.get("reply_days", "")
    back = board_back(form.get("back"))
    values = {"urge-note": note, "urge-reply_days": days_text, "back": back}

    async def act() -> None:
        days = int(days_text) if days_text.isdigit() and len(days_text) <= 3 else -1
        await urging.urge(session, principal, case_id, note, days)

    return await _act(
        request,
        session,
        principal,
        case_id,
        form_id="urge",
        values=values,
        action=act,
        done=_with_back(f"/cases/{case_id}?done=urged#urges", back),
    )


@router.post("/cases/urges/{urge_id:uuid}/reply")
async def reply_urge(
    request: Request, session: DbSession, principal: Replier, urge_id: uuid.UUID
) -> Response:
    """The urged department's reply (督办回复), from the case page."""
    form = await _form(request)
    text = form.get("reply", "")
    found = (
        await session.execute(urging.readable_urges(principal).where(CaseUrge.id == urge_id))
    ).first()
    if found is None:
        raise NotFound(_("There is no such urging."))
    case_id = found[1].id
    form_id = f"reply-{urge_id}"
    return await _act(
        request,
        session,
        principal,
        case_id,
        form_id=form_id,
        values={f"{form_id}-reply": text},
        action=lambda: urging.reply(session, principal, urge_id, text),
        done=f"/cases/{case_id}?done=replied#urges",
    )


async def refused_review(
    request: Request,
    session: DbSession,
    principal: Principal,
    case_text: str,
    flag_id: str,
    exc: Problem,
    sent: dict[str, str],
) -> Response:
    """A flag's review sent from the case page and refused: the case page again, with the
    message next to the field and what was written kept (supervision_pages.review)."""
    try:
        case_id = uuid.UUID(case_text)
    except ValueError:
        raise NotFound(_("There is no such case.")) from None
    form_id = f"review-{flag_id}"
    values = {
        f"{form_id}-note": sent["note"],
        f"{form_id}-outcome": sent["outcome"],
        "back": board_back(sent["back"]),
    }
    refusal = _refusal(exc, form_id, values)
    return await _case_page(request, session, principal, case_id, refusal)
