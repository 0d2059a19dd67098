"""Pages of the hotline's routing: the intake page's suggestions as the agent types (a small
JSON answer for the page's script), the queue's one-click dispatch to a suggestion, and the
order page's duplicate proposals (合并 / 不是重复). Every form works without JavaScript."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput, NotFound, Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.hotline import service, views
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.routing import classify, duplicates
from smartcity.hotline.routing import service as routing
from smartcity.hotline.routing.models import DuplicateProposal
from smartcity.hotline.schemas import DEPARTMENT_PATTERN
from smartcity.settings import get_settings
from smartcity.web.pages import require_page
from smartcity.web.render import check_csrf

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Staff = Annotated[Principal, Depends(require_page("staff"))]


def _suggestion_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    english = views.english()
    return [
        {
            "category": s["category"],
            "category_name": service.category_name(str(s["category"]), english),
            "department": s["department"],
            "confidence": float(s["confidence"]),
            "percent": round(100 * float(s["confidence"])),
        }
        for s in items
    ]


async def suggestions_for(session: DbSession, text: str) -> list[dict[str, Any]]:
    """The top three for a text typed at intake (none when empty or no model)."""
    clean = text.strip()[: classify.TEXT_MAX]
    if not clean:
        return []
    found = await routing.suggest_text(session, clean)
    return _suggestion_rows([s.as_dict() for s in found.items])


@router.get("/hotline/intake/suggestions.json")
async def intake_suggest(
    request: Request,
    session: DbSession,
    principal: Staff,
    text: Annotated[str, Query(max_length=classify.TEXT_MAX)] = "",
) -> Response:
    """Suggestions for the intake page's script: the top three with their confidences."""
    if not await service.in_centre(session, principal):
        raise NotFound(_("This page is for the 12345 centre."))
    names = await service.department_names(session)
    english = views.english()
    rows = await suggestions_for(session, text)
    for row in rows:
        pair = names.get(str(row["department"]))
        row["department_name"] = (
            (pair[1] or pair[0]) if pair and english else (pair[0] if pair else row["department"])
        )
    return JSONResponse(
        {"suggestions": rows, "threshold": get_settings().hotline_auto_dispatch},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/hotline/queue/{order_id}/dispatch")
async def queue_dispatch(
    request: Request,
    session: DbSession,
    order_id: uuid.UUID,
    principal: Staff,
) -> Response:
    """One click on a suggestion in the queue: dispatched there, recorded as manual."""
    form = await request.form()
    check_csrf(request, form)
    department = form.get("department")
    if not isinstance(department, str) or not re.fullmatch(DEPARTMENT_PATTERN, department):
        raise InvalidInput(_("Choose a department."), field="department")
    try:
        async with session.begin_nested():
            await routing.dispatch_suggested(session, principal, order_id, department)
    except Problem as exc:
        if exc.status == 404:
            raise
        return RedirectResponse(f"/hotline/orders/{order_id}?refused={exc.slug}", status_code=303)
    return RedirectResponse(f"/hotline/orders/{order_id}?done=dispatch", status_code=303)


async def _proposal(session: DbSession, proposal_id: uuid.UUID) -> DuplicateProposal:
    found = await session.get(DuplicateProposal, proposal_id)
    if found is None:
        raise NotFound(_("There is no such duplicate proposal."))
    return found


@router.post("/hotline/duplicates/{proposal_id}/{decision}")
async def decide_duplicate(
    request: Request,
    session: DbSession,
    proposal_id: uuid.UUID,
    decision: str,
    principal: Staff,
) -> Response:
    """合并 (merge) or 不是重复 (reject) a proposal from the order page."""
    form = await request.form()
    check_csrf(request, form)
    if decision not in ("merge", "reject"):
        raise NotFound(_("There is no such step."))
    proposal = await _proposal(session, proposal_id)
    await service.get_order(session, principal, proposal.order_id)
    try:
        async with session.begin_nested():
            if decision == "merge":
                await duplicates.merge(session, principal, proposal.order_id, proposal.parent_id)
            else:
                await duplicates.reject(session, principal, proposal.id)
    except Problem as exc:
        if exc.status == 404:
            raise
        return RedirectResponse(
            f"/hotline/orders/{proposal.order_id}?refused={exc.slug}", status_code=303
        )
    return RedirectResponse(
        f"/hotline/orders/{proposal.order_id}?done={'merged' if decision == 'merge' else 'kept'}",
        status_code=303,
    )


# --- what the hotline's own pages add to their context ---------------------------------


async def queue_extras(session: DbSession, orders: list[WorkOrder]) -> dict[str, Any]:
    """For the queue: each order's top three and whether it may repeat an open order."""
    ids = [o.id for o in orders]
    routings = await routing.routings_of(session, ids)
    suggestions = {oid: _suggestion_rows(r.suggestions) for oid, r in routings.items()}
    dupes: dict[uuid.UUID, int] = {}
    for oid in ids:
        pending = [p for p in await duplicates.proposals_of(session, oid) if p.state == "proposed"]
        if pending:
            dupes[oid] = len(pending)
    return {"routing_suggestions": suggestions, "routing_duplicates": dupes}


# Why a merge was refused, by the problem's slug (the page is redirected with it).
REFUSALS: dict[str, str] = {
    "merge-into-itself": N_("An order cannot be merged into itself."),
    "merge-into-closed": N_("The other order is closed: dispatch this one instead."),
    "merge-into-merged": N_("The other order is itself merged into another order."),
    "merge-other-department": N_(
        "The other order is handled by another department: dispatch this one instead."
    ),
    "wrong-state": N_("Only an order still awaiting dispatch is merged."),
    "already-decided": N_("This proposal is already decided."),
    "forbidden": N_("Only the 12345 centre dispatches and merges its orders."),
    "unknown-department": N_("There is no such department."),
}


async def order_extras(
    session: DbSession, principal: Principal, order: WorkOrder, refused: str = ""
) -> dict[str, Any]:
    """For the order page: routing's decision, duplicate proposals, merged orders."""
    found = await routing.routing_of(session, order.id)
    proposals = []
    for p in await duplicates.proposals_of(session, order.id):
        parent = await session.get(WorkOrder, p.parent_id)
        if parent is not None:
            proposals.append((p, parent))
    in_centre = await service.in_centre(session, principal)
    return {
        "routing": found,
        "routing_rows": _suggestion_rows(found.suggestions) if found is not None else [],
        "proposals": proposals,
        "may_merge": in_centre and order.state == "accepted",
        "merged_children": await duplicates.merged_into(session, order.id),
        "merged_parent": await duplicates.parent_of(session, order.id),
        "refused": _(REFUSALS[refused]) if refused in REFUSALS else "",
    }
