"""The demo city's work orders (示例工单): a modest set in every state, taken by the demo
12345 agent (staff.zwsj) and handled by the demo departments (公安局, 生态环境局), some of them
the demo citizen's own, so each demo account has something to do. Seeds once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.models import Account
from smartcity.core.security import principal_of
from smartcity.hotline import extension, service
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.schemas import OrderCreate, ReportCreate


@dataclass(frozen=True)
class DemoOrder:
    kind: str
    category: str
    text: str
    address: str
    point: tuple[float, float] | None
    department: str | None  # dispatched to; None stays in the queue
    # after dispatch: sign, reply, visit:<rating>, return, extend:<days>:<reason> (延期申请),
    # approve (the centre approves the pending extension)
    steps: tuple[str, ...]
    citizen: bool = False  # the demo citizen reported it on the web


ORDERS: tuple[DemoOrder, ...] = (
    DemoOrder(
        "complaint",
        "03.01.01",
        "楼下酒吧每晚凌晨两点后仍播放音乐，噪声扰民。",
        "南山区粤海街道后海大道",
        (113.943, 22.515),
        "STHJJ",
        ("sign", "extend:3:需协调物业调取监控并安排夜间执法。", "approve"),
        True,
    ),
    DemoOrder(
        "complaint",
        "03.01.02",
        "小区一楼餐馆油烟直排，楼上住户无法开窗。",
        "福田区华强北街道振兴路",
        (114.085, 22.547),
        "STHJJ",
        ("sign", "reply:已责令餐馆安装油烟净化设施并复查达标。"),
        True,
    ),
    DemoOrder(
        "report",
        "02.02.02",
        "小区消防通道长期被私家车占用，消防车无法进入。",
        "龙岗区坂田街道五和大道",
        (114.062, 22.628),
        "GAJ",
        ("extend:2:需会同街道现场勘查消防通道。",),
    ),
    DemoOrder(
        "complaint",
        "02.02.01",
        "学校门口上下学时段大量车辆违停，堵塞交通。",
        "宝安区新安街道创业一路",
        (113.886, 22.565),
        "GAJ",
        ("sign", "reply:已在上下学时段增派警力疏导并查处违停。", "visit:satisfied"),
    ),
    DemoOrder(
        "help",
        "08.01.01",
        "老人身份证丢失，行动不便，能否上门办理补领？",
        "罗湖区东门街道",
        (114.123, 22.548),
        "GAJ",
        ("return",),
    ),
    DemoOrder(
        "complaint",
        "03.01.04",
        "工地未覆盖裸土，刮风时扬尘严重。",
        "光明区凤凰街道",
        (113.935, 22.748),
        "STHJJ",
        ("sign", "reply:已要求工地覆盖裸土并洒水降尘。", "visit:dissatisfied"),
        True,
    ),
    DemoOrder(
        "suggestion",
        "02.01.03",
        "建议在科技园增加早高峰接驳公交。",
        "南山区科技园",
        (113.952, 22.540),
        None,
        (),
    ),
    DemoOrder(
        "complaint",
        "01.01.01",
        "地铁站出口流动摊贩占道经营。",
        "福田区福田街道",
        (114.055, 22.522),
        None,
        (),
    ),
    DemoOrder(
        "consultation",
        "09.01.01",
        "请问居住证在哪里办理，需要什么材料？",
        "",
        None,
        None,
        ("answer:携带身份证、居住证明到所在街道行政服务大厅办理。",),
    ),
    DemoOrder(
        "praise",
        "08.01.02",
        "感谢派出所民警帮忙追回被骗款项。",
        "龙华区民治街道",
        (114.040, 22.620),
        "GAJ",
        ("sign", "reply:感谢您的肯定，我们将继续做好反诈工作。", "visit:satisfied"),
    ),
)


async def _principal(session: AsyncSession, username: str) -> Principal | None:
    account = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    return principal_of(account, "cli") if account is not None else None


async def seed_demo_orders(session: AsyncSession, principal: Principal) -> int:
    """The demo work orders, once (none when any order exists or the demo staff are missing)."""
    if (await session.execute(select(func.count()).select_from(WorkOrder))).scalar_one():
        return 0
    agent = await _principal(session, "staff.zwsj")
    citizen = await _principal(session, "citizen")
    handlers = {
        code: await _principal(session, f"staff.{code.lower()}") for code in ("GAJ", "STHJJ")
    }
    if agent is None or citizen is None or None in handlers.values():
        return 0
    made = 0
    for demo in ORDERS:
        place: dict[str, object] = {"address": demo.address}
        if demo.point is not None:
            place |= {"lon": demo.point[0], "lat": demo.point[1]}
        answer = next((s.split(":", 1)[1] for s in demo.steps if s.startswith("answer:")), "")
        values: dict[str, Any] = {
            "kind": demo.kind,
            "category": demo.category,
            "text": demo.text,
            "place": place,
        }
        if demo.citizen:
            order = await service.create_order(
                session, citizen, ReportCreate.model_validate(values), channel="web"
            )
        else:
            order = await service.create_order(
                session,
                agent,
                OrderCreate.model_validate(
                    values | {"contact_phone": "13800000000", "answer": answer}
                ),
                channel="phone",
            )
        made += 1
        if demo.department is None:
            continue
        await service.dispatch(session, agent, order.id, demo.department)
        officer = handlers[demo.department]
        assert officer is not None
        for step in demo.steps:
            name, _sep, arg = step.partition(":")
            if name == "sign":
                await service.sign(session, officer, order.id)
            elif name == "reply":
                await service.reply(session, officer, order.id, arg)
            elif name == "return":
                await service.return_order(session, officer, order.id, "应由户籍所在派出所办理")
            elif name == "visit":
                await service.visit(session, agent, order.id, arg, "回访电话")
            elif name == "extend":
                days, _sep, reason = arg.partition(":")
                pending = await extension.request_extension(
                    session, officer, order.id, int(days), reason
                )
            elif name == "approve":
                await extension.decide_extension(session, agent, order.id, pending.id, "approve")
    return made


# --- a year of orders and the city's own model (智能分派) ----------------------------------

# How many orders the demo's year holds: enough for the hot spots, the KPIs and the seasons,
# few enough for the browser tests, which seed the demo city (each order is a case with its
# steps; the case engine has no bulk path). The model is trained on the corpus's texts.
YEAR_ORDERS = 30
TRAIN_TEXTS = 400
REPEAT_SHARE = 0.15
ANSWERS: tuple[str, ...] = (
    "已转交相关部门现场核查，问题已处理。",
    "经现场核实，已责令整改并复查。",
    "已安排人员维修，现已恢复正常。",
    "已约谈相关单位，并将持续跟进。",
    "已向来电人解释相关政策和办理流程。",
)
RATING_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("satisfied", 0.72),
    ("basically_satisfied", 0.2),
    ("dissatisfied", 0.08),
)


async def seed_demo_year(session: AsyncSession, principal: Principal) -> int:
    """A year of orders through the 12345 centre, once: categories by season, places across
    the districts and streets, repeats of open orders (merged), most closed with a rating,
    the recent ones still open; trained model first, so routing dispatches as it would."""
    import contextlib
    import random
    from datetime import timedelta

    from smartcity.core import clock
    from smartcity.core.errors import Problem
    from smartcity.core.models import Department
    from smartcity.hotline.routing import classify, corpus, duplicates
    from smartcity.hotline.routing import service as routing
    from smartcity.hotline.routing.models import RoutingModel

    if (await session.execute(select(func.count()).select_from(RoutingModel))).scalar_one():
        return 0
    agent = await _principal(session, "staff.zwsj")
    if agent is None:
        return 0
    texts, labels = corpus.corpus(TRAIN_TEXTS, seed=12345)
    await routing.store_model(session, classify.train(texts, labels, seed=12345), "demo")
    active = {
        code: dep_id
        for code, dep_id in (
            await session.execute(select(Department.code, Department.id).where(Department.active))
        ).all()
    }
    rng = random.Random(12345)  # noqa: S311 - demo data, not secrets
    now = clock.now()
    start = now - timedelta(days=365)
    made = 0
    ratings, weights = zip(*RATING_WEIGHTS, strict=True)

    def order_of(said: corpus.Said, category: str) -> OrderCreate:
        kind = corpus.KIND_OF.get(category) or rng.choice(("complaint", "complaint", "help"))
        answer = ANSWERS[-1] if kind == "consultation" and rng.random() < 0.5 else ""
        place = {"address": f"{said.district}{said.street}", "lon": said.lon, "lat": said.lat}
        return OrderCreate.model_validate(
            {
                "kind": kind,
                "category": category,
                "text": said.text,
                "place": place,
                "answer": answer,
            }
        )

    for i in range(YEAR_ORDERS):
        at = start + timedelta(days=365 * i / YEAR_ORDERS, hours=rng.uniform(0, 9))
        category = corpus.category_for(rng, clock.to_city(at).month)
        said = corpus.say(rng, category)
        with clock.frozen(at) as move:
            order = await service.create_order(
                session, agent, order_of(said, category), channel="phone"
            )
            made += 1
            target = routing.department_of(category)
            if order.state == "accepted" and target in active and target != service.centre_code():
                await service.dispatch(session, agent, order.id, target)
            if rng.random() < REPEAT_SHARE and order.state == "dispatched":
                # a neighbour calls about the same matter: proposed as a duplicate and merged
                move(timedelta(hours=rng.uniform(2, 30)))
                place = (said.district, said.street, said.lon, said.lat)
                again = await service.create_order(
                    session,
                    agent,
                    order_of(corpus.say(rng, category, place), category),
                    channel="phone",
                )
                made += 1
                proposals = await duplicates.proposals_of(session, again.id)
                if proposals:
                    with contextlib.suppress(Problem):
                        async with session.begin_nested():
                            await duplicates.merge(session, agent, again.id, order.id)
            if order.state != "dispatched" or ((now - at).days < 40 and rng.random() < 0.7):
                continue
            code = order.department_code
            officer = Principal(
                id=None, kind="staff", name=f"demo.{code.lower()}", department_id=active[code]
            )
            move(timedelta(hours=rng.uniform(1, 20)))
            await service.sign(session, officer, order.id)
            move(timedelta(days=rng.uniform(0.5, 8)))
            await service.reply(session, officer, order.id, rng.choice(ANSWERS))
            move(timedelta(days=rng.uniform(0.5, 3)))
            await service.visit(session, agent, order.id, rng.choices(ratings, weights)[0], "回访")
    return made
