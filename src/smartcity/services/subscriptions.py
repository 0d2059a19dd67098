"""Subscriptions to service items (订阅事项) and the changes that reach subscribers.

A citizen or an enterprise follows an item; when an administrator changes what matters to
applicants (name, description, legal basis, limits, fee, materials) or withdraws the item,
every follower gets a message saying what changed, e.g. 承诺时限：10 → 5 个工作日.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock, notifications
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.text import FreeText, Name
from smartcity.services import service
from smartcity.services.events import ITEM_UPDATED, ItemUpdated
from smartcity.services.models import ItemSubscription, ServiceItem
from smartcity.services.schemas import Material
from smartcity.web.cache import invalidate_after_commit

ACTIONS: dict[str, frozenset[str]] = {
    "services.item.subscribe": frozenset({"citizen", "enterprise"}),
    "services.item.update": frozenset({"admin"}),
}

SUBSCRIBER_KINDS = frozenset({"citizen", "enterprise"})


class ServiceItemUpdate(BaseModel):
    """Changes to a service item (事项变更); what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, min_length=1, max_length=200)
    description: FreeText | None = Field(default=None, max_length=2000)
    legal_basis: FreeText | None = Field(default=None, max_length=2000)
    statutory_days: int | None = Field(default=None, ge=1, le=365)
    promised_days: int | None = Field(default=None, ge=1, le=365)
    fee_fen: int | None = Field(default=None, ge=0, le=100_000_000)
    materials: list[Material] | None = Field(default=None, max_length=50)
    active: bool | None = None


# --- following ---------------------------------------------------------------------------


def readable_subscriptions(principal: Principal) -> Select[ItemSubscription]:
    """One's own subscriptions only."""
    query = select(ItemSubscription)
    if principal.id is None or principal.kind not in SUBSCRIBER_KINDS:
        return query.where(false())
    return query.where(ItemSubscription.account_id == principal.id)


async def _own(
    session: AsyncSession, principal: Principal, item: ServiceItem
) -> ItemSubscription | None:
    return (
        await session.execute(
            readable_subscriptions(principal).where(ItemSubscription.item_id == item.id)
        )
    ).scalar_one_or_none()


async def is_subscribed(
    session: AsyncSession, principal: Principal | None, item: ServiceItem
) -> bool:
    return principal is not None and await _own(session, principal, item) is not None


async def subscribe(session: AsyncSession, principal: Principal, code: str) -> ItemSubscription:
    """Follow an active item (订阅); following it again changes nothing."""
    authorize(principal, "services.item.subscribe")
    item = await service.get_service_item(session, principal, code)
    found = await _own(session, principal, item)
    if found is not None:
        return found
    assert principal.id is not None  # subscriber kinds are accounts
    found = ItemSubscription(account_id=principal.id, item_id=item.id, created_at=clock.now())
    session.add(found)
    await session.flush()
    await audit.log(session, principal, "services.item.subscribed", target=item.code)
    return found


async def unsubscribe(session: AsyncSession, principal: Principal, code: str) -> bool:
    """Stop following (取消订阅), also a withdrawn item; False if not following it."""
    authorize(principal, "services.item.subscribe")
    row = (
        await session.execute(
            readable_subscriptions(principal)
            .join(ServiceItem, ServiceItem.id == ItemSubscription.item_id)
            .where(ServiceItem.code == code)
        )
    ).scalar_one_or_none()
    if row is None:
        # An unknown code is a 404 like everywhere else; a known one is simply not followed.
        await service.get_service_item(session, principal, code)
        return False
    await session.delete(row)
    await session.flush()
    await audit.log(session, principal, "services.item.unsubscribed", target=code)
    return True


async def my_subscriptions(session: AsyncSession, principal: Principal) -> list[ServiceItem]:
    """The items one follows, withdrawn ones included (so they can be unfollowed)."""
    ids = readable_subscriptions(principal).with_only_columns(ItemSubscription.item_id)
    rows = await session.execute(
        select(ServiceItem).where(ServiceItem.id.in_(ids)).order_by(ServiceItem.code)
    )
    return list(rows.scalars())


async def subscription_context(
    session: AsyncSession, principal: Principal | None, item: ServiceItem
) -> dict[str, Any]:
    """What services/_subscribe.html needs on the item page."""
    return {
        "subscribed": await is_subscribed(session, principal, item),
        "may_subscribe": principal is not None and principal.kind in SUBSCRIBER_KINDS,
    }


# --- changing an item, and telling followers ------------------------------------------------


def _fee(fen: int) -> str:
    return "不收费" if fen == 0 else f"{fen / 100:.2f} 元"


def _material_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str | None:
    before = {m["name"]: m for m in old}
    after = {m["name"]: m for m in new}
    parts = []
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    if added:
        parts.append("新增 " + "、".join(added))
    if removed:
        parts.append("不再需要 " + "、".join(removed))
    for name in after:
        if name in before and bool(before[name].get("required")) != bool(
            after[name].get("required")
        ):
            parts.append(f"{name}改为" + ("必须提交" if after[name].get("required") else "非必须"))
        elif name in before and before[name].get("from_registry") != after[name].get(
            "from_registry"
        ):
            parts.append(f"{name}" + ("免提交" if after[name].get("from_registry") else "需提交"))
    if not parts and old != new:
        parts.append("顺序已调整")
    return "申请材料：" + "；".join(parts) if parts else None


def describe_changes(item: ServiceItem, values: dict[str, Any]) -> list[str]:
    """One line per change, in Chinese, as followers read it."""
    lines: list[str] = []
    if "name" in values and values["name"] != item.name:
        lines.append(f"事项名称：{item.name} → {values['name']}")
    for field, label in (("statutory_days", "法定时限"), ("promised_days", "承诺时限")):
        if field in values and values[field] != getattr(item, field):
            lines.append(f"{label}：{getattr(item, field)} → {values[field]} 个工作日")
    if "fee_fen" in values and values["fee_fen"] != item.fee_fen:
        lines.append(f"收费标准：{_fee(item.fee_fen)} → {_fee(values['fee_fen'])}")
    if "materials" in values:
        line = _material_changes(item.materials, values["materials"])
        if line:
            lines.append(line)
    if "legal_basis" in values and values["legal_basis"] != item.legal_basis:
        lines.append(f"设定依据：{values['legal_basis'] or '（无）'}")
    if "description" in values and values["description"] != item.description:
        lines.append("办事说明已更新")
    return lines


async def update_service_item(
    session: AsyncSession, principal: Principal, code: str, changes: ServiceItemUpdate
) -> tuple[ServiceItem, list[str]]:
    """Change an item (事项变更) or withdraw it (``active=False``, 停止办理); administrators
    only, audited. Followers are told what changed; returns the item and those lines."""
    authorize(principal, "services.item.update")
    item = await service.get_service_item(session, principal, code)
    values = changes.model_dump(exclude_none=True)
    if not values:
        raise InvalidInput(_("Say what to change."), field="_form")
    statutory = values.get("statutory_days", item.statutory_days)
    promised = values.get("promised_days", item.promised_days)
    if promised > statutory:
        raise InvalidInput(
            _("A promised limit lies between one working day and the statutory limit."),
            field="promised_days",
        )
    lines = describe_changes(item, values)
    withdrawn = item.active and values.get("active") is False
    restored = not item.active and values.get("active") is True
    if not lines and not withdrawn and not restored:
        return item, []
    for field, value in values.items():
        setattr(item, field, value)
    await session.flush()
    changed = sorted(f for f in values if f != "active") + (
        ["active"] if withdrawn or restored else []
    )
    await audit.log(session, principal, ITEM_UPDATED.name, target=item.code, fields=changed)
    await ITEM_UPDATED.emit(
        session, ItemUpdated(code=item.code, fields=changed, active=item.active)
    )
    invalidate_after_commit(session, service.CATALOGUE_PAGES)
    if withdrawn:
        lines.insert(0, f"该事项已于{clock.to_city(clock.now()):%Y年%m月%d日}停止办理")
    elif restored:
        lines.insert(0, "该事项已恢复办理")
    await _tell_followers(session, item, lines, withdrawn=withdrawn)
    return item, lines


async def _tell_followers(
    session: AsyncSession, item: ServiceItem, lines: list[str], *, withdrawn: bool
) -> None:
    followers = await session.execute(
        select(ItemSubscription.account_id).where(ItemSubscription.item_id == item.id)
    )
    # The list of changes stays as written (Chinese, the catalogue's language); the title
    # reads in the follower's language.
    name = notifications.Name(item.name, item.name_en)
    title = notifications.Text(
        N_("Service withdrawn: %(item)s")
        if withdrawn
        else N_("A service you follow changed: %(item)s"),
        {"item": name},
    )
    body = "；".join(lines) + "。"
    link = "/services" if not item.active else f"/services/{item.code}"
    topic = "services.item.withdrawn" if withdrawn else ITEM_UPDATED.name
    for account_id in followers.scalars():
        await notifications.notify(
            session, account_id, topic=topic, title=title, body=body, link=link
        )


async def departments_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Department]:
    """The departments of some items, withdrawn ones included (the catalog's helper knows
    only the departments of active items)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Department).where(Department.id.in_(wanted)))
    return {d.id: d for d in rows.scalars()}
