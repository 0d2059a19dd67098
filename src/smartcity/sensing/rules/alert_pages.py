"""The staff page of sensor alerts (感知告警): open and acknowledged alerts with their
acknowledge and resolve buttons, recently resolved ones, and the rules that raise them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from smartcity.core.authz import Principal, can
from smartcity.core.errors import Problem
from smartcity.core.i18n import N_
from smartcity.core.models import Department
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing.models import StaDatastream, StaObservedProperty
from smartcity.sensing.rules import alerts
from smartcity.sensing.rules import service as rules
from smartcity.web.pages import require_page
from smartcity.web.render import check_csrf, render

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


async def _names(session: DbSession, table: Any, ids: set[Any]) -> dict[Any, str]:
    if not ids:
        return {}
    rows = await session.execute(select(table.id, table.name).where(table.id.in_(ids)))
    return {i: n for i, n in rows.all()}


async def _page(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    active = await alerts.list_alerts(session, principal, active=True, limit=200)
    resolved = await alerts.list_alerts(session, principal, status=alerts.RESOLVED, limit=20)
    all_rules = await rules.list_rules(session, principal)
    stream_ids = {a.datastream_id for a in [*active, *resolved]} | {
        r.datastream_id for r in all_rules if r.datastream_id is not None
    }
    streams = await _names(session, StaDatastream, stream_ids)
    things = await rules.thing_names(session, stream_ids)
    properties = await _names(
        session,
        StaObservedProperty,
        {r.observed_property_id for r in all_rules if r.observed_property_id is not None},
    )
    departments = await _names(
        session, Department, {r.department_id for r in all_rules if r.department_id is not None}
    )
    return render(
        request,
        "sensing/alerts.html",
        {
            "active": active,
            "resolved": resolved,
            "rules": all_rules,
            "rule_names": {r.id: r.name for r in all_rules},
            "streams": streams,
            "things": things,
            "properties": properties,
            "departments": departments,
            "status_labels": STATUS_LABELS,
            "severity_labels": SEVERITY_LABELS,
            "kind_labels": KIND_LABELS,
            "op_labels": OP_LABELS,
            "may_ack": {a.id for a in active if can(principal, "sensing.alert.acknowledge", a)},
            "may_resolve": {a.id for a in active if can(principal, "sensing.alert.resolve", a)},
            "errors": errors or {},
            "values": values or {},
            "done": request.query_params.get("done", ""),
        },
        status_code=status_code,
        principal=principal,
    )


@router.get("/sensing/alerts")
async def alerts_page(request: Request, session: DbSession, principal: Reader) -> Response:
    return await _page(request, session, principal)


async def _act(
    request: Request, session: DbSession, principal: Principal, alert_id: int, action: str
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    note = form.get("note")
    note_text = note if isinstance(note, str) else ""
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
        return await _page(
            request,
            session,
            principal,
            errors={f"note-{alert_id}": exc.detail},
            values={f"note-{alert_id}": note_text},
            status_code=422 if exc.status == 422 else exc.status,
        )
    return RedirectResponse(f"/sensing/alerts?done={action}#alert-{alert_id}", status_code=303)


@router.post("/sensing/alerts/{alert_id}/acknowledge")
async def acknowledge(
    alert_id: int, request: Request, session: DbSession, principal: Staff
) -> Response:
    return await _act(request, session, principal, alert_id, "acknowledge")


@router.post("/sensing/alerts/{alert_id}/resolve")
async def resolve(
    alert_id: int, request: Request, session: DbSession, principal: Staff
) -> Response:
    return await _act(request, session, principal, alert_id, "resolve")
