"""A hand-built month of 12345 orders for the insight's tests, taken through the hotline's
own steps (so the case engine decides on time and the working days), with places and
times set on the hotline's own rows.

November 2026 (T0 is Monday 2 November, 09:00 in Shenzhen), handled by CGJ unless noted:

- A: complaint, answered the same day, 满意. Closed on time in 0 working days.
- B: complaint, returned (退单) once, dispatched again, answered, 基本满意. On time, 0 days.
- C: complaint, 不满意 then handled again (重办), answered, 满意. On time, 0 days.
- D: consultation (3 working days), answered after 10 working days, 满意. Late, 10 days.
- E: complaint, dispatched and signed for, still open.
- F: consultation answered and closed at intake by the 12345 centre (never dispatched).
- G: like A but received in October: outside the month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.hotline import service
from smartcity.hotline.models import WorkOrder
from tests.cases.factories import department
from tests.hotline.factories import CENTRE, HANDLER, OTHER, T0, People, call, people, report

LUOHU, FUTIAN = "440303", "440304"
LUOHU_A, LUOHU_B, FUTIAN_A = "440303001", "440303002", "440304001"


@dataclass
class Month:
    who: People
    orders: dict[str, WorkOrder]


def _place(order: WorkOrder, district: str, street: str) -> None:
    order.district_code, order.street_code = district, street


async def _answered(session: AsyncSession, who: People, order: WorkOrder) -> None:
    await service.sign(session, who.officer, order.id)
    await service.reply(session, who.officer, order.id, "已处理。")


async def month(session: AsyncSession) -> Month:
    """The orders A to G above; the clock ends 14 days after T0 (Monday 16 November)."""
    who = await people(session)
    await department(session, HANDLER)
    await department(session, OTHER)
    orders: dict[str, WorkOrder] = {}
    with clock.frozen(T0) as move:

        async def new(name: str, **overrides: object) -> WorkOrder:
            order = await service.create_order(
                session, who.citizen, report(**overrides), channel="web"
            )
            orders[name] = await service.dispatch(session, who.agent, order.id, HANDLER)
            return orders[name]

        a = await new("A", text="地铁站门口共享单车乱停放")
        await _answered(session, who, a)
        await service.visit(session, who.citizen, a.id, "satisfied")
        _place(a, LUOHU, LUOHU_A)

        b = await new("B", text="地铁站出口共享单车堆积")
        await service.return_order(session, who.officer, b.id, "不属于本单位职责")
        await service.dispatch(session, who.agent, b.id, HANDLER)
        await _answered(session, who, b)
        await service.visit(session, who.agent, b.id, "basically_satisfied")
        _place(b, LUOHU, LUOHU_A)

        c = await new("C", text="工地夜间施工噪声扰民")
        await _answered(session, who, c)
        await service.visit(session, who.citizen, c.id, "dissatisfied")
        await service.reply(session, who.officer, c.id, "已责令停工。")
        await service.visit(session, who.citizen, c.id, "satisfied")
        _place(c, LUOHU, LUOHU_B)

        d = await new("D", kind="consultation", category="03.01.01", text="工地噪声投诉如何办理")
        await service.sign(session, who.officer, d.id)
        _place(d, FUTIAN, FUTIAN_A)

        e = await new("E", text="路灯不亮")
        await service.sign(session, who.officer, e.id)
        _place(e, FUTIAN, FUTIAN_A)

        f = await service.create_order(
            session, who.agent, call(kind="consultation", answer="已当场解答。"), channel="phone"
        )
        orders["F"] = f

        g = await new("G", text="共享单车乱停放")
        await _answered(session, who, g)
        await service.visit(session, who.citizen, g.id, "satisfied")
        g.received_at = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
        _place(g, LUOHU, LUOHU_A)

        move(timedelta(days=14))  # Monday 16 November: 10 working days after T0
        await service.reply(session, who.officer, d.id, "请携带材料到窗口办理。")
        await service.visit(session, who.citizen, d.id, "satisfied")
    await session.flush()
    assert orders["F"].state == "closed" and orders["F"].handling_department_code == ""
    assert service.centre_code() == CENTRE
    return Month(who, orders)
