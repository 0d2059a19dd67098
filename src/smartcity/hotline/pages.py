"""Pages of the 12345 hotline: the citizen's web report (/hotline/report), the agent's call
intake (/hotline/intake), the dispatcher's queue, the department's desk, the order with its
timeline and steps, and /my/requests. Every form works without JavaScript."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from smartcity.core import people
from smartcity.core.authz import Principal
from smartcity.core.errors import NotFound, Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account
from smartcity.core.ratelimit import client_ip
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.hotline import extension, service, views
from smartcity.hotline.categories import LEAVES, NODES, path_of
from smartcity.hotline.knowledge import service as knowledge
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.routing import pages as routing_pages
from smartcity.hotline.schemas import (
    CloseInput,
    DispatchInput,
    OrderCreate,
    ReasonInput,
    ReplyInput,
    ReportCreate,
    TransferInput,
    VisitInput,
)
from smartcity.hotline.types import KIND_TITLES, KINDS, RATING_TITLES, RATINGS, STEP_TITLES
from smartcity.web.pages import page_principal, require_page
from smartcity.web.render import check_csrf, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Visitor = Annotated[Principal | None, Depends(page_principal)]
Staff = Annotated[Principal, Depends(require_page("staff"))]
Reader = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin", "citizen"))]
Citizen = Annotated[Principal, Depends(require_page("citizen"))]

STEPS = ("dispatch", "sign", "return", "transfer", "reply", "visit", "close")
# Fields a validation error may name, as the form calls them.
_FORM_FIELDS = {"lon": "lon", "lat": "lat", "address": "address"}


CHANNEL_TITLES = {
    "phone": N_("by phone"),
    "web": N_("on the web"),
    "api": N_("through the app"),
    "open311": N_("through an Open311 app"),
}


def _titled(titles: dict[str, str]) -> Any:
    def title(name: str) -> str:
        return _(titles[name]) if name in titles else name

    return title


async def _common(session: DbSession) -> dict[str, Any]:
    """What every hotline page's macros read: titles in the page's language, departments."""
    departments = await service.department_names(session)
    english = views.english()

    def department_label(code: str) -> str:
        names = departments.get(code)
        return (names[1] or names[0]) if names and english else (names[0] if names else code)

    return {
        "english": english,
        "centre": service.centre_code(),
        "kind_titles": {k: _(t) for k, t in KIND_TITLES.items()},
        "state_title": service.state_title,
        "step_title": _titled(STEP_TITLES),
        "rating_title": _titled(RATING_TITLES),
        "department_label": department_label,
    }


def _errors_of_validation(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for entry in exc.errors():
        loc = [str(p) for p in entry["loc"] if not isinstance(p, int)]
        name = _FORM_FIELDS.get(loc[-1], loc[-1]) if loc else "_form"
        if name == "place":
            name = "address"
        errors.setdefault(name, _field_message(name))
    return errors


def _field_message(name: str) -> str:
    messages = {
        "kind": _("Choose what kind of request this is."),
        "category": _("Choose the category that fits best."),
        "text": _("Describe the matter in 1 to 2,000 characters."),
        "address": _("Give the address in at most 200 characters."),
        "lon": _("The point must lie in Shenzhen (longitude 113.70 to 114.70)."),
        "lat": _("The point must lie in Shenzhen (latitude 22.40 to 22.90)."),
        "contact_phone": _("Give a phone number of 5 to 20 digits, or leave it empty."),
        "contact_name": _("Give a name of at most 50 characters."),
        "caller_id_number": _("An ID number has 18 characters; the last may be X."),
        "department": _("Choose a department."),
        "answer": _("Give the answer in at most 2,000 characters."),
        "reason": _("Give the reason in 1 to 500 characters."),
        "reply": _("Write the answer in 1 to 2,000 characters."),
        "rating": _("Choose how satisfied the caller is."),
        "comment": _("Write at most 500 characters."),
        "opinion": _("Write the opinion in 1 to 500 characters."),
    }
    return messages.get(name, _("Check this field."))


def _errors_of_problem(exc: Problem) -> dict[str, str]:
    return {str(exc.extensions.get("field") or "_form"): exc.detail}


def _text(form: FormData, name: str, limit: int = 4000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _number(form: FormData, name: str) -> float | str | None:
    raw = _text(form, name, 40).strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return raw  # the schema refuses it with the field named


def _report_values(form: FormData) -> dict[str, Any]:
    return {
        "kind": _text(form, "kind", 20),
        "category": _text(form, "category", 20),
        "text": _text(form, "text"),
        "place": {
            "address": _text(form, "address", 400),
            "lon": _number(form, "lon"),
            "lat": _number(form, "lat"),
        },
        "contact_name": _text(form, "contact_name", 100),
        "contact_phone": _text(form, "contact_phone", 40).strip() or None,
    }


def _category_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The leaves grouped under their branch (城市管理 › 市容环境), for one select."""
    english = views.english()
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, leaf in LEAVES.items():
        branch = " › ".join((n.name_en if english else n.name) for n in path_of(leaf.parent or ""))
        groups.setdefault(branch, []).append((code, leaf.name_en if english else leaf.name))
    return list(groups.items())


def _form_context(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    flat = dict(values)
    place = flat.pop("place", {}) or {}
    flat.update({k: ("" if v is None else v) for k, v in place.items()})
    return {
        "values": flat,
        "errors": errors,
        "kinds": [(k, _(KIND_TITLES[k])) for k in KINDS],
        "groups": _category_groups(),
        "limits": {k: service.limit_days(k) for k in KINDS},
    }


# --- the citizen's report (网上诉求) ----------------------------------------------------------


@router.get("/hotline/report", dependencies=[Depends(public)])
async def report_form(request: Request, principal: Visitor) -> Response:
    """The web report form: what, which kind and category, where; anonymous if not signed in."""
    return render(request, "hotline/report.html", _form_context({}, {}), principal=principal)


@router.post("/hotline/report", dependencies=[Depends(public)])
async def report_submit(request: Request, session: DbSession, principal: Visitor) -> Response:
    """One submit; what was wrong is marked by its field and everything typed stays."""
    form = await request.form()
    check_csrf(request, form)
    values = _report_values(form)
    citizen = principal if principal is not None and principal.kind == "citizen" else None
    if citizen is None:
        # An anonymous report asks for no one: no name, no phone, no ID number.
        values.pop("contact_name")
        values.pop("contact_phone")
    errors: dict[str, str] = {}
    order: WorkOrder | None = None
    try:
        data = ReportCreate.model_validate(values)
        views.check_report_rate(client_ip(request))
        async with session.begin_nested():
            order = await service.create_order(session, citizen, data, channel="web")
    except ValidationError as exc:
        errors = _errors_of_validation(exc)
    except Problem as exc:
        errors = _errors_of_problem(exc)
    if order is None:
        return render(
            request,
            "hotline/report.html",
            _form_context(values, errors),
            status_code=422 if errors else 400,
            principal=principal,
        )
    if citizen is not None:
        return RedirectResponse(f"/hotline/orders/{order.id}?received=1", status_code=303)
    return render(
        request,
        "hotline/received.html",
        {"order": order, "days": order.limit_days},
        principal=principal,
    )


# --- the agent's desk for calls (来电受理) ----------------------------------------------------


async def _intake_context(
    session: DbSession,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    caller: service.Caller | None = None,
) -> dict[str, Any]:
    earlier: list[WorkOrder] = []
    if caller is not None and caller.person_id is not None:
        earlier, _n = await service.list_orders(
            session, principal, caller_person_id=caller.person_id, limit=10
        )
    departments = await service.department_names(session)
    return {
        **_form_context(values, errors),
        **await _common(session),
        "caller": caller,
        "earlier": [(o, await views.summary(session, o)) for o in earlier],
        "departments": sorted(departments.items()),
        "leaf_departments": {c: n.department for c, n in LEAVES.items()},
        "suggested": await routing_pages.suggestions_for(session, str(values.get("text") or "")),
    }


@router.get("/hotline/intake")
async def intake_form(request: Request, session: DbSession, principal: Staff) -> Response:
    if not await service.in_centre(session, principal):
        raise NotFound(_("This page is for the 12345 centre."))
    return render(
        request,
        "hotline/intake.html",
        await _intake_context(session, principal, {}, {}),
        principal=principal,
    )


@router.post("/hotline/intake")
async def intake_submit(request: Request, session: DbSession, principal: Staff) -> Response:
    """``action=lookup`` finds the caller and their earlier orders; else the call is saved
    (and dispatched at once when a department is chosen)."""
    form = await request.form()
    check_csrf(request, form)
    if not await service.in_centre(session, principal):
        raise NotFound(_("This page is for the 12345 centre."))
    values = _report_values(form)
    values["caller_id_number"] = _text(form, "caller_id_number", 40).strip().upper() or None
    values["anonymous"] = form.get("anonymous") == "1"
    values["department"] = _text(form, "department", 40) or None
    values["answer"] = _text(form, "answer")
    errors: dict[str, str] = {}
    caller: service.Caller | None = None
    if values["caller_id_number"] or values["contact_phone"]:
        try:
            caller = await service.look_up_caller(
                session,
                principal,
                id_number=values["caller_id_number"] or "",
                phone="" if values["caller_id_number"] else values["contact_phone"] or "",
            )
        except Problem as exc:
            errors = _errors_of_problem(exc)
    if form.get("action") == "lookup" or errors:
        if caller is not None and caller.found and not values["contact_name"]:
            values["contact_name"] = caller.name
        return render(
            request,
            "hotline/intake.html",
            await _intake_context(session, principal, values, errors, caller),
            status_code=422 if errors else 200,
            principal=principal,
        )
    order: WorkOrder | None = None
    department = values.get("department")
    try:
        data = OrderCreate.model_validate(values)
        async with session.begin_nested():
            order = await service.create_order(session, principal, data, channel="phone")
            if department and order.state == "accepted":
                await service.dispatch(session, principal, order.id, department)
            # "Use this answer" of the knowledge base panel: the use counts once it closed.
            await knowledge.count_intake_use(session, principal, _text(form, "knowledge_id"), order)
    except ValidationError as exc:
        errors = _errors_of_validation(exc)
    except Problem as exc:
        errors = _errors_of_problem(exc)
    if order is None or errors:
        values["department"] = department
        return render(
            request,
            "hotline/intake.html",
            await _intake_context(session, principal, values, errors, caller),
            status_code=422,
            principal=principal,
        )
    return RedirectResponse(f"/hotline/orders/{order.id}?received=1", status_code=303)


# --- lists ----------------------------------------------------------------------------------


async def _lines(session: DbSession, orders: list[WorkOrder]) -> list[tuple[WorkOrder, Any]]:
    return [(o, await views.summary(session, o)) for o in orders]


@router.get("/hotline/queue")
async def queue(request: Request, session: DbSession, principal: Staff) -> Response:
    """The dispatcher's queue (待派单): new and returned orders, oldest first."""
    if not await service.in_centre(session, principal):
        raise NotFound(_("This page is for the 12345 centre."))
    new, _n = await service.list_orders(session, principal, state="accepted", limit=100)
    returned, _r = await service.list_orders(session, principal, state="returned", limit=100)
    answered, _a = await service.list_orders(session, principal, state="replied", limit=100)
    departments = await service.department_names(session)
    return render(
        request,
        "hotline/queue.html",
        {
            "sections": [
                ("returned", _("Returned by a department"), await _lines(session, returned)),
                ("new", _("Waiting to be dispatched"), await _lines(session, new[::-1])),
                ("answered", _("Answered: call the caller back"), await _lines(session, answered)),
            ],
            "departments": sorted(departments.items()),
            "leaf_departments": {c: n.department for c, n in LEAVES.items()},
            **await _common(session),
            **await extension.queue_context(session, principal),
            **await routing_pages.queue_extras(session, new + returned),
        },
        principal=principal,
    )


@router.get("/hotline/desk")
async def desk(request: Request, session: DbSession, principal: Staff) -> Response:
    """The department's orders (本单位工单): to sign, being handled, being handled again.
    The 12345 centre's own desk is its queue."""
    if await service.in_centre(session, principal):
        return RedirectResponse("/hotline/queue", status_code=303)
    code = await service.department_code_of(session, principal)
    lines = []
    for state in ("dispatched", "handling", "reworking"):
        rows, _n = await service.list_orders(
            session, principal, state=state, department=code, limit=100
        )
        lines.extend(await _lines(session, rows))
    lines.sort(key=lambda line: line[1].deadline.due_date)
    return render(
        request,
        "hotline/desk.html",
        {"lines": lines, **await _common(session)},
        principal=principal,
    )


@router.get("/my/requests")
async def my_requests(request: Request, session: DbSession, principal: Citizen) -> Response:
    """The citizen's own requests (我的诉求) with where each stands and the days left."""
    rows, total = await service.list_orders(session, principal, limit=100)
    return render(
        request,
        "hotline/my_requests.html",
        {"lines": await _lines(session, rows), "total": total, **await _common(session)},
        principal=principal,
    )


# --- one order ------------------------------------------------------------------------------


async def _order_context(
    session: DbSession, principal: Principal, order: WorkOrder, errors: dict[str, str]
) -> dict[str, Any]:
    view = await views.full(session, principal, order)
    holder = await service.department_code_of(session, principal)
    in_centre = await service.in_centre(session, principal)
    own = principal.id is not None and principal.id == order.caller_account_id
    may: set[str] = set()
    if in_centre and order.state in ("accepted", "returned"):
        may.add("dispatch")
    if principal.kind == "staff" and holder == order.department_code and not in_centre:
        if order.state == "dispatched":
            may |= {"sign", "return", "transfer"}
        if order.state == "handling":
            may |= {"reply", "return", "transfer"}
        if order.state == "reworking":
            may.add("reply")
    if order.state == "replied" and (in_centre or own):
        may.add("visit")
    if order.state == "escalated" and principal.is_("supervisor"):
        may.add("close")
    departments = await service.department_names(session)
    leaf = NODES.get(order.category_code)
    # Who took each step by the name people read; the caller's own account as "the caller",
    # so the timeline shows no login and no more of the caller than the order itself does.
    actor_names = await people.display_names(session, {line.actor for line in view.timeline})
    if order.caller_account_id is not None:
        caller = await session.get(Account, order.caller_account_id)
        if caller is not None:
            actor_names[caller.username] = _("the caller")
    return {
        "order": order,
        "view": view,
        "actor_names": actor_names,
        "may": may,
        "errors": errors,
        "own": own,
        "category_path": path_of(order.category_code),
        "english": views.english(),
        "default_department": leaf.department if leaf else None,
        "departments": sorted((c, n) for c, n in departments.items() if c != service.centre_code()),
        "department_names": departments,
        "ratings": [(r, _(RATING_TITLES[r])) for r in RATINGS],
        "kind_title": service.kind_title(order.kind),
        "state_title": service.state_title,
        "channel_title": _(CHANNEL_TITLES.get(order.channel, order.channel)),
        "received": False,
        "done": "",
        **await _common(session),
        **await extension.order_context(session, principal, order),
    }


@router.get("/hotline/orders/{order_id}")
async def order_page(
    request: Request, session: DbSession, principal: Reader, order_id: uuid.UUID
) -> Response:
    order = await service.get_order(session, principal, order_id)
    context = await _order_context(session, principal, order, {})
    context["received"] = request.query_params.get("received") == "1"
    context["done"] = request.query_params.get("done", "")[:20]
    context |= await routing_pages.order_extras(
        session, principal, order, request.query_params.get("refused", "")[:40]
    )
    return render(request, "hotline/order.html", context, principal=principal)


@router.post("/hotline/orders/{order_id}/{step}")
async def order_step(
    request: Request, session: DbSession, principal: Reader, order_id: uuid.UUID, step: str
) -> Response:
    """Each step's form posts here; a refusal is shown by the field it concerns (422)."""
    form = await request.form()
    check_csrf(request, form)
    if step not in STEPS:
        raise NotFound(_("There is no such step."))
    order = await service.get_order(session, principal, order_id)
    errors: dict[str, str] = {}
    try:
        async with session.begin_nested():
            await _take(session, principal, order.id, step, form)
    except ValidationError as exc:
        errors = _errors_of_validation(exc)
    except Problem as exc:
        if exc.status == 404:
            raise
        errors = _errors_of_problem(exc)
    if errors:
        await session.refresh(order)
        context = await _order_context(session, principal, order, errors)
        context |= await routing_pages.order_extras(session, principal, order)
        return render(request, "hotline/order.html", context, status_code=422, principal=principal)
    return RedirectResponse(f"/hotline/orders/{order.id}?done={step}", status_code=303)


async def _take(
    session: DbSession, principal: Principal, order_id: uuid.UUID, step: str, form: FormData
) -> None:
    if step == "dispatch":
        d = DispatchInput.model_validate({"department": _text(form, "department", 40)})
        await service.dispatch(session, principal, order_id, d.department)
    elif step == "sign":
        await service.sign(session, principal, order_id)
    elif step == "return":
        r = ReasonInput.model_validate({"reason": _text(form, "reason", 1000)})
        await service.return_order(session, principal, order_id, r.reason)
    elif step == "transfer":
        t = TransferInput.model_validate(
            {"department": _text(form, "department", 40), "reason": _text(form, "reason", 1000)}
        )
        await service.transfer_order(session, principal, order_id, t.department, t.reason)
    elif step == "reply":
        p = ReplyInput.model_validate({"reply": _text(form, "reply")})
        await service.reply(session, principal, order_id, p.reply)
    elif step == "visit":
        v = VisitInput.model_validate(
            {"rating": _text(form, "rating", 30), "comment": _text(form, "comment", 1000)}
        )
        await service.visit(session, principal, order_id, v.rating, v.comment)
    else:
        c = CloseInput.model_validate({"opinion": _text(form, "opinion", 1000)})
        await service.close_escalated(session, principal, order_id, c.opinion)


# The insight (热点分析与考核): /hotline/insight and its KPI pages.
from smartcity.hotline.insight import pages as _insight_pages  # noqa: E402

_insight_pages.add_routes(router)
# 延期: the holder's request and the centre's decision (hotline/extension.py).
router.include_router(extension.page_router)
# Routing's pages (suggestions, one-click dispatch, merges) on the hotline's router.
router.routes.extend(routing_pages.router.routes)
