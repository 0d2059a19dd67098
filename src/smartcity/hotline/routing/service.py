"""Routing of new work orders (智能分派): train the classifier from the city's closed orders,
keep the current model per process, suggest categories and departments, and route each new
order: dispatched at once when the model is confident, otherwise left in the dispatcher's
queue with its top three; an order that looks like an open one waits for the merge decision."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.hotline.categories import LEAVES
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.routing import classify, duplicates
from smartcity.hotline.routing.models import OrderRouting, RoutingModel
from smartcity.settings import get_settings

ACTIONS: dict[str, frozenset[str]] = {
    "hotline.model.train": frozenset({"admin"}),
    "hotline.model.read": frozenset({"admin", "supervisor", "staff"}),
    "hotline.order.suggest": frozenset({"staff"}),
}
AUTO_NAME = "12345 智能派单"
# At most this many closed orders are read for one training (the newest first).
TRAIN_MAX = 2_000_000


@dataclass(frozen=True)
class Suggestion:
    category: str
    department: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "department": self.department,
            "confidence": round(self.confidence, 4),
        }


@dataclass(frozen=True)
class Suggestions:
    """The model's top three for a text, and its confidence in each department."""

    version: int | None
    items: list[Suggestion]
    departments: dict[str, float]

    def department_confidence(self, code: str) -> float:
        return self.departments.get(code, 0.0)


# The current model of this process: (row id, version, classifier), refreshed when the
# newest shipped version in the database is another one.
_cache: dict[str, tuple[uuid.UUID, int, classify.Classifier]] = {}


async def current_model(session: AsyncSession) -> tuple[int, classify.Classifier] | None:
    """The newest shipped model, loaded once per process and version."""
    row = (
        await session.execute(
            select(RoutingModel.id, RoutingModel.version)
            .where(RoutingModel.shipped)
            .order_by(RoutingModel.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    model_id, version = row
    cached = _cache.get("current")
    if cached is not None and cached[0] == model_id:
        return cached[1], cached[2]
    blob = (
        await session.execute(select(RoutingModel.blob).where(RoutingModel.id == model_id))
    ).scalar_one()
    classifier = classify.Classifier.from_bytes(blob)
    _cache["current"] = (model_id, version, classifier)
    return version, classifier


def department_of(category: str) -> str:
    node = LEAVES.get(category)
    return node.department or "" if node is not None else ""


def _check_text(text: str) -> str:
    clean = text.strip()
    if not clean:
        raise InvalidInput(_("Describe the matter."), field="text")
    if len(clean) > classify.TEXT_MAX:
        raise InvalidInput(
            _("The text is longer than %(max)s characters.") % {"max": classify.TEXT_MAX},
            field="text",
        )
    return clean


async def suggest_text(session: AsyncSession, text: str) -> Suggestions:
    """The top three categories for a text with their departments and confidences."""
    clean = _check_text(text)
    loaded = await current_model(session)
    if loaded is None:
        return Suggestions(None, [], {})
    version, classifier = loaded
    distribution = classifier.distribution(clean)
    best = sorted(distribution.items(), key=lambda kv: -kv[1])[: classify.TOP]
    return Suggestions(
        version,
        [Suggestion(code, department_of(code), p) for code, p in best],
        classify.department_confidence(distribution),
    )


async def suggest(session: AsyncSession, principal: Principal, text: str) -> Suggestions:
    """Suggestions for an agent typing an order (the intake page asks as they type)."""
    authorize(principal, "hotline.order.suggest")
    return await suggest_text(session, text)


def _auto_principal(centre: Department) -> Principal:
    return Principal(id=None, kind="staff", name=AUTO_NAME, department_id=centre.id, via="system")


async def route_new_order(session: AsyncSession, order: WorkOrder, agent_chose: bool) -> None:
    """Route an order just received (the one call at the end of create_order).

    The department of the order's category is dispatched to at once when the model's
    confidence in that department reaches the threshold and no open order looks like
    this one; otherwise the order waits in the queue with the model's top three. An order
    closed at intake, or one the agent dispatches themself, only keeps the suggestions."""
    from smartcity.hotline import service as hotline

    if order.state != "accepted":
        return
    found = await suggest_text(session, order.text)
    proposals = await duplicates.propose(session, order)
    target = department_of(order.category_code)
    confidence = found.department_confidence(target)
    threshold = get_settings().hotline_auto_dispatch
    if found.version is None:
        mode = "none"
    elif agent_chose:
        mode = "manual"
    elif proposals or confidence < threshold or target in ("", hotline.centre_code()):
        mode = "queue"
    else:
        mode = "auto"
    session.add(
        OrderRouting(
            order_id=order.id,
            model_version=found.version,
            confidence=round(confidence, 4),
            department_code=target if mode == "auto" else "",
            mode=mode,
            suggestions=[s.as_dict() for s in found.items],
            routed_at=clock.now(),
        )
    )
    await session.flush()
    if mode != "auto":
        return
    centre = (
        await session.execute(select(Department).where(Department.code == hotline.centre_code()))
    ).scalar_one()
    target_dep = (
        await session.execute(select(Department).where(Department.code == target))
    ).scalar_one_or_none()
    if target_dep is None or not target_dep.active:
        routing = await session.get(OrderRouting, order.id)
        assert routing is not None
        routing.mode = "queue"
        routing.department_code = ""
        await session.flush()
        return
    await hotline.dispatch(session, _auto_principal(centre), order.id, target)


async def routing_of(session: AsyncSession, order_id: uuid.UUID) -> OrderRouting | None:
    return await session.get(OrderRouting, order_id)


async def routings_of(
    session: AsyncSession, order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, OrderRouting]:
    if not order_ids:
        return {}
    rows = await session.execute(select(OrderRouting).where(OrderRouting.order_id.in_(order_ids)))
    return {r.order_id: r for r in rows.scalars()}


async def dispatch_suggested(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, department: str
) -> WorkOrder:
    """A dispatcher's one-click dispatch to a suggestion: recorded as manual routing."""
    from smartcity.hotline import service as hotline

    order = await hotline.dispatch(session, principal, order_id, department)
    routing = await session.get(OrderRouting, order_id)
    if routing is not None:
        routing.mode = "manual"
        routing.department_code = department
        await session.flush()
    return order


# --- training ----------------------------------------------------------------------------


async def closed_orders(
    session: AsyncSession, limit: int = TRAIN_MAX
) -> tuple[list[str], list[str]]:
    """Texts and categories of the city's closed orders, the newest first."""
    rows = await session.execute(
        select(WorkOrder.text, WorkOrder.category_code)
        .where(WorkOrder.state == "closed")
        .order_by(WorkOrder.received_at.desc())
        .limit(limit)
    )
    texts: list[str] = []
    labels: list[str] = []
    for text, category in rows.all():
        if category in LEAVES and text:
            texts.append(text)
            labels.append(category)
    return texts, labels


async def store_model(session: AsyncSession, trained: classify.Trained, by: str) -> RoutingModel:
    """Write a trained model as the next version; shipped only if it beat the baseline."""
    newest = (await session.execute(select(func.max(RoutingModel.version)))).scalar_one()
    model = RoutingModel(
        id=uuid.uuid4(),
        version=int(newest or 0) + 1,
        created_at=clock.now(),
        trained_on=int(trained.metrics["trained"]),
        metrics=dict(trained.metrics) | {"beats_baseline": trained.beats_baseline},
        shipped=trained.beats_baseline,
        created_by=by[:100],
        blob=trained.classifier.to_bytes(),
    )
    session.add(model)
    await session.flush()
    return model


async def train(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int = TRAIN_MAX,
    in_thread: bool = True,
) -> RoutingModel:
    """Retrain from the closed orders; the new version is recorded with its metrics."""
    authorize(principal, "hotline.model.train")
    texts, labels = await closed_orders(session, limit)
    try:
        if in_thread:
            trained = await asyncio.to_thread(classify.train, texts, labels)
        else:
            trained = classify.train(texts, labels)
    except classify.TooFewOrders:
        raise InvalidInput(
            _(
                "Training needs at least %(orders)s closed orders in at least %(classes)s "
                "categories; there are %(have)s in %(kinds)s."
            )
            % {
                "orders": classify.MIN_ORDERS,
                "classes": classify.MIN_CLASSES,
                "have": len(texts),
                "kinds": len(set(labels)),
            },
            field="orders",
            slug="too-few-orders",
        ) from None
    return await store_model(session, trained, principal.name)


async def list_models(session: AsyncSession, principal: Principal) -> list[RoutingModel]:
    authorize(principal, "hotline.model.read")
    rows = await session.execute(
        select(RoutingModel)
        .options(defer(RoutingModel.blob))
        .order_by(RoutingModel.version.desc())
        .limit(100)
    )
    return list(rows.scalars())
