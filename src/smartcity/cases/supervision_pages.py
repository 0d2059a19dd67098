"""Pages of the electronic supervision board (电子监察): /supervision with the urgent lists
first, the drill-down case lists, the flags with their review form, CSV exports, and the
plotly.js the charts need, served from the installed package (no CDN: the city may be
offline)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import plotly
from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from sqlalchemy import select
from starlette.responses import FileResponse, RedirectResponse, Response

from smartcity.cases import flags, pages, service, supervision
from smartcity.cases.hooks import BoardRange, installed_board_panels
from smartcity.cases.service import urging
from smartcity.cases.supervision import FLAG_TITLES, BoardFilter, CaseQuery, Scope
from smartcity.cases.supervision_api import csv_response
from smartcity.cases.types import case_types
from smartcity.cases.views import actor_name
from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput, Problem
from smartcity.core.i18n import N_, format_day
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.module import NavItem
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.core.workdays import load_calendar
from smartcity.web.pages import require_page, safe_next
from smartcity.web.render import CSRF_FIELD, check_csrf, csrf_token, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

BOARD_KINDS = frozenset({"supervisor", "admin", "auditor", "staff"})
Board = Annotated[Principal, Depends(require_page(*sorted(BOARD_KINDS)))]
# The header's link, for the module's nav (cases/__init__.py).
NAV = NavItem("/supervision", N_("Supervision"), BOARD_KINDS)
Reviewer = Annotated[Principal, Depends(require_page("supervisor", "admin"))]
URGENT_ROWS = 10
# Urgings on the board: the unanswered first, then the latest replies.
URGE_ROWS = 20
PAGE_SIZE = 50
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
FILTER_PARAMS = ("department", "category", "case_type", "from", "to")
DRILL_PARAMS = ("status", "state", "warning", "month", "late", "poor", "flag")


@router.get("/static/vendor/plotly.min.js", dependencies=[Depends(public)])
async def plotly_js() -> Response:
    """plotly.js from the installed ``plotly`` package, cached by browsers for a day."""
    return FileResponse(
        PLOTLY_JS,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _params(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    return {
        name: value.strip()[:64]
        for name in names
        if (value := request.query_params.get(name)) is not None and value.strip()
    }


def _filter(params: dict[str, str]) -> BoardFilter:
    return BoardFilter(
        department=params.get("department"),
        category=params.get("category"),
        case_type=params.get("case_type"),
        first_month=params.get("from"),
        last_month=params.get("to"),
    )


def _linker(params: dict[str, str]) -> Callable[..., str]:
    """A link keeping the board's filter, with drill-down parameters added or replaced."""

    def link(path: str, **extra: Any) -> str:
        merged: dict[str, Any] = {**params}
        for key, value in extra.items():
            key = key.rstrip("_")  # from_ for "from"
            if value in (None, "", False):
                merged.pop(key, None)
            else:
                merged[key] = "1" if value is True else value
        query = urlencode(merged)
        return f"{path}?{query}" if query else path

    return link


async def _who(session: DbSession, usernames: Sequence[str | None]) -> Callable[[str | None], str]:
    """Names people read for the actors of flags and urgings (display names, not logins)."""
    _by_id, names = await service.display_names(session, usernames=[u for u in usernames if u])
    return lambda actor: actor_name(actor or "", names)


def last_day(due: datetime | None) -> str:
    """The last working day of a limit (it ends at 24:00 of that day), in the city."""
    return "" if due is None else format_day(clock.to_city(due - timedelta(seconds=1)).date())


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


async def _choices(
    session: DbSession, principal: Principal, figures: supervision.Board
) -> dict[str, Any]:
    departments = list(
        (
            await session.execute(
                select(Department).where(Department.active).order_by(Department.code)
            )
        ).scalars()
    )
    if not principal.is_(*supervision.BOARD_KINDS):
        departments = [d for d in departments if d.id == principal.department_id]
    return {
        "departments": departments,
        # Unfiltered by item, the board's own rows name every item with cases in the months;
        # the distinct query is needed only to offer the others while one is chosen.
        "categories": (
            [(r.key, r.label) for r in sorted(figures.categories, key=lambda r: r.key) if r.key]
            if not figures.summary.scope.filter.category
            else await supervision.categories(session, principal)
        ),
        "types": sorted(case_types(), key=lambda t: t.name),
    }


async def _scope(
    session: DbSession, principal: Principal, params: dict[str, str]
) -> tuple[Scope, dict[str, str], dict[str, str]]:
    """The resolved filter; a bad one (a hand-edited link) shows the default board with the
    error next to the field."""
    try:
        return await supervision.resolve(session, principal, _filter(params)), params, {}
    except InvalidInput as exc:
        errors = {str(exc.extensions.get("field") or "_form"): exc.detail}
        scope = await supervision.resolve(session, principal, BoardFilter())
        return scope, {}, errors


def _context(
    scope: Scope, params: dict[str, str], errors: dict[str, str], principal: Principal
) -> dict[str, Any]:
    return {
        "scope": scope,
        "params": params,
        "values": {**params, "from": scope.months[0], "to": scope.months[-1]},
        "errors": errors,
        "link": _linker(params),
        "pct": pct,
        "last_day": last_day,
        "days": days,
        "flag_titles": FLAG_TITLES,
        "clock_titles": supervision.CLOCK_TITLES,
        "can_review": principal.is_("supervisor", "admin"),
        "state_title": supervision.state_title,
        "as_of": clock.now(),
    }


async def _board_panels(
    request: Request, session: DbSession, principal: Principal, scope: Scope
) -> list[tuple[Any, Markup]]:
    """The domains' own panels (``BoardPanel``) for the board's range, after its figures."""
    env = request.app.state.templates
    where = BoardRange(
        start=scope.start,
        end=scope.end,
        department_code=scope.department.code if scope.department else None,
    )
    found = []
    for declared in installed_board_panels():
        panel = await declared.render(session, principal, where)
        if panel is None:
            continue
        html = env.get_template(panel.template).render(
            {
                "request": request,
                "principal": principal,
                "locale": i18n.current_locale.get(),
                "csrf_field": CSRF_FIELD,
                "csrf_token": csrf_token(request),
                "panel": panel,
                **panel.context,
            }
        )
        found.append((panel, Markup(html)))  # noqa: S704 - rendered by the autoescaping env
    return found


@router.get("/supervision")
async def board(request: Request, session: DbSession, principal: Board) -> Response:
    """The board (电子监察): tiles, red and yellow lists, open flags, open cases by state,
    tables per department and item, and the monthly trend."""
    scope, params, errors = await _scope(session, principal, _params(request, FILTER_PARAMS))
    f = scope.filter
    calendar = await load_calendar(session)
    figures = await supervision.board(session, principal, f)
    red, red_total = await supervision.case_list(
        session, principal, f, CaseQuery(warning="red"), limit=URGENT_ROWS, calendar=calendar
    )
    yellow, yellow_total = await supervision.case_list(
        session, principal, f, CaseQuery(warning="yellow"), limit=URGENT_ROWS, calendar=calendar
    )
    months = figures.months
    trend = {
        "months": [r.key for r in months],
        "closed": [r.closed.closed for r in months],
        "on_time": [
            None if r.closed.on_time_rate is None else round(r.closed.on_time_rate * 100, 1)
            for r in months
        ],
        "average": [
            None if r.closed.average_days is None else round(r.closed.average_days, 2)
            for r in months
        ],
        "p90": [r.closed.p90_days for r in months],
        "rating": [
            None if r.closed.rating_average is None else round(r.closed.rating_average, 2)
            for r in months
        ],
        "labels": {
            "closed": _("Closed"),
            "on_time": _("On-time rate (%)"),
            "average": _("Average working days"),
            "p90": _("90th percentile working days"),
            "rating": _("Average rating"),
        },
    }
    open_flags = await supervision.flag_list(session, principal, f, limit=URGENT_ROWS)
    department_id = scope.department.id if scope.department else None
    urges = await urging.list_urges(
        session, principal, department_id=department_id, limit=URGE_ROWS
    )
    now = clock.now()
    return render(
        request,
        "cases/supervision.html",
        {
            **_context(scope, params, errors, principal),
            "who": await _who(
                session,
                [flag.actor for flag, _c, _d in open_flags]
                + [u.urged_by for u, _c in urges]
                + [u.replied_by for u, _c in urges],
            ),
            "urges": urges,
            "overdue": {u.id for u, _c in urges if urging.is_overdue(u, now)},
            "open_urges": sum(1 for u, _c in urges if u.replied_at is None),
            **await _choices(session, principal, figures),
            "summary": figures.summary,
            "red": red,
            "red_total": red_total,
            "yellow": yellow,
            "yellow_total": yellow_total,
            "open_flags": open_flags,
            "by_department": figures.departments,
            "by_category": figures.categories,
            "months": months,
            "trend": trend,
            "board_panels": await _board_panels(request, session, principal, scope),
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


def _drill(params: dict[str, str]) -> CaseQuery:
    return CaseQuery(
        status=params.get("status"),
        state=params.get("state"),
        warning=params.get("warning"),
        month=params.get("month"),
        late=params.get("late") == "1",
        poor=params.get("poor") == "1",
        flag=params.get("flag") if "flag" in params else None,
    )


@router.get("/supervision/cases")
async def cases(request: Request, session: DbSession, principal: Board, page: int = 1) -> Response:
    """The cases behind a figure (钻取), 50 a page, each linked to its case page."""
    scope, params, errors = await _scope(session, principal, _params(request, FILTER_PARAMS))
    drill = _params(request, DRILL_PARAMS)
    page = max(1, min(page, 10_000))
    try:
        lines, total = await supervision.case_list(
            session,
            principal,
            scope.filter,
            _drill(drill),
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            calendar=await load_calendar(session),
        )
    except InvalidInput as exc:
        errors[str(exc.extensions.get("field") or "_form")] = exc.detail
        lines, total, drill = [], 0, {}
    return render(
        request,
        "cases/supervision_cases.html",
        {
            **_context(scope, params, errors, principal),
            "drill": drill,
            "all_params": {**params, **drill},
            "lines": lines,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "department": scope.department,
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


async def _flags_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    failed: str | None = None,
    note: str = "",
    outcome: str = "",
    status_code: int = 200,
) -> Response:
    scope, params, filter_errors = await _scope(session, principal, _params(request, FILTER_PARAMS))
    kind = request.query_params.get("kind") or None
    if kind not in (None, *FLAG_TITLES):
        filter_errors["kind"] = _("There is no flag kind %(kind)s.") % {"kind": kind}
        kind = None
    open_rows = await supervision.flag_list(
        session, principal, scope.filter, kind=kind, limit=supervision.LIST_MAX
    )
    reviewed = await supervision.flag_list(
        session, principal, scope.filter, kind=kind, open_only=False, limit=20
    )
    all_errors = {**filter_errors, **(errors or {})}
    return render(
        request,
        "cases/supervision_flags.html",
        {
            **_context(scope, params, all_errors, principal),
            "kind": kind,
            "open_rows": open_rows,
            "reviewed": reviewed,
            "failed": failed,
            "note": note,
            "outcome": outcome,
            "outcome_labels": pages.OUTCOME_LABELS,
            "who": await _who(
                session,
                [flag.actor for flag, _c, _d in open_rows]
                + [flag.reviewed_by for flag, _c, _d in reviewed],
            ),
            "done": request.query_params.get("reviewed") == "1",
        },
        status_code=422 if filter_errors and status_code == 200 else status_code,
        principal=principal,
    )


@router.get("/supervision/flags")
async def flag_page(request: Request, session: DbSession, principal: Board) -> Response:
    """Open irregularity flags (待核查异常) with the review form, and the latest reviews."""
    return await _flags_page(request, session, principal)


@router.post("/supervision/flags/{flag_id}/review")
async def review(
    request: Request, session: DbSession, principal: Reviewer, flag_id: str
) -> Response:
    """核查: the outcome (confirmed or dismissed) and a note are required; a refused review
    shows the note again next to its error, on the case page when it was sent from there."""
    form = await request.form()
    check_csrf(request, form)
    note = str(form.get("note") or "")
    outcome = str(form.get("outcome") or "")[:16]
    target = safe_next(str(form.get("next") or "/supervision/flags"))
    from_case = str(form.get("case") or "")
    try:
        flag_uuid = uuid.UUID(flag_id)
    except ValueError:
        raise InvalidInput(_("There is no such flag."), field="flag") from None
    try:
        async with session.begin_nested():
            await flags.review_flag(session, principal, flag_uuid, note, outcome)
    except Problem as exc:
        if exc.status in (403, 404):
            raise
        if from_case:
            return await pages.refused_review(
                request,
                session,
                principal,
                from_case,
                flag_id,
                exc,
                {"note": note, "outcome": outcome, "back": str(form.get("back") or "")},
            )
        wrong = exc.extensions.get("field")
        field = (
            f"{'outcome' if wrong == 'outcome' else 'note'}-{flag_id}"
            if exc.status == 422
            else "_form"
        )
        return await _flags_page(
            request,
            session,
            principal,
            errors={field: exc.detail},
            failed=flag_id,
            note=note,
            outcome=outcome,
            status_code=exc.status,
        )
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}reviewed=1", status_code=303)


@router.get("/supervision/export.csv")
async def export_table(
    request: Request, session: DbSession, principal: Board, table: str = "department"
) -> Response:
    """A board table (per department, item or month) as CSV for Excel."""
    params = _params(request, FILTER_PARAMS)
    content = await supervision.export_table(session, principal, table[:16], _filter(params))
    return csv_response(content, f"supervision-{table[:16]}.csv")


@router.get("/supervision/cases.csv")
async def export_cases(request: Request, session: DbSession, principal: Board) -> Response:
    """The cases behind a drill-down as CSV for Excel."""
    params = _params(request, FILTER_PARAMS)
    drill = _params(request, DRILL_PARAMS)
    content = await supervision.export_cases(session, principal, _filter(params), _drill(drill))
    return csv_response(content, "supervision-cases.csv")
