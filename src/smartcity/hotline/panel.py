"""The work order's panel on the engine's staff case page: what it is, and the way to its
own page, where its steps are taken (the bare engine steps are refused)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import CaseRecord, Panel
from smartcity.core.authz import Principal
from smartcity.core.i18n import gettext as _
from smartcity.hotline import service, views
from smartcity.hotline.models import WorkOrder


async def case_panel(
    session: AsyncSession, principal: Principal, case_: CaseRecord
) -> Panel | None:
    order = (
        await session.execute(select(WorkOrder).where(WorkOrder.case_id == case_.id))
    ).scalar_one_or_none()
    if order is None:
        return None
    return Panel(
        title=_("Work order"),
        template="cases/data_panel.html",
        context={
            "rows": [
                (_("Kind of request"), service.kind_title(order.kind)),
                (_("Category"), service.category_name(order.category_code, views.english())),
                (_("Place"), order.address),
                (_("Take its steps on"), f"/hotline/orders/{order.id}"),
            ]
        },
    )
