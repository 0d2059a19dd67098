"""Duplicate orders (重复工单) and merging (合并工单).

A new order received within N days (settings, default 7) of an open order, within M metres
(default 200) of it, and like it (the same category branch, or texts whose character bigrams
have a cosine of at least 0.5) is proposed for merging. The dispatcher merges it or says it
is not a duplicate. A merged order is closed at once with a note naming its parent, and the
parent's handling answers it: when the parent is answered or closed each merged order's
caller is told, with the parent's answer."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import CaseRecord, StepTaken
from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.notifications import notify
from smartcity.hotline.categories import LEAVES
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.routing.classify import char_cosine
from smartcity.hotline.routing.models import DuplicateProposal
from smartcity.settings import get_settings

SIMILAR = 0.5
# At most this many open orders nearby are compared, and this many proposed.
SCAN_MAX = 500
PROPOSE_MAX = 3
EARTH_M = 6_371_000.0
OPEN_STATES = ("accepted", "dispatched", "handling", "returned", "reworking", "replied")
# The parent's steps its merged orders' callers hear of.
ANSWER_STEPS = frozenset({"reply"})
CLOSE_STEPS = frozenset({"visit", "visit_online", "close_escalated", "close_at_intake"})
MERGED_NOTE = N_("Merged into work order %(parent)s; its handling answers this request too.")


def metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def _branch(code: str) -> str:
    return code.rsplit(".", 1)[0] if code.count(".") == 2 else code


def department_of(order: WorkOrder) -> str:
    """The department that handles the order: the one it went to, else its category's."""
    if order.handling_department_code:
        return order.handling_department_code
    node = LEAVES.get(order.category_code)
    return node.department or "" if node is not None else ""


async def candidates(
    session: AsyncSession, order: WorkOrder
) -> list[tuple[WorkOrder, float, float]]:
    """Open orders this one may repeat: (order, metres, text similarity), likeliest first."""
    if order.lon is None or order.lat is None:
        return []
    settings = get_settings()
    metres = float(settings.hotline_duplicate_metres)
    since = order.received_at - timedelta(days=settings.hotline_duplicate_days)
    dlat = math.degrees(metres / EARTH_M)
    dlon = dlat / max(0.01, math.cos(math.radians(order.lat)))
    rows = await session.execute(
        select(WorkOrder)
        .where(
            WorkOrder.id != order.id,
            WorkOrder.received_at >= since,
            WorkOrder.received_at <= order.received_at,
            WorkOrder.state.in_(OPEN_STATES),
            WorkOrder.lat.between(order.lat - dlat, order.lat + dlat),
            WorkOrder.lon.between(order.lon - dlon, order.lon + dlon),
        )
        .order_by(WorkOrder.received_at.desc())
        .limit(SCAN_MAX)
    )
    found: list[tuple[WorkOrder, float, float]] = []
    branch = _branch(order.category_code)
    for other in rows.scalars():
        assert other.lon is not None and other.lat is not None
        distance = metres_between(order.lon, order.lat, other.lon, other.lat)
        if distance > metres:
            continue
        similarity = char_cosine(order.text, other.text)
        if similarity >= SIMILAR or _branch(other.category_code) == branch:
            found.append((other, distance, similarity))
    found.sort(key=lambda f: (-f[2], f[1]))
    return found


async def propose(session: AsyncSession, order: WorkOrder) -> list[DuplicateProposal]:
    """Record the likeliest candidates of a new order as proposals for the dispatcher."""
    proposals = []
    for other, distance, similarity in (await candidates(session, order))[:PROPOSE_MAX]:
        proposal = DuplicateProposal(
            id=uuid.uuid4(),
            order_id=order.id,
            parent_id=other.id,
            distance_m=round(distance, 1),
            similarity=round(similarity, 4),
            state="proposed",
            proposed_at=clock.now(),
        )
        session.add(proposal)
        proposals.append(proposal)
    if proposals:
        await session.flush()
    return proposals


async def proposals_of(session: AsyncSession, order_id: uuid.UUID) -> list[DuplicateProposal]:
    """The proposals about an order (as the new one), open ones first."""
    rows = await session.execute(
        select(DuplicateProposal)
        .where(DuplicateProposal.order_id == order_id)
        .order_by(DuplicateProposal.state != "proposed", DuplicateProposal.similarity.desc())
    )
    return list(rows.scalars())


async def merged_into(session: AsyncSession, parent_id: uuid.UUID) -> list[WorkOrder]:
    """The orders merged into this one."""
    rows = await session.execute(
        select(WorkOrder)
        .join(DuplicateProposal, DuplicateProposal.order_id == WorkOrder.id)
        .where(DuplicateProposal.parent_id == parent_id, DuplicateProposal.state == "merged")
        .order_by(WorkOrder.received_at)
    )
    return list(rows.scalars())


async def parent_of(session: AsyncSession, order_id: uuid.UUID) -> WorkOrder | None:
    row = (
        await session.execute(
            select(WorkOrder)
            .join(DuplicateProposal, DuplicateProposal.parent_id == WorkOrder.id)
            .where(DuplicateProposal.order_id == order_id, DuplicateProposal.state == "merged")
        )
    ).scalar_one_or_none()
    return row


async def _centre_order(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID
) -> WorkOrder:
    from smartcity.hotline import service as hotline

    order = await hotline.get_order(session, principal, order_id)
    authorize(principal, "hotline.order.dispatch")
    if not await hotline.in_centre(session, principal):
        raise Forbidden(_("Only the 12345 centre merges orders."))
    return order


async def merge(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, parent_id: uuid.UUID
) -> WorkOrder:
    """合并工单: the order joins an open one of the same department and is closed with a
    note; the parent's answer reaches its caller too."""
    from smartcity.hotline import service as hotline

    if order_id == parent_id:
        raise InvalidInput(
            _("An order cannot be merged into itself."), field="parent", slug="merge-into-itself"
        )
    order = await _centre_order(session, principal, order_id)
    parent = await hotline.get_order(session, principal, parent_id)
    if order.state != "accepted":
        raise Conflict(
            _("Only an order still awaiting dispatch is merged."),
            state=order.state,
            slug="wrong-state",
        )
    if parent.state not in OPEN_STATES:
        raise Conflict(
            _("An order is merged into an open one; %(number)s is closed.")
            % {"number": parent.number},
            slug="merge-into-closed",
        )
    if await parent_of(session, parent.id) is not None:
        raise Conflict(
            _("%(number)s is itself merged into another order.") % {"number": parent.number},
            slug="merge-into-merged",
        )
    if department_of(order) != department_of(parent):
        raise Conflict(
            _("%(number)s is handled by another department; dispatch this order instead.")
            % {"number": parent.number},
            slug="merge-other-department",
        )
    note = _(MERGED_NOTE) % {"parent": parent.number}
    existing = (
        await session.execute(
            select(DuplicateProposal).where(
                DuplicateProposal.order_id == order.id, DuplicateProposal.parent_id == parent.id
            )
        )
    ).scalar_one_or_none()
    now = clock.now()
    if existing is None:
        distance = -1.0
        if None not in (order.lon, order.lat, parent.lon, parent.lat):
            assert order.lon is not None and order.lat is not None
            assert parent.lon is not None and parent.lat is not None
            distance = metres_between(order.lon, order.lat, parent.lon, parent.lat)
        existing = DuplicateProposal(
            id=uuid.uuid4(),
            order_id=order.id,
            parent_id=parent.id,
            distance_m=round(distance, 1),
            similarity=round(char_cosine(order.text, parent.text), 4),
            state="proposed",
            proposed_at=now,
        )
        session.add(existing)
    for other in await proposals_of(session, order.id):
        if other.state == "proposed" and other is not existing:
            other.state, other.decided_at, other.decided_by = "rejected", now, principal.name[:100]
    existing.state, existing.decided_at, existing.decided_by = "merged", now, principal.name[:100]
    await session.flush()
    # The merged order is closed at intake with the note; the parent's steps answer it.
    await hotline._step(session, principal, order, "close_at_intake", {"answer": note})
    order.reply = note
    if parent.reply:
        order.reply = parent.reply
    await session.flush()
    return order


async def reject(
    session: AsyncSession, principal: Principal, proposal_id: uuid.UUID
) -> DuplicateProposal:
    """不是重复: the dispatcher keeps the order apart; it waits in the queue as any other."""
    proposal = await session.get(DuplicateProposal, proposal_id)
    if proposal is None:
        raise NotFound(_("There is no such duplicate proposal."))
    await _centre_order(session, principal, proposal.order_id)
    if proposal.state != "proposed":
        raise Conflict(_("This proposal is already decided."), slug="already-decided")
    proposal.state = "rejected"
    proposal.decided_at = clock.now()
    proposal.decided_by = principal.name[:100]
    await session.flush()
    return proposal


async def answer_merged(
    session: AsyncSession, principal: Principal, case_: CaseRecord, step: StepTaken
) -> None:
    """Transition hook: when an order is answered or closed, each order merged into it takes
    the answer and its caller is told (each caller answered, one handling)."""
    if step.name not in ANSWER_STEPS and step.name not in CLOSE_STEPS:
        return
    parent = (
        await session.execute(select(WorkOrder).where(WorkOrder.case_id == case_.id))
    ).scalar_one_or_none()
    if parent is None:
        return
    answer = str(step.fields.get("reply") or step.fields.get("answer") or parent.reply or "")
    for child in await merged_into(session, parent.id):
        if step.name in ANSWER_STEPS:
            child.reply = answer
        if child.caller_account_id is None:
            continue
        if step.name in ANSWER_STEPS:
            title = _("Work order %(parent)s, which your request %(number)s joined, is answered.")
        else:
            title = _("Work order %(parent)s, which your request %(number)s joined, is closed.")
        await notify(
            session,
            child.caller_account_id,
            topic=f"hotline.order.merged.{step.name}",
            title=title % {"parent": parent.number, "number": child.number},
            body=answer,
            link=f"/hotline/orders/{child.id}",
        )
    await session.flush()
