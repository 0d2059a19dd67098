"""The staff pages of sensor alerts (感知告警): the list, one row per alert (a flapping
reading folds into one, its raises counted), filtered by state, newest raise first, paginated;
and a page per alert with the datastream's readings around it, the threshold drawn, the rule
in words, the history, and the acknowledge and resolve forms (CSRF, no JavaScript needed)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from smartcity.core import clock, i18n
from smartcity.core.authz import Principal, can
from smartcity.core.errors import Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.limits import RowId
from smartcity.core.models import Department
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing.models import StaDatastream, StaObservation
from smartcity.sensing.rules import alerts, words
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.models import SensingAlert, SensingAlertEvent, SensingRule
from smartcity.web.pages import require_page
from smartcity.web.render import check_csrf, data_name, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Reader = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin"))]
Staff = Annotated[Principal, Depends(require_page("staff", "admin"))]

STATUS_LABELS = {
    alerts.OPEN: N_("alert open"),
    alerts.ACKNOWLEDGED: N_("alert acknowledged"),
    alerts.RESOLVED: N_("alert resolved"),
}
SEVERITY_LABELS = {"info": N_("info"), "warning": N_("warning"), "critical": N_("critical")}
KIND_LABELS = {
    rules.THRESHOLD: N_("threshold"),
    rules.RATE: N_("rate of change"),
    rules.SILENCE: N_("no data"),
    rules.N_OF_M: N_("N of M"),
}
OP_LABELS = {rules.ABOVE: N_("above"), rules.BELOW: N_("below")}
EVENT_LABELS = {
    alerts.RAISED: N_("Raised by the rule"),
    alerts.REOPENED: N_("Raised again"),
    alerts.AUTO_RESOLVED: N_("Cleared by itself"),
    alerts.EV_ACKNOWLEDGED: N_("Acknowledged"),
    alerts.EV_RESOLVED: N_("Resolved by staff"),
}
# The list's state filter: "" is every alert.
ACTIVE = "active"
STATE_FILTERS = {
    "": N_("All"),
    ACTIVE: N_("Not yet resolved"),
    alerts.OPEN: N_("Awaiting acknowledgement"),
    alerts.ACKNOWLEDGED: N_("Acknowledged"),
    alerts.RESOLVED: N_("Resolved alerts"),
}
PAGE_SIZE = 25
MAX_PAGE = 10_000
# The alert page's chart: readings from this long before the first raise to this long after
# the clearing (or now), at most CHART_SPAN in all and CHART_POINTS points.
CHART_BEFORE = timedelta(hours=1)
CHART_AFTER = timedelta(hours=1)
CHART_SPAN = timedelta(days=7)
CHART_POINTS = 1500
CHART_FETCH = 6000


async def _names(session: DbSession, table: Any, ids: set[Any]) -> dict[Any, str]:
    if not ids:
        return {}
    rows = await session.execute(select(table.id, table.name).where(table.id.in_(ids)))
    return {i: n for i, n in rows.all()}


def _link(params: dict[str, Any]) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "", 1)})
    return f"/sensing/alerts?{query}" if query else "/sensing/alerts"


def _page_number(text: str) -> int | None:
    if not text:
        return 1
    if text.isdigit() and len(text) <= 6 and 1 <= int(text) <= MAX_PAGE:
        return int(text)
    return None


async def _rules_of(session: DbSession, found: list[SensingAlert]) -> dict[int, SensingRule]:
    ids = {a.rule_id for a in found}
    if not ids:
        return {}
    rows = await session.scalars(select(SensingRule).where(SensingRule.id.in_(ids)))
    return {r.id: r for r in rows}


async def _alert_words(
    session: DbSession, found: list[SensingAlert], by_rule: dict[int, SensingRule]
) -> dict[int, str]:
    """Each alert's rule in words, with its own datastream's unit, by alert id."""
    out: dict[int, str] = {}
    cache: dict[tuple[int, int], str] = {}
    for alert in found:
        rule = by_rule.get(alert.rule_id)
        if rule is None:
            continue
        key = (rule.id, alert.datastream_id)
        if key not in cache:
            said = await words.rules_in_words(
                session, [rule], datastream_id=alert.datastream_id, mark=data_name
            )
            cache[key] = said[rule.id]
        out[alert.id] = cache[key]
    return out


@router.get("/sensing/alerts")
async def alerts_page(request: Request, session: DbSession, principal: Reader) -> Response:
    query = request.query_params
    state = query.get("state", "")[:20]
    errors: dict[str, str] = {}
    if state not in STATE_FILTERS:
        errors["state"] = _("Choose one of the states listed.")
        state = ""
    page = _page_number(query.get("page", "")[:10])
    if page is None:
        errors["page"] = _("There is no such page.")
        page = 1
    filters: dict[str, Any] = {}
    if state == ACTIVE:
        filters["active"] = True
    elif state:
        filters["status"] = state
    total = await alerts.count_alerts(session, principal, **filters)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page, pages)
    found = await alerts.list_alerts(
        session, principal, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters
    )
    by_rule = await _rules_of(session, found)
    return render(
        request,
        "sensing/alerts.html",
        {
            "alerts": found,
            "total": total,
            "counts": await alerts.counts_by_status(session, principal),
            "rule_names": {r.id: r.name for r in by_rule.values()},
            "in_words": await _alert_words(session, found, by_rule),
            "streams": await rules.stream_labels(session, {a.datastream_id for a in found}),
            "state": state,
            "state_filters": STATE_FILTERS,
            "state_link": lambda s: _link({"state": s}),
            "page": page,
            "pages": pages,
            "prev_link": _link({"state": state, "page": page - 1}) if page > 1 else "",
            "next_link": _link({"state": state, "page": page + 1}) if page < pages else "",
            "status_labels": STATUS_LABELS,
            "severity_labels": SEVERITY_LABELS,
            "errors": errors,
            "tab": "alerts",
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


# --- one alert ---------------------------------------------------------------------------------


def _chart_window(
    alert: SensingAlert, history: list[SensingAlertEvent]
) -> tuple[datetime, datetime]:
    first = next((e.reading_time for e in history if e.reading_time is not None), None)
    start = (first or alert.opened_at) - CHART_BEFORE
    if alert.status == alerts.RESOLVED:
        end = alert.last_time + CHART_AFTER
    else:
        end = max(alert.last_time, clock.now())
    if end - start > CHART_SPAN:
        end = start + CHART_SPAN
    return start, end


async def _readings(
    session: DbSession, stream_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """The stream's numeric readings in the window, thinned evenly to CHART_POINTS."""
    rows = (
        await session.execute(
            select(StaObservation.phenomenon_time_start, StaObservation.result_number)
            .where(
                StaObservation.datastream_id == stream_id,
                StaObservation.phenomenon_time_start >= start,
                StaObservation.phenomenon_time_start <= end,
                StaObservation.result_number.is_not(None),
            )
            .order_by(StaObservation.phenomenon_time_start, StaObservation.id)
            .limit(CHART_FETCH)
        )
    ).all()
    step = max(1, math.ceil(len(rows) / CHART_POINTS))
    return [(t, float(v)) for t, v in rows[::step] if v is not None]


def _lines(rule: SensingRule | None, unit: str) -> list[dict[str, Any]]:
    """The horizontal lines to draw: the threshold and where the alert clears."""
    if rule is None or rule.kind not in (rules.THRESHOLD, rules.N_OF_M):
        return []
    p = rule.params
    limit = float(p["value"])
    found = [{"y": limit, "label": _("Threshold %(value)s") % {"value": words.number(limit, unit)}}]
    hysteresis = float(p.get("hysteresis") or 0)
    if hysteresis:
        back = limit - hysteresis if p["op"] == rules.ABOVE else limit + hysteresis
        found.append(
            {"y": back, "label": _("Clears at %(value)s") % {"value": words.number(back, unit)}}
        )
    return found


async def _alert_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    alert_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    alert = await alerts.get_alert(session, principal, alert_id)
    rule = await session.get(SensingRule, alert.rule_id)
    stream = await session.get(StaDatastream, alert.datastream_id)
    history = await alerts.history(session, alert)
    unit = words.unit_symbol(stream.unit_of_measurement) if stream else ""
    start, end = _chart_window(alert, history)
    readings = await _readings(session, alert.datastream_id, start, end)
    in_words = ""
    if rule is not None:
        in_words = (
            await words.rules_in_words(
                session, [rule], datastream_id=alert.datastream_id, mark=data_name
            )
        )[rule.id]
    department = await session.get(Department, alert.department_id) if alert.department_id else None
    lines = _lines(rule, unit)
    marks = [
        {"x": f"{clock.to_city(e.reading_time):%Y-%m-%d %H:%M:%S}", "kind": e.kind}
        for e in history
        if e.reading_time is not None and start <= e.reading_time <= end
    ]
    chart = {
        "x": [f"{clock.to_city(t):%Y-%m-%d %H:%M:%S}" for t, _v in readings],
        "y": [v for _t, v in readings],
        "lines": lines,
        "marks": marks,
        "zh": i18n.current_locale.get().startswith("zh"),
        "labels": {
            "value": _("Reading"),
            "unit": unit,
        },
    }
    values_ = [v for _t, v in readings]
    return render(
        request,
        "sensing/alert.html",
        {
            "alert": alert,
            "rule": rule,
            "stream": stream,
            "stream_label": (await rules.stream_labels(session, {alert.datastream_id})).get(
                alert.datastream_id, str(alert.datastream_id)
            ),
            "department": department,
            "history": history,
            "in_words": in_words,
            # The platform's own notes are shown in the reader's language, not as stored.
            "clearing": words.clearing_words(rule) if rule is not None else "",
            "unit": unit,
            "chart": chart,
            "window": (start, end),
            "reading_count": len(readings),
            "highest": max(values_) if values_ else None,
            "lowest": min(values_) if values_ else None,
            "number": words.number,
            "may_ack": alert.status == alerts.OPEN
            and can(principal, "sensing.alert.acknowledge", alert),
            "may_resolve": alert.status != alerts.RESOLVED
            and can(principal, "sensing.alert.resolve", alert),
            "is_staff": principal.is_("staff", "admin"),
            "status_labels": STATUS_LABELS,
            "severity_labels": SEVERITY_LABELS,
            "kind_labels": KIND_LABELS,
            "event_labels": EVENT_LABELS,
            "note_max": alerts.NOTE_MAX,
            "errors": errors or {},
            "values": values or {},
            "done": request.query_params.get("done", "")[:20],
            "tab": "alerts",
        },
        status_code=status_code,
        principal=principal,
    )


@router.get("/sensing/alerts/{alert_id}")
async def alert_page(
    alert_id: RowId, request: Request, session: DbSession, principal: Reader
) -> Response:
    return await _alert_page(request, session, principal, alert_id)


async def _act(
    request: Request, session: DbSession, principal: Principal, alert_id: int, action: str
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    note = form.get("note")
    # Bounded before anything else: the service then says "too long" for what is kept.
    note_text = note[: alerts.NOTE_MAX * 4] if isinstance(note, str) else ""
    field = f"{action}-note"
    try:
        # A savepoint: a refused step leaves nothing half-done in the request's transaction.
        async with session.begin_nested():
            if action == "acknowledge":
                await alerts.acknowledge(session, principal, alert_id, note_text)
            else:
                await alerts.resolve(session, principal, alert_id, note_text)
    except Problem as exc:
        if exc.status in (403, 404):
            raise
        # A wrong state (409) is the alert's, not the note's: said above the page's facts.
        return await _alert_page(
            request,
            session,
            principal,
            alert_id,
            errors={"state" if exc.status == 409 else field: exc.detail},
            values={field: note_text[: alerts.NOTE_MAX * 2]},
            status_code=exc.status if exc.status in (409, 422) else 422,
        )
    return RedirectResponse(f"/sensing/alerts/{alert_id}?done={action}", status_code=303)


@router.post("/sensing/alerts/{alert_id}/acknowledge")
async def acknowledge(
    alert_id: RowId, request: Request, session: DbSession, principal: Staff
) -> Response:
    return await _act(request, session, principal, alert_id, "acknowledge")


@router.post("/sensing/alerts/{alert_id}/resolve")
async def resolve(
    alert_id: RowId, request: Request, session: DbSession, principal: Staff
) -> Response:
    return await _act(request, session, principal, alert_id, "resolve")
