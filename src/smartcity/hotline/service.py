"""The work order's business (工单办理): intake by phone or on the web, 派单, 签收, 退单, 转办,
答复, 回访 with 重办 and 督办, 直接办结; the orders a principal may read, masked for them.

Every step is a transition of the order's case (the engine checks state and who may take it);
the hotline checks its own rules first (who belongs to the 12345 centre, the return window,
the re-handling count) and hands the case to the department that acts next."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry import Point
from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.core import clock, people
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.geo import to_geometry
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.notifications import notify
from smartcity.core.workdays import load_calendar
from smartcity.hotline.categories import LEAVES, NODES
from smartcity.hotline.models import OrderVisit, WorkOrder
from smartcity.hotline.routing import service as routing
from smartcity.hotline.schemas import OrderCreate, ReportCreate
from smartcity.hotline.types import (
    KIND_TITLES,
    MAX_REWORKS,
    ONLINE_STEPS,
    ORDER_TYPE,
    RETURN_WITHIN_DAYS,
    STATE_TITLES,
)
from smartcity.registry import contract as registry
from smartcity.settings import get_settings

ACTIONS: dict[str, frozenset[str]] = {
    "hotline.order.intake": frozenset({"staff"}),
    "hotline.order.report": frozenset({"citizen"}),
    "hotline.caller.lookup": frozenset({"staff"}),
    "hotline.order.dispatch": frozenset({"staff"}),
    "hotline.order.handle": frozenset({"staff"}),
    "hotline.order.visit": frozenset({"staff", "citizen"}),
    "hotline.order.close_escalated": frozenset({"supervisor"}),
}

# The hotline hands a case from one holder to the next (派单, 退单, 答复, 重办) after it has
# authorized the step itself: the engine's transfer is the hotline's, not the caller's.
HOTLINE = Principal(id=None, kind="admin", name="12345", via="system")
# Reads of an order's case and timeline after readable_orders admitted the caller.
_READER = Principal(id=None, kind="supervisor", name="12345", via="system")
LIST_MAX = 200
# Set while the hotline takes a step of an order's case: the engine's generic step routes
# would skip the hotline's rules (the handover, the return window, the re-handling count).
_in_hotline: ContextVar[bool] = ContextVar("hotline_step", default=False)


async def only_through_the_hotline(
    session: AsyncSession, principal: Principal, case_: cases.CaseRecord, step: cases.StepTaken
) -> None:
    """Transition hook: a work order's steps are taken through the hotline, never bare."""
    if not _in_hotline.get():
        raise Forbidden(
            _("Take the steps of a work order on its own page (/hotline/orders)."),
            slug="hotline-steps-only",
        )


def centre_code() -> str:
    """The department of the 12345 centre (agents, dispatchers, follow-up calls)."""
    return get_settings().hotline_centre_department


def limit_days(kind: str) -> int:
    """The limit of a kind of request in working days, from the settings."""
    return int(getattr(get_settings(), f"hotline_{kind}_days"))


async def department_code_of(session: AsyncSession, principal: Principal) -> str:
    if principal.department_id is None:
        return ""
    dep = await session.get(Department, principal.department_id)
    return dep.code if dep is not None else ""


async def in_centre(session: AsyncSession, principal: Principal) -> bool:
    return principal.kind == "staff" and await department_code_of(session, principal) == (
        centre_code()
    )


# --- reading ------------------------------------------------------------------------------


def readable_orders(principal: Principal | None, department_code: str) -> Select[WorkOrder]:
    """Orders the principal may read: the 12345 centre, supervisors and admins all; other
    staff those their department holds or handled; citizens those they reported."""
    query = select(WorkOrder)
    if principal is None:
        return query.where(false())
    if principal.is_("supervisor", "admin", "auditor") or (
        principal.kind == "staff" and department_code == centre_code()
    ):
        return query
    if principal.kind == "staff" and department_code:
        return query.where(
            or_(
                WorkOrder.department_code == department_code,
                WorkOrder.handling_department_code == department_code,
            )
        )
    if principal.kind == "citizen" and principal.id is not None:
        return query.where(WorkOrder.caller_account_id == principal.id)
    return query.where(false())


async def get_order(
    session: AsyncSession, principal: Principal | None, order_id: uuid.UUID
) -> WorkOrder:
    """One readable order, else 404."""
    code = await department_code_of(session, principal) if principal else ""
    found = (
        await session.execute(readable_orders(principal, code).where(WorkOrder.id == order_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such work order."))
    return found


async def get_order_by_number(
    session: AsyncSession, principal: Principal | None, number: str
) -> WorkOrder:
    code = await department_code_of(session, principal) if principal else ""
    found = (
        await session.execute(readable_orders(principal, code).where(WorkOrder.number == number))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such work order."))
    return found


async def list_orders(
    session: AsyncSession,
    principal: Principal,
    *,
    state: str | None = None,
    kind: str | None = None,
    category: str | None = None,
    department: str | None = None,
    caller_person_id: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[WorkOrder], int]:
    """A page of readable orders, newest first, and how many match."""
    if not 1 <= limit <= LIST_MAX or offset < 0:
        raise InvalidInput(
            _("A page holds 1 to %(max)s orders.") % {"max": LIST_MAX}, field="limit"
        )
    code = await department_code_of(session, principal)
    query = readable_orders(principal, code)
    if state:
        query = query.where(WorkOrder.state == state)
    if kind:
        query = query.where(WorkOrder.kind == kind)
    if category:
        query = query.where(
            or_(WorkOrder.category_code == category, WorkOrder.category_code.like(f"{category}.%"))
        )
    if department:
        query = query.where(WorkOrder.department_code == department)
    if caller_person_id is not None:
        query = query.where(WorkOrder.caller_person_id == caller_person_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (
        await session.execute(
            query.order_by(WorkOrder.received_at.desc(), WorkOrder.number.desc())
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    return list(rows), int(total)


async def order_case(session: AsyncSession, order: WorkOrder) -> cases.CaseRecord:
    found = await cases.case_by_id(session, order.case_id)
    assert found is not None  # the order's case is deleted with it (ON DELETE CASCADE)
    return found


async def deadline_of(session: AsyncSession, order: WorkOrder) -> cases.Deadline:
    """Days left on the order (``case_deadline``): a re-handling's own clock while it runs."""
    case_ = await order_case(session, order)
    calendar = await load_calendar(session)
    name: cases.ClockName | None = "step" if order.state == "reworking" else None
    return cases.case_deadline(case_, calendar, clock.now(), name)


async def timeline_of(session: AsyncSession, order: WorkOrder) -> list[cases.CaseEventRecord]:
    return list(await cases.timeline(session, _READER, order.case_id))


async def visits_of(session: AsyncSession, order: WorkOrder) -> list[OrderVisit]:
    rows = await session.execute(
        select(OrderVisit).where(OrderVisit.order_id == order.id).order_by(OrderVisit.at)
    )
    return list(rows.scalars())


def mask_name(name: str) -> str:
    """张**: the family name only (a long account name gets no more stars than a name)."""
    return name[:1] + "*" * min(2, max(1, len(name) - 1)) if name else ""


# The registry's one rule for masking a phone number (138****8000), not a second one here.
mask_phone = registry.mask_phone


async def sees_caller(session: AsyncSession, principal: Principal | None, order: WorkOrder) -> bool:
    """Whether the caller's name and phone are shown unmasked: to the 12345 centre (who call
    back), supervisors, and the caller themself; masked for the handling department."""
    if principal is None:
        return False
    if principal.is_("supervisor", "admin"):
        return True
    if principal.id is not None and principal.id == order.caller_account_id:
        return True
    return await in_centre(session, principal)


@dataclass(frozen=True)
class Caller:
    """What the agent's desk shows of a caller found in the registry."""

    found: bool
    person_id: uuid.UUID | None = None
    name: str = ""
    phone: str = ""
    id_number: str = ""
    account_id: uuid.UUID | None = None


async def look_up_caller(
    session: AsyncSession, principal: Principal, *, id_number: str = "", phone: str = ""
) -> Caller:
    """Find the caller in the population registry (来电人核实) for an agent; the read is logged."""
    authorize(principal, "hotline.caller.lookup")
    if not await in_centre(session, principal):
        raise Forbidden(_("Only the 12345 centre looks up callers."))
    if not id_number and not phone:
        raise InvalidInput(_("Give an ID number or a phone number."), field="id_number")
    found = await registry.find_caller(session, id_number=id_number, phone=phone)
    if found is None:
        return Caller(False)
    await registry.log_reads(
        session,
        principal,
        [(found.person_id, ("name", "phone"))],
        purpose="12345热线来电核实",
        via="page",
    )
    return Caller(
        True, found.person_id, found.name, found.phone, found.id_number_masked, found.account_id
    )


# --- places -------------------------------------------------------------------------------


async def resolve_place(session: AsyncSession, lon: float, lat: float) -> tuple[str, str]:
    """The district and street (街道) the point lies in, through the registry's outlines."""
    point = Point(lon, lat)
    found: dict[str, str] = {"district": "", "street": ""}
    for kind in ("district", "street"):
        for outline in await registry.place_outlines(session, kind):
            shape = to_geometry(outline.geometry)
            if shape is not None and shape.contains(point):
                found[kind] = outline.code
                break
    return found["district"], found["street"]


# --- intake (受理) -------------------------------------------------------------------------


def check_category(code: str) -> None:
    if code not in LEAVES:
        raise InvalidInput(
            _("There is no category %(code)s; choose one from the list.") % {"code": code},
            field="category",
            slug="unknown-category",
        )


async def _department(session: AsyncSession, code: str) -> Department:
    dep = (
        await session.execute(select(Department).where(Department.code == code))
    ).scalar_one_or_none()
    if dep is None or not dep.active:
        raise InvalidInput(
            _("There is no department with the code %(code)s.") % {"code": code},
            field="department",
            slug="unknown-department",
        )
    return dep


async def create_order(
    session: AsyncSession,
    principal: Principal | None,
    data: ReportCreate,
    *,
    channel: str,
) -> WorkOrder:
    """Receive a request (受理): by a 12345 agent (``OrderCreate``), a signed-in citizen or
    anyone anonymously on the web. The order starts with the 12345 centre."""
    intake = isinstance(data, OrderCreate)
    if intake:
        assert principal is not None
        authorize(principal, "hotline.order.intake")
        if not await in_centre(session, principal):
            raise Forbidden(_("Only the 12345 centre takes calls."))
    elif principal is not None:
        authorize(principal, "hotline.order.report")
    check_category(data.category)
    text = data.text.strip()
    if not text:
        raise InvalidInput(_("Describe the matter."), field="text")
    if (data.place.lon is None) != (data.place.lat is None):
        raise InvalidInput(_("A point needs both longitude and latitude."), field="lon")
    caller: Caller = Caller(False)
    anonymous = principal is None
    if isinstance(data, OrderCreate):
        anonymous = data.anonymous
        if not anonymous and (data.caller_id_number or data.contact_phone):
            assert principal is not None
            caller = await look_up_caller(
                session,
                principal,
                id_number=data.caller_id_number or "",
                phone="" if data.caller_id_number else (data.contact_phone or ""),
            )
        if data.department:
            await _department(session, data.department)
        if data.answer.strip() and data.kind != "consultation":
            raise InvalidInput(
                _("Only a consultation is answered and closed at intake."), field="answer"
            )
    centre = centre_code()
    await _department(session, centre)
    days = limit_days(data.kind)
    district = street = ""
    if data.place.lon is not None and data.place.lat is not None:
        district, street = await resolve_place(session, data.place.lon, data.place.lat)
    account_id = caller.account_id
    if principal is not None and principal.kind == "citizen":
        account_id = principal.id
    # An anonymous report is opened by the web form itself (no account to name).
    opener = principal or Principal(id=None, kind="system", name="12345 web", via="system")
    case_ = await cases.open_case(
        session,
        opener,
        case_type=ORDER_TYPE,
        title=text[:60],
        department_code=centre,
        applicant=account_id if opener.kind in ("citizen", "staff") else None,
        category=data.category,
        statutory_days=days,
        data={"kind": data.kind, "channel": channel},
    )
    name = data.contact_name or (caller.name if caller.found else "")
    if principal is not None and principal.kind == "citizen" and not name:
        # The citizen's name as the account shows it, not the login they signed in with.
        name = (await people.display_names(session, [principal.name])).get(
            principal.name, principal.name
        )
    order = WorkOrder(
        id=uuid.uuid4(),
        case_id=case_.id,
        number=case_.number,
        kind=data.kind,
        category_code=data.category,
        channel=channel,
        text=text,
        address=data.place.address,
        lon=data.place.lon,
        lat=data.place.lat,
        district_code=district,
        street_code=street,
        anonymous=anonymous,
        caller_person_id=caller.person_id,
        caller_account_id=account_id,
        caller_name="" if anonymous else name[:50],
        caller_phone="" if anonymous else (data.contact_phone or caller.phone),
        state=case_.state,
        department_code=centre,
        limit_days=days,
        received_at=case_.opened_at,
    )
    session.add(order)
    await session.flush()
    if caller.person_id is not None:
        assert principal is not None
        await registry.log_reads(
            session,
            principal,
            [(caller.person_id, ("name", "phone"))],
            purpose=f"12345热线工单 {order.number}",
            via="page" if channel == "phone" else "api",
            case_number=order.number,
        )
    if account_id is not None:
        await notify(
            session,
            account_id,
            topic="hotline.order.received",
            title=_("Your request %(number)s is received") % {"number": order.number},
            body=_("It will be handled within %(days)s working days.") % {"days": days},
            link=f"/hotline/orders/{order.id}",
        )
    if isinstance(data, OrderCreate) and data.answer.strip():
        assert principal is not None
        await _step(session, principal, order, "close_at_intake", {"answer": data.answer.strip()})
        order.reply = data.answer.strip()
    # Routing: classify, look for duplicates, dispatch at once when the model is confident.
    await routing.route_new_order(
        session, order, agent_chose=isinstance(data, OrderCreate) and bool(data.department)
    )
    return order


# --- the steps ---------------------------------------------------------------------------


async def _step(
    session: AsyncSession,
    principal: Principal,
    order: WorkOrder,
    name: str,
    fields: dict[str, Any],
) -> cases.CaseRecord:
    token = _in_hotline.set(True)
    try:
        case_ = await cases.transition(session, principal, order.case_id, name, fields=fields)
    finally:
        _in_hotline.reset(token)
    order.state = case_.state
    if case_.closed_at is not None:
        order.closed_at = case_.closed_at
    await session.flush()
    return case_


async def _hand_to(session: AsyncSession, order: WorkOrder, code: str, reason: str) -> None:
    """Hand the order's case to the department that acts next (the engine's 转办)."""
    if order.department_code == code:
        return
    await cases.transfer(session, HOTLINE, order.case_id, code, reason)
    order.department_code = code
    await session.flush()


async def _as_holder(session: AsyncSession, principal: Principal, order_id: uuid.UUID) -> WorkOrder:
    """The order, if the principal's department holds it now (else 403; unreadable 404)."""
    order = await get_order(session, principal, order_id)
    authorize(principal, "hotline.order.handle")
    if await department_code_of(session, principal) != order.department_code:
        raise Forbidden(_("Your department does not hold this order now."))
    return order


async def dispatch(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, department: str
) -> WorkOrder:
    """派单: the 12345 centre sends the order to the department that handles it."""
    order = await get_order(session, principal, order_id)
    authorize(principal, "hotline.order.dispatch")
    if not await in_centre(session, principal) or order.department_code != centre_code():
        raise Forbidden(_("Only the 12345 centre dispatches its orders."))
    if department == centre_code():
        raise InvalidInput(_("Dispatch the order to a handling department."), field="department")
    await _department(session, department)
    await _step(session, principal, order, "dispatch", {"department": department})
    await _hand_to(session, order, department, "派单")
    order.dispatched_at = clock.now()
    order.handling_department_code = department
    await session.flush()
    return order


async def sign(session: AsyncSession, principal: Principal, order_id: uuid.UUID) -> WorkOrder:
    """签收: the department takes the order on."""
    order = await _as_holder(session, principal, order_id)
    await _step(session, principal, order, "sign", {})
    return order


async def return_order(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, reason: str
) -> WorkOrder:
    """退单: a mis-routed order goes back to the dispatcher within 2 working days, with why."""
    order = await _as_holder(session, principal, order_id)
    if order.state not in ("dispatched", "handling"):
        raise Conflict(
            _("The order cannot be returned in its state."), state=order.state, slug="wrong-state"
        )
    assert order.dispatched_at is not None
    calendar = await load_calendar(session)
    if calendar.workdays_between(order.dispatched_at, clock.now()) > RETURN_WITHIN_DAYS:
        raise Conflict(
            _("An order is returned within %(days)s working days of its dispatch; handle it.")
            % {"days": RETURN_WITHIN_DAYS},
            slug="return-too-late",
        )
    await _step(session, principal, order, "return", {"reason": reason})
    await _hand_to(session, order, centre_code(), f"退单：{reason}"[:500])
    return order


async def transfer_order(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    department: str,
    reason: str,
) -> WorkOrder:
    """转办: the department passes the order on to the one it belongs to, with why."""
    order = await _as_holder(session, principal, order_id)
    if department in (order.department_code, centre_code()):
        raise InvalidInput(_("Name another handling department."), field="department")
    await _department(session, department)
    await _step(session, principal, order, "transfer", {"reason": reason, "department": department})
    await _hand_to(session, order, department, f"转办：{reason}"[:500])
    order.dispatched_at = clock.now()
    order.handling_department_code = department
    await session.flush()
    return order


async def reply(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, text: str
) -> WorkOrder:
    """答复: the department answers the caller; the order goes back for the follow-up call."""
    order = await _as_holder(session, principal, order_id)
    await _step(session, principal, order, "reply", {"reply": text})
    order.reply = text
    await _hand_to(session, order, centre_code(), "答复后回访")
    return order


async def visit(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    rating: str,
    comment: str = "",
) -> WorkOrder:
    """回访: the caller's rating, by the 12345 centre's call or the caller online. 满意 or
    基本满意 closes the order; 不满意 sends it back to be handled again (重办) with a new clock,
    at most twice, and the third time to the supervisors (督办)."""
    order = await get_order(session, principal, order_id)
    authorize(principal, "hotline.order.visit")
    own = principal.id is not None and principal.id == order.caller_account_id
    if not own and not await in_centre(session, principal):
        raise Forbidden(_("The 12345 centre or the caller rates the answer."))
    if rating == "dissatisfied":
        step = "rework" if order.reworks < MAX_REWORKS else "escalate"
    else:
        step = "visit"
    taken = ONLINE_STEPS[step] if own else step
    await _step(session, principal, order, taken, {"rating": rating, "comment": comment})
    session.add(
        OrderVisit(
            id=uuid.uuid4(),
            order_id=order.id,
            at=clock.now(),
            rating=rating,
            comment=comment,
            by=principal.name[:100],
            online=own,
        )
    )
    order.rating = rating
    if step == "rework":
        order.reworks += 1
        await _hand_to(session, order, order.handling_department_code, "不满意重办")
    await session.flush()
    return order


async def close_escalated(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, opinion: str
) -> WorkOrder:
    """督办办结: a supervisor closes an order the caller twice found re-handled badly."""
    order = await get_order(session, principal, order_id)
    authorize(principal, "hotline.order.close_escalated")
    await _step(session, principal, order, "close_escalated", {"opinion": opinion})
    return order


# --- what the pages and the API show ----------------------------------------------------


def category_name(code: str, locale_en: bool = False) -> str:
    node = NODES.get(code)
    if node is None:
        return code
    return node.name_en if locale_en else node.name


def state_title(state: str) -> str:
    return _(STATE_TITLES.get(state, state))


def kind_title(kind: str) -> str:
    return _(KIND_TITLES.get(kind, kind))


async def department_names(session: AsyncSession) -> dict[str, tuple[str, str]]:
    rows = await session.execute(
        select(Department.code, Department.name, Department.name_en).where(Department.active)
    )
    return {code: (name, name_en) for code, name, name_en in rows.all()}


def received_between(start: datetime, end: datetime) -> Any:
    return WorkOrder.received_at.between(start, end)
