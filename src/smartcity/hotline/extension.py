"""延期 of a work order's limit: the handling department asks for 1 to 10 more working days with
a reason (one request pending at a time, 10 days in all per order); the 12345 centre approves
(the case engine's ``extend_limit`` moves the clocks and the caller is told the new due date)
or rejects it with a note.

The file holds the requests' input and output, the business, the API routes and the pages'
routes and context; ``api.py`` and ``pages.py`` mount the routers and ``order.html`` and
``queue.html`` include the partials ``_extensions.html`` and ``_extensions_queue.html``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from smartcity.cases import contract as cases
from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.notifications import Text, notify
from smartcity.core.security import require_principal
from smartcity.core.text import FreeText
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.hotline import service
from smartcity.hotline.models import OrderExtension, WorkOrder
from smartcity.hotline.types import MAX_EXTENSION_DAYS
from smartcity.settings import get_settings
from smartcity.web.pages import require_page
from smartcity.web.render import check_csrf, render

ACTIONS: dict[str, frozenset[str]] = {
    "hotline.extension.request": frozenset({"staff"}),
    "hotline.extension.decide": frozenset({"staff"}),
}
REASON_MAX = cases.EXTENSION_REASON_MAX
NOTE_MAX = 500
# The states in which the handling department holds the order: 签收, 办理, 重办.
EXTENDABLE_STATES = ("dispatched", "handling", "reworking")
STATE_TITLES = {
    "pending": N_("Waiting for the 12345 centre"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
}


def max_days() -> int:
    """The most working days an order's extensions may add in all (settings, at most the
    case type's maximum)."""
    return min(get_settings().hotline_max_extension_days, MAX_EXTENSION_DAYS)


# --- input and output ----------------------------------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExtensionCreate(_Input):
    """延期申请: how many more working days and why."""

    days: Annotated[int, Field(strict=True, ge=1, le=MAX_EXTENSION_DAYS)]
    reason: Annotated[FreeText, Field(min_length=1, max_length=REASON_MAX)]


class ExtensionDecision(_Input):
    """The 12345 centre's decision; a rejection says why in the note."""

    decision: Literal["approve", "reject"]
    note: Annotated[FreeText, Field(max_length=NOTE_MAX)] = ""


class ExtensionRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    days: int
    reason: str
    department: str
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str
    decided_at: datetime | None
    note: str


def read(ext: OrderExtension) -> ExtensionRead:
    return ExtensionRead(
        id=ext.id,
        order_id=ext.order_id,
        days=ext.days,
        reason=ext.reason,
        department=ext.department_code,
        state=ext.state,
        requested_by=ext.requested_by,
        requested_at=ext.requested_at,
        decided_by=ext.decided_by,
        decided_at=ext.decided_at,
        note=ext.note,
    )


# --- the business -------------------------------------------------------------------------


async def extensions_of(session: AsyncSession, order: WorkOrder) -> list[OrderExtension]:
    rows = await session.execute(
        select(OrderExtension)
        .where(OrderExtension.order_id == order.id)
        .order_by(OrderExtension.requested_at, OrderExtension.id)
    )
    return list(rows.scalars())


async def approved_days(session: AsyncSession, order_id: uuid.UUID) -> int:
    total = await session.execute(
        select(func.coalesce(func.sum(OrderExtension.days), 0)).where(
            OrderExtension.order_id == order_id, OrderExtension.state == "approved"
        )
    )
    return int(total.scalar_one())


async def request_extension(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, days: int, reason: str
) -> OrderExtension:
    """延期申请 by the department holding the order while it signs, handles or re-handles it.

    404 unreadable; 403 not the holder; 409 in another state (``wrong-state``), with a request
    already pending (``extension-pending``) or past the order's days in all
    (``extension-over-maximum``); 422 days outside 1 to the maximum (``extension-days``)."""
    order = await service.get_order(session, principal, order_id)
    authorize(principal, "hotline.extension.request")
    if await service.in_centre(session, principal):
        raise Forbidden(_("The handling department asks for an extension; the centre decides."))
    if await service.department_code_of(session, principal) != order.department_code:
        raise Forbidden(_("Your department does not hold this order now."))
    if order.state not in EXTENDABLE_STATES:
        raise Conflict(
            _("An extension is asked for while the order is being handled."),
            state=order.state,
            slug="wrong-state",
        )
    most = max_days()
    if isinstance(days, bool) or not 1 <= days <= most:
        raise InvalidInput(
            _("An extension is 1 to %(max)s working days.") % {"max": most},
            field="days",
            slug="extension-days",
        )
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(
            _("A reason of 1 to %(max)s characters is needed.") % {"max": REASON_MAX},
            field="reason",
        )
    pending = await session.execute(
        select(OrderExtension.id).where(
            OrderExtension.order_id == order.id, OrderExtension.state == "pending"
        )
    )
    if pending.first() is not None:
        raise Conflict(
            _("An extension of this order is already waiting for the 12345 centre."),
            slug="extension-pending",
        )
    left = most - await approved_days(session, order.id)
    if days > left:
        raise Conflict(
            _("This order's extensions may add %(max)s working days in all; %(left)s are left.")
            % {"max": most, "left": left},
            field="days",
            slug="extension-over-maximum",
            left=left,
        )
    ext = OrderExtension(
        id=uuid.uuid4(),
        order_id=order.id,
        days=days,
        reason=reason,
        department_code=order.department_code,
        requested_by=principal.name[:100],
        requested_at=clock.now(),
        state="pending",
        decided_by="",
        note="",
    )
    try:
        async with session.begin_nested():
            session.add(ext)
            await session.flush()
    except IntegrityError:
        # Two requests at once: the unique index on pending requests lets one through.
        raise Conflict(
            _("An extension of this order is already waiting for the 12345 centre."),
            slug="extension-pending",
        ) from None
    return ext


async def decide_extension(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    extension_id: uuid.UUID,
    decision: str,
    note: str = "",
) -> OrderExtension:
    """The 12345 centre approves (the case's limits move, the order's limit with them, the
    caller is told the new due date) or rejects with a note.

    404 unreadable order or request; 403 not the centre; 409 already decided
    (``extension-decided``) or when the case refuses (closed, past the maximum); 422 a
    rejection without a note."""
    order = await service.get_order(session, principal, order_id)
    authorize(principal, "hotline.extension.decide")
    if not await service.in_centre(session, principal):
        raise Forbidden(_("The 12345 centre decides on extensions."))
    ext = await session.get(OrderExtension, extension_id)
    if ext is None or ext.order_id != order.id:
        raise NotFound(_("There is no such extension request."))
    if ext.state != "pending":
        raise Conflict(_("This request has been decided."), slug="extension-decided")
    if decision not in ("approve", "reject"):
        raise InvalidInput(_("Approve or reject the request."), field="decision")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(_("Write at most %(max)s characters.") % {"max": NOTE_MAX}, field="note")
    if decision == "reject" and not note:
        raise InvalidInput(_("Say why the extension is rejected."), field="note")
    ext.decided_by = principal.name[:100]
    ext.decided_at = clock.now()
    ext.note = note
    if decision == "reject":
        ext.state = "rejected"
        await session.flush()
        return ext
    # The hotline acts on the case for the centre (it holds no case of its own here), as it
    # does for the handovers; the engine checks the case type's maximum and a closed case.
    case_ = await cases.extend_limit(session, service.HOTLINE, order.case_id, ext.days, ext.reason)
    ext.state = "approved"
    order.limit_days += ext.days
    await session.flush()
    if order.caller_account_id is not None:
        deadline = await service.deadline_of(session, order)
        await notify(
            session,
            order.caller_account_id,
            topic="hotline.order.extended",
            title=Text(
                N_("Your request %(number)s: more time to handle it"), {"number": case_.number}
            ),
            body=Text(
                N_(
                    "The department needs %(days)s more working days. Your request will be "
                    "answered by %(day)s."
                ),
                {"days": ext.days, "day": deadline.due_date},
            ),
            link=f"/hotline/orders/{order.id}",
        )
    return ext


async def pending_extensions(
    session: AsyncSession, principal: Principal, limit: int = 100
) -> tuple[list[tuple[OrderExtension, WorkOrder]], int]:
    """The requests waiting for the 12345 centre, oldest first, and how many wait."""
    if not await service.in_centre(session, principal):
        return [], 0
    waiting = (OrderExtension.state == "pending",)
    total = await session.execute(select(func.count(OrderExtension.id)).where(*waiting))
    rows = await session.execute(
        select(OrderExtension, WorkOrder)
        .join(WorkOrder, WorkOrder.id == OrderExtension.order_id)
        .where(*waiting)
        .order_by(OrderExtension.requested_at, OrderExtension.id)
        .limit(limit)
    )
    return [(e, o) for e, o in rows.all()], int(total.scalar_one())


# --- API -----------------------------------------------------------------------------------

api_router = APIRouter(prefix="/api/v1/hotline", route_class=UnitOfWorkRoute, tags=["hotline"])
Staff = Annotated[Principal, Depends(require_principal("staff"))]
Reader = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin"))]


@api_router.get("/orders/{order_id}/extensions", response_model=list[ExtensionRead])
async def list_extensions_api(
    session: DbSession, principal: Reader, order_id: uuid.UUID
) -> list[ExtensionRead]:
    """The order's requests for 延期, oldest first, with their decisions."""
    order = await service.get_order(session, principal, order_id)
    return [read(e) for e in await extensions_of(session, order)]


@api_router.post("/orders/{order_id}/extensions", response_model=ExtensionRead, status_code=201)
async def request_extension_api(
    session: DbSession, principal: Staff, order_id: uuid.UUID, data: ExtensionCreate
) -> ExtensionRead:
    """延期申请 by the department holding the order (1 to 10 working days, with the reason)."""
    ext = await request_extension(session, principal, order_id, data.days, data.reason)
    return read(ext)


@api_router.post(
    "/orders/{order_id}/extensions/{extension_id}/decision", response_model=ExtensionRead
)
async def decide_extension_api(
    session: DbSession,
    principal: Staff,
    order_id: uuid.UUID,
    extension_id: uuid.UUID,
    data: ExtensionDecision,
) -> ExtensionRead:
    """The 12345 centre approves or rejects (with a note) a pending request."""
    ext = await decide_extension(
        session, principal, order_id, extension_id, data.decision, data.note
    )
    return read(ext)


# --- pages ---------------------------------------------------------------------------------

page_router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
PageStaff = Annotated[Principal, Depends(require_page("staff"))]


async def order_context(
    session: AsyncSession, principal: Principal, order: WorkOrder
) -> dict[str, Any]:
    """What ``_extensions.html`` reads on the order page: the requests, whether the caller
    may ask for one (the holder) or decide the pending one (the centre), the days left."""
    extensions = (
        await extensions_of(session, order)
        if principal.kind in ("staff", "supervisor", "admin")
        else []
    )
    pending = next((e for e in extensions if e.state == "pending"), None)
    in_centre = await service.in_centre(session, principal)
    holder = (
        principal.kind == "staff"
        and not in_centre
        and await service.department_code_of(session, principal) == order.department_code
    )
    left = max_days() - sum(e.days for e in extensions if e.state == "approved")
    return {
        "extensions": extensions,
        "extension_titles": {k: _(v) for k, v in STATE_TITLES.items()},
        "may_extend": holder and order.state in EXTENDABLE_STATES and pending is None and left > 0,
        "pending_extension": pending if in_centre and order.closed_at is None else None,
        "extension_left": left,
        "extension_max": max_days(),
    }


async def queue_context(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """What ``_extensions_queue.html`` reads on the centre's queue: the pending requests."""
    rows, total = await pending_extensions(session, principal)
    return {"pending_extensions": rows, "pending_extension_count": total}


def _form_errors(exc: ValidationError) -> dict[str, str]:
    messages = {
        "days": _("Give a whole number of working days from 1 to %(max)s.") % {"max": max_days()},
        "reason": _("Give the reason in 1 to 500 characters."),
        "decision": _("Approve or reject the request."),
        "note": _("Write at most 500 characters."),
    }
    errors: dict[str, str] = {}
    for entry in exc.errors():
        name = str(entry["loc"][-1]) if entry["loc"] else "_form"
        errors.setdefault(name, messages.get(name, _("Check this field.")))
    return errors


async def _show_errors(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    order: WorkOrder,
    errors: dict[str, str],
) -> Response:
    # The order page itself, with the field marked (pages.py builds its context).
    from smartcity.hotline import pages

    await session.refresh(order)
    context = await pages._order_context(session, principal, order, errors)
    return render(request, "hotline/order.html", context, status_code=422, principal=principal)


def _days_value(raw: Any) -> int | str:
    text = raw.strip() if isinstance(raw, str) else ""
    return int(text) if text.isdigit() and len(text) <= 3 else text[:10]


@page_router.post("/hotline/orders/{order_id}/extensions/request")
async def request_extension_page(
    request: Request, session: DbSession, principal: PageStaff, order_id: uuid.UUID
) -> Response:
    """The holder's form on the order page; a refusal marks its field (422)."""
    form = await request.form()
    check_csrf(request, form)
    order = await service.get_order(session, principal, order_id)
    reason = form.get("reason")
    errors: dict[str, str] = {}
    try:
        data = ExtensionCreate.model_validate(
            {
                "days": _days_value(form.get("days")),
                "reason": reason[:1000] if isinstance(reason, str) else "",
            }
        )
        async with session.begin_nested():
            await request_extension(session, principal, order.id, data.days, data.reason)
    except ValidationError as exc:
        errors = _form_errors(exc)
    except Problem as exc:
        if exc.status == 404:
            raise
        errors = {str(exc.extensions.get("field") or "_form"): exc.detail}
    if errors:
        # The order page's return form has a field "reason" too: this one is "ext-reason".
        if "reason" in errors:
            errors["ext-reason"] = errors.pop("reason")
        return await _show_errors(request, session, principal, order, errors)
    return RedirectResponse(f"/hotline/orders/{order.id}?done=extension", status_code=303)


@page_router.post("/hotline/orders/{order_id}/extensions/{extension_id}/decision")
async def decide_extension_page(
    request: Request,
    session: DbSession,
    principal: PageStaff,
    order_id: uuid.UUID,
    extension_id: uuid.UUID,
) -> Response:
    """The centre's approve or reject on the order page; back to the queue when done."""
    form = await request.form()
    check_csrf(request, form)
    order = await service.get_order(session, principal, order_id)
    note = form.get("note")
    errors: dict[str, str] = {}
    try:
        data = ExtensionDecision.model_validate(
            {
                "decision": str(form.get("decision") or "")[:20],
                "note": note[:1000] if isinstance(note, str) else "",
            }
        )
        async with session.begin_nested():
            await decide_extension(
                session, principal, order.id, extension_id, data.decision, data.note
            )
    except ValidationError as exc:
        errors = _form_errors(exc)
    except Problem as exc:
        if exc.status == 404:
            raise
        errors = {str(exc.extensions.get("field") or "_form"): exc.detail}
    if errors:
        return await _show_errors(request, session, principal, order, errors)
    return RedirectResponse(f"/hotline/orders/{order.id}?done=extension_decided", status_code=303)
