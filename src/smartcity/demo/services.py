"""The demo's applications (示例办件): a few hundred cases over the last six months across the
catalog's items, in every state of the application type, made through the engine's own
functions at frozen past times, so clocks, pauses, warnings, handling times, flags, licences,
notices and ratings are all real. Idempotent: a second run adds nothing.

Some cases run late (红牌) and some are near their limit (黄牌); one is reopened after
closing, one corrected out of order, a few refused with an empty reason or not accepted
although complete (电子监察 flags them); the supervisor has reviewed most older flags.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.core import accounts, audit, clock
from smartcity.core.authz import Principal
from smartcity.core.ids import make_resident_id, make_uscc
from smartcity.core.models import Account, Department
from smartcity.core.schemas import AccountCreate
from smartcity.core.security import principal_of
from smartcity.core.workdays import WorkCalendar, load_calendar
from smartcity.registry import contract as registry
from smartcity.services.events import SUBMITTED
from smartcity.services.models import Application, ServiceItem
from smartcity.services.types import BASE_NAME

DEMO_SEED = 20261124
DAYS_BACK = 182

# Background applicants of the demo; their passwords are generated and never shown.
CITIZENS = [
    ("demo.zhangmin", "张敏"),
    ("demo.liqiang", "李强"),
    ("demo.wangfang", "王芳"),
    ("demo.chenjie", "陈杰"),
    ("demo.liuyang", "刘洋"),
    ("demo.huangli", "黄丽"),
]
ENTERPRISES = [
    ("demo.pengcheng.food", "深圳市鹏城食品有限公司"),
    ("demo.qianhai.build", "深圳前海建设工程有限公司"),
    ("demo.nanshan.health", "深圳市南山康宁医疗管理有限公司"),
    ("demo.futian.logistics", "深圳市福田顺达物流有限公司"),
]
# An officer (经办人) per department that has items, unless the department has staff already.
OFFICERS = {
    "SCJGJ": "周婷",
    "GAJ": "吴磊",
    "RSJ": "郑慧",
    "GHZRJ": "孙浩",
    "ZJJ": "马俊",
    "SWJ": "朱琳",
    "WJW": "胡静",
    "JTYSJ": "郭涛",
    "STHJJ": "何丹",
}

# What becomes of a case, with its share of the demo; every state appears at least twice.
FATES: list[tuple[str, float]] = [
    ("delivered", 0.50),
    ("refused", 0.05),
    ("not_accepted", 0.04),
    ("approved", 0.05),
    ("reviewing", 0.11),
    ("awaiting_supplement", 0.06),
    ("accepted", 0.07),
    ("submitted", 0.12),
]
CLOSED = frozenset({"delivered", "refused", "not_accepted"})
RATED_SHARE = 0.68

SUPPLEMENT_ASKS = [
    "请补充提交经营场所产权证明或租赁合同",
    "身份证明复印件不清晰，请重新上传",
    "请补充提交法定代表人签字的申请书原件扫描件",
    "平面布局图未标注功能分区，请补正",
    "请补充近三个月社保缴纳证明",
]
REFUSALS = [
    "经现场核查，经营场所与《食品安全法》第三十三条规定的卫生条件不符",
    "申请人未取得消防验收合格意见，不符合《建设工程消防设计审查验收管理暂行规定》",
    "拟建项目用地性质与控制性详细规划不符",
    "申请人不符合本市居住证申领条件（连续居住未满六个月）",
]
EMPTY_REFUSALS = ["不符合条件", "材料不全"]
# The approval opinion (审批意见) every decision carries.
OPINIONS = {
    "approve": "经审查，申请材料齐全、符合法定形式，符合许可条件，同意准予许可。",
    "refuse": "经审查，申请不符合许可条件，拟不予许可，理由见决定书。",
    "not_accept": "申请事项不属于本机关职权范围或材料不符合受理条件，不予受理。",
}
NOT_ACCEPTED = [
    "申请事项不属于本机关职权范围，请向区住房和建设局申请",
    "申请人不具备申请资格（非本市户籍且无居住证）",
    "同一事项已有在办申请，不得重复提交",
]
COMMENTS = {
    5: ["办理很快，窗口服务热情", "全程网办，不用跑腿，点赞", "比承诺时间提前办结，满意"],
    4: ["整体顺利，补正说明可以更清楚一些", "办理及时"],
    3: ["等待时间有点长", "一般"],
    2: ["补正要求前后不一致，来回跑了两次", "超过承诺时限才办结"],
    1: ["超期很久没有人联系", "不予许可的理由没有说清楚"],
}
REVIEW_NOTES = {
    "qualifying_not_accepted": (
        "经核查，申请事项确不属本机关职权，不予受理决定适当，已告知申请人向有权机关申请"
    ),
    "refusal_without_reason": "已约谈经办人，责令补充书面理由并重新送达申请人",
    "out_of_order": "系统故障导致审查环节漏记，已补录并说明情况",
    "reopened": "行政复议决定撤销原决定，重新办理程序合规",
}
SAMPLE_ANSWERS = {
    "address": "深圳市南山区粤海街道科技园社区科苑路15号",
    "trade_name": "老街面馆",
    "scope": "餐饮服务（小型餐馆）",
    "company_name": "深圳市星河数字科技有限公司",
    "capital": "100",
    "premises": "深圳市福田区华强北街道华航社区振华路21号",
    "category": "热食类食品制售",
    "new_name": "深圳市鹏城优选食品有限公司",
    "child_name": "张小宇",
    "purpose": "出国留学",
    "household": "3",
    "location": "深圳市宝安区新安街道海滨社区宝兴路8号",
    "project": "南山科技园配套人才公寓项目",
    "site": "深圳市南山区西丽街道留仙大道旁",
    "source": "地下水",
    "volume": "12000",
    "routes": "深圳—广州、深圳—东莞",
    "contact": "刘经理",
}


@dataclass
class Item:
    id: uuid.UUID
    code: str
    name: str
    department: str
    statutory: int
    promised: int
    kinds: list[str]
    fields: list[dict[str, Any]]


@dataclass
class Applicant:
    principal: Principal
    kind: str
    name: str
    id_number: str
    phone: str
    uscc: str = ""


@dataclass
class Plan:
    """One case to make: its item, applicant, fate and the instants of its steps."""

    item: Item
    applicant: Applicant
    fate: str
    opened_at: datetime
    steps: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    case_id: uuid.UUID | None = None


Action = Callable[[], Awaitable[None]]


def _city(day: date, hour: float) -> datetime:
    minutes = int(hour * 60)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=clock.CITY_TZ)


def _workday_on_or_after(calendar: WorkCalendar, day: date) -> date:
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def _workdays_back(calendar: WorkCalendar, day: date, n: int) -> date:
    while n > 0:
        day -= timedelta(days=1)
        n -= calendar.is_workday(day)
    return _workday_on_or_after(calendar, day)


class _Schedule:
    """Instants of a case's steps on working days counted from the opening, in order and
    never after ``limit`` (now): a step that cannot fit is left out."""

    def __init__(
        self, calendar: WorkCalendar, opened: datetime, limit: datetime, rng: random.Random
    ) -> None:
        self.calendar = calendar
        self.opened = opened
        self.limit = limit
        self.rng = rng
        self.last = opened

    def at(self, workdays: int) -> datetime | None:
        day = clock.to_city(self.opened).date()
        if workdays > 0:
            day = self.calendar.add_workdays(self.opened, workdays).due_date
        instant = _city(day, self.rng.uniform(9.0, 17.5))
        if instant <= self.last:
            instant = self.last + timedelta(minutes=self.rng.randint(15, 90))
        if instant >= self.limit:
            instant = self.last + (self.limit - self.last) / 2
            if instant - self.last < timedelta(minutes=1):
                return None
        self.last = instant
        return instant


def _fates(count: int, rng: random.Random) -> list[str]:
    quotas = {name: max(2, round(share * count)) for name, share in FATES}
    quotas["delivered"] += count - sum(quotas.values())
    fates = [name for name, n in quotas.items() for _ in range(max(0, n))]
    rng.shuffle(fates)
    return fates[:count]


def _plan(
    rng: random.Random,
    calendar: WorkCalendar,
    now: datetime,
    item: Item,
    applicant: Applicant,
    fate: str,
) -> Plan:
    today = clock.to_city(now).date()
    promised = item.promised
    if fate in CLOSED:
        late = fate == "delivered" and rng.random() < 0.12
        handled = (
            rng.randint(promised + 1, promised + max(2, promised // 2))
            if late
            else rng.randint(math.ceil(0.2 * promised), promised)
        )
        if fate == "not_accepted":
            handled = rng.randint(0, 2)
        paused = rng.randint(2, 6) if fate == "delivered" and rng.random() < 0.2 else 0
        span = handled + paused + 3  # room for the rating after closing
        latest = _workdays_back(calendar, today, span)
        earliest = today - timedelta(days=DAYS_BACK)
        first = earliest + timedelta(days=rng.randint(0, max(0, (latest - earliest).days)))
        opened = _city(_workday_on_or_after(calendar, min(first, latest)), rng.uniform(8.5, 17))
    else:
        # Where an open case stands against its promise now: most well within it, some near
        # the end (黄牌), some past it (红牌).
        roll = rng.random()
        if roll < 0.2:
            elapsed = rng.randint(
                math.ceil(0.8 * promised), max(math.ceil(0.8 * promised), promised - 1)
            )
        elif roll < 0.35:
            elapsed = rng.randint(promised + 1, promised + 12)
        else:
            elapsed = rng.randint(0, max(0, int(0.6 * promised)))
        if fate == "submitted":
            elapsed = min(elapsed, rng.choice((1, 2, 3, 4, 7, 9)))
        handled, paused = elapsed, (rng.randint(1, 5) if fate == "awaiting_supplement" else 0)
        opened_day = _workdays_back(calendar, today, elapsed)
        opened = _city(opened_day, rng.uniform(8.5, 11.5 if elapsed == 0 else 17))
        if opened >= now:
            opened = now - timedelta(hours=2)
    plan = Plan(item, applicant, fate, opened)
    _steps(plan, rng, calendar, now, handled, paused)
    return plan


def _steps(
    plan: Plan,
    rng: random.Random,
    calendar: WorkCalendar,
    now: datetime,
    handled: int,
    paused: int,
) -> None:
    """The steps towards the plan's fate on working days after the opening: acceptance within
    two days, review, a 补正 pause of ``paused`` days for some, the decision after ``handled``
    working days of handling (pauses not counted), delivery."""
    s = _Schedule(calendar, plan.opened_at, now, rng)
    wanted: list[tuple[int, str, dict[str, Any]]] = []
    fate = plan.fate
    accept_day = min(handled, rng.randint(0, 2))
    review_day = min(handled, accept_day + rng.randint(0, 1))
    decide = handled + paused
    if fate == "not_accepted":
        wanted.append(
            (
                handled,
                "not_accept",
                {"reason": rng.choice(NOT_ACCEPTED), "opinion": OPINIONS["not_accept"]},
            )
        )
    elif fate != "submitted":
        wanted.append((accept_day, "accept", {}))
        if fate != "accepted":
            wanted.append((review_day, "review", {}))
    if fate == "awaiting_supplement":
        ask = min(handled, review_day + rng.randint(0, 2))
        wanted.append((ask, "request_supplement", {"missing": rng.choice(SUPPLEMENT_ASKS)}))
    elif paused and fate in ("delivered", "approved", "refused"):
        ask = review_day + 1
        wanted.append((ask, "request_supplement", {"missing": rng.choice(SUPPLEMENT_ASKS)}))
        wanted.append((ask + paused, "supplement", {}))
    if fate == "refused":
        wanted.append(
            (decide, "refuse", {"reason": rng.choice(REFUSALS), "opinion": OPINIONS["refuse"]})
        )
    elif fate in ("approved", "delivered"):
        wanted.append(
            (
                max(review_day, decide - rng.randint(0, 1)),
                "approve",
                {"opinion": OPINIONS["approve"]},
            )
        )
        if fate == "delivered":
            wanted.append((decide, "deliver", {}))
    for workdays, name, fields in wanted:
        when = s.at(workdays)
        if when is None:
            return
        plan.steps.append((when, name, fields))


def _rating(rng: random.Random, fate: str, late: bool) -> int:
    if fate in ("refused", "not_accepted"):
        return rng.choices((1, 2, 3, 4, 5), (25, 25, 25, 15, 10))[0]
    if late:
        return rng.choices((1, 2, 3, 4, 5), (10, 15, 20, 30, 25))[0]
    return rng.choices((1, 2, 3, 4, 5), (1, 1, 6, 22, 70))[0]


async def _items(session: AsyncSession) -> list[Item]:
    rows = await session.execute(
        select(ServiceItem, Department.code)
        .join(Department, Department.id == ServiceItem.department_id)
        .where(ServiceItem.active)
        .order_by(ServiceItem.code)
    )
    return [
        Item(
            i.id,
            i.code,
            i.name,
            code,
            i.statutory_days,
            i.promised_days,
            list(i.applicant_kinds),
            list(i.form_fields),
        )
        for i, code in rows.all()
    ]


async def _account(
    session: AsyncSession,
    principal: Principal,
    username: str,
    name: str,
    kind: str,
    dep: str | None,
) -> Account:
    found = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    if found is not None:
        return found
    account, _password = await accounts.create_account(
        session,
        principal,
        AccountCreate(username=username, display_name=name, kind=kind, department_code=dep),
    )
    return account


async def _applicants(
    session: AsyncSession, principal: Principal, rng: random.Random
) -> tuple[list[Applicant], list[Applicant]]:
    """The demo's background citizens and enterprises (not linked to registry records: the
    registries' demo links only the demo's own accounts), plus the demo's own ``citizen``
    and ``enterprise`` accounts when they exist, with their records' data where linked."""
    citizens: list[Applicant] = []
    enterprises: list[Applicant] = []
    for n, (username, name) in enumerate(CITIZENS):
        account = await _account(session, principal, username, name, "citizen", None)
        id_number = make_resident_id("440305", date(1980 + n * 3, 1 + n, 10 + n), 100 + n)
        citizens.append(
            Applicant(
                principal_of(account, "session"), "citizen", name, id_number, f"1380013{n:04d}"
            )
        )
    for n, (username, name) in enumerate(ENTERPRISES):
        account = await _account(session, principal, username, name, "enterprise", None)
        uscc = make_uscc("9", "1", "440300", f"MA5{n:05d}")
        phone = f"0755-8{n:03d}6688"
        enterprises.append(
            Applicant(principal_of(account, "session"), "enterprise", name, "", phone, uscc)
        )
    # The demo's own accounts apply too, so signing in as them shows applications.
    own_citizen = await _own(session, "citizen")
    if own_citizen is not None:
        own = principal_of(own_citizen, "session")
        person = await registry.own_record(session, own)  # their own record: unmasked
        values = person.values if person else {}
        citizens.append(
            Applicant(
                own,
                "citizen",
                str(values["name"]) if person else own_citizen.display_name,
                str(values["id_number"])
                if person
                else make_resident_id("440304", date(1990, 5, 5), 77),
                str(values.get("phone") or "") or "13800138000",
            )
        )
    own_enterprise = await _own(session, "enterprise")
    if own_enterprise is not None:
        own = principal_of(own_enterprise, "session")
        org = await registry.own_record(session, own)
        enterprises.append(
            Applicant(
                own,
                "enterprise",
                str(org.values["name"]) if org else own_enterprise.display_name,
                "",
                "0755-86668888",
                str(org.values["uscc"]) if org else make_uscc("9", "1", "440300", "MA5DEM10"),
            )
        )
    rng.shuffle(citizens)
    return citizens, enterprises


async def _own(session: AsyncSession, kind: str) -> Account | None:
    """The demo's own account of this kind (user name = kind), if seeded."""
    account = (
        await session.execute(select(Account).where(Account.username == kind))
    ).scalar_one_or_none()
    return account if account is not None and account.kind == kind else None


async def _officers(
    session: AsyncSession, principal: Principal, departments: set[str]
) -> dict[str, Principal]:
    found: dict[str, Principal] = {}
    for code in sorted(departments):
        dep = (
            await session.execute(select(Department).where(Department.code == code))
        ).scalar_one()
        staff = (
            await session.execute(
                select(Account)
                .where(Account.department_id == dep.id, Account.kind == "staff", Account.active)
                .order_by(Account.username)
                .limit(1)
            )
        ).scalar_one_or_none()
        if staff is None:
            name = OFFICERS.get(code, "经办人")
            staff = await _account(
                session,
                principal,
                f"officer.{code.lower()}",
                f"{name}（{dep.name}）",
                "staff",
                code,
            )
        found[code] = principal_of(staff, "session")
    return found


def _answers(item: Item, applicant: Applicant) -> dict[str, str]:
    values = {
        "name": applicant.name,
        "id_number": applicant.id_number,
        "phone": applicant.phone,
        "org_name": applicant.name,
        "uscc": applicant.uscc,
        "birth_date": "2026-08-18",
        **SAMPLE_ANSWERS,
    }
    return {f["name"]: values.get(f["name"], "") for f in item.fields if values.get(f["name"])}


def _case_data(item: Item, applicant: Applicant, application_id: uuid.UUID) -> dict[str, Any]:
    """What an online submission keeps in the case (as services.applications does), without
    uploaded files: the demo stores no documents."""
    answers = _answers(item, applicant)
    return {
        "item_code": item.code,
        "item_name": item.name,
        "application_id": str(application_id),
        "applicant_kind": applicant.kind,
        "answers": answers,
        "prefilled": {},
        "fields": [
            {
                "name": f["name"],
                "label": f.get("label", f["name"]),
                "type": f.get("type", "text"),
                "value": answers.get(f["name"], ""),
                "source": None,
            }
            for f in item.fields
        ],
        "materials": [],
        "registry_materials": [],
        "complete": True,
        "missing_optional": [],
    }


async def seed_demo_cases(session: AsyncSession, principal: Principal, count: int = 300) -> int:
    """Make ``count`` demo applications with their cases, once. Needs the service items
    (services.seed) and the departments; returns how many cases were made (0 when the demo
    applicants have applied already or there are no items)."""
    already = (
        await session.execute(
            select(func.count())
            .select_from(Application)
            .join(Account, Account.id == Application.applicant_account_id)
            .where(Account.username.like("demo.%"))
        )
    ).scalar_one()
    items = await _items(session)
    if already or not items or count <= 0:
        return 0
    rng = random.Random(DEMO_SEED)  # noqa: S311 - reproducible demo data, not secrets
    now = clock.now()
    calendar = await load_calendar(session)
    citizens, enterprises = await _applicants(session, principal, rng)
    officers = await _officers(session, principal, {i.department for i in items})
    plans: list[Plan] = []
    for n, fate in enumerate(_fates(count, rng)):
        item = items[n % len(items)] if n < len(items) else rng.choice(items)
        kind = "enterprise" if item.kinds == ["enterprise"] else "citizen"
        if kind == "citizen" and "enterprise" in item.kinds and rng.random() < 0.4:
            kind = "enterprise"
        pool = enterprises if kind == "enterprise" else citizens
        plans.append(_plan(rng, calendar, now, item, rng.choice(pool), fate))
    _mark_irregular(plans)
    await _run(session, principal, plans, officers, rng, calendar, now)
    return len(plans)


def _mark_irregular(plans: list[Plan]) -> None:
    """Empty-reason decisions (空洞理由): the latest and the earliest refusal and the latest
    case not accepted, so the board has such a flag open and one already reviewed."""

    def decided(fate: str, step: str) -> list[Plan]:
        found = [p for p in plans if p.fate == fate and p.steps and p.steps[-1][1] == step]
        return sorted(found, key=lambda p: p.steps[-1][0], reverse=True)

    refused = decided("refused", "refuse")
    marked = [
        (p, EMPTY_REFUSALS[0]) for p in {id(p): p for p in refused[:1] + refused[-1:]}.values()
    ]
    marked += [(p, EMPTY_REFUSALS[1]) for p in decided("not_accepted", "not_accept")[:1]]
    for plan, reason in marked:
        when, name, fields = plan.steps[-1]
        plan.steps[-1] = (when, name, {**fields, "reason": reason})


async def _run(
    session: AsyncSession,
    principal: Principal,
    plans: list[Plan],
    officers: dict[str, Principal],
    rng: random.Random,
    calendar: WorkCalendar,
    now: datetime,
) -> None:
    """Play every step of every plan in time order, sweeping the clocks once a day as the
    platform's job would, then rate, correct and review, and sweep at now."""
    queue: list[tuple[datetime, int, int, str, dict[str, Any]]] = []
    for n, plan in enumerate(plans):
        queue.append((plan.opened_at, n, 0, "open", {}))
        for k, (when, name, fields) in enumerate(plan.steps, start=1):
            queue.append((when, n, k, name, fields))
    heapq.heapify(queue)
    swept = clock.to_city(min(p.opened_at for p in plans)).date()
    while queue:
        when, n, _k, name, fields = heapq.heappop(queue)
        swept = await _sweep_until(session, swept, clock.to_city(when).date())
        plan = plans[n]
        if name == "rate":
            await _rate(session, plan, when, rng)
            continue
        with clock.frozen(when):
            if name == "open":
                await _open(session, plan)
                continue
            assert plan.case_id is not None
            # 补正 is the applicant's step; every other one the department's officer's.
            who = (
                plan.applicant.principal if name == "supplement" else officers[plan.item.department]
            )
            await cases.transition(session, who, plan.case_id, name, fields=fields)
        if name in ("deliver", "refuse", "not_accept") and rng.random() < RATED_SHARE:
            rated_at = when + timedelta(hours=rng.randint(2, 60))
            if rated_at < now:
                heapq.heappush(queue, (rated_at, n, 99, "rate", {}))
    await _sweep_until(session, swept, clock.to_city(now).date())
    await _corrections(session, plans, officers, now)
    await _reviews(session, principal, now)
    await cases.sweep_warnings(session, now=now)
    await _urgings(session, plans, officers, now)


async def _sweep_until(session: AsyncSession, after: date, day: date) -> date:
    """The daily sweeps between two days, just after midnight when the day's limits end."""
    current = after
    while current < day:
        current += timedelta(days=1)
        await cases.sweep_warnings(session, now=_city(current, 0.1))
    return current


async def _open(session: AsyncSession, plan: Plan) -> None:
    item, applicant = plan.item, plan.applicant
    application_id = uuid.uuid4()
    case_ = await cases.open_case(
        session,
        applicant.principal,
        case_type=BASE_NAME,
        title=f"{item.name}（{applicant.name}）",
        department_code=item.department,
        data=_case_data(item, applicant, application_id),
        category=item.code,
        statutory_days=item.statutory,
        promised_days=item.promised,
    )
    plan.case_id = case_.id
    session.add(
        Application(
            id=application_id,
            item_id=item.id,
            applicant_account_id=applicant.principal.id,
            answers=_answers(item, applicant),
            status="submitted",
            submitted_at=case_.opened_at,
            case_id=case_.id,
            created_at=case_.opened_at - timedelta(minutes=12),
        )
    )
    await session.flush()
    await audit.log(
        session,
        applicant.principal,
        SUBMITTED.name,
        str(application_id),
        case=case_.number,
        item=item.code,
        demo=True,
    )


async def _rate(session: AsyncSession, plan: Plan, when: datetime, rng: random.Random) -> None:
    assert plan.case_id is not None
    case_ = await cases.case_by_id(session, plan.case_id)
    assert case_ is not None
    on_time = case_.on_time
    score = _rating(rng, plan.fate, on_time is False)
    comment = rng.choice(COMMENTS[score]) if rng.random() < 0.5 else ""
    with clock.frozen(when):
        await cases.rate(session, plan.applicant.principal, plan.case_id, score, comment)


async def _corrections(
    session: AsyncSession, plans: list[Plan], officers: dict[str, Principal], now: datetime
) -> None:
    """纠错 the supervisors will see: a delivered case reopened after an administrative review,
    and an accepted case moved straight to approval (a step out of order)."""
    delivered = [p for p in plans if p.fate == "delivered" and p.case_id is not None]
    accepted = [p for p in plans if p.fate == "accepted" and p.case_id is not None]
    moves = []
    if delivered:
        moves.append(
            (
                delivered[len(delivered) // 2],
                "reviewing",
                "行政复议决定撤销原许可决定，责令重新审查",
            )
        )
    if accepted:
        moves.append((accepted[0], "approved", "审查环节在纸质流程中完成，系统补录审批结果"))
    for n, (plan, state, reason) in enumerate(moves):
        assert plan.case_id is not None
        with clock.frozen(now - timedelta(days=2 + n, hours=3)):
            await cases.correct(
                session, officers[plan.item.department], plan.case_id, state, reason
            )


# 督办 on the board: the two oldest red cases, one answered and one left past its deadline.
URGINGS = (
    (
        "已超过承诺时限，请说明原因并尽快办结。",
        "材料核查需现场勘验，已安排，预计两个工作日内办结。",
    ),
    ("请于三个工作日内书面说明超期原因。", None),
)


async def _urgings(
    session: AsyncSession, plans: list[Plan], officers: dict[str, Principal], now: datetime
) -> None:
    supervisor = (
        await session.execute(
            select(Account)
            .where(Account.kind == "supervisor", Account.active)
            .order_by(Account.username)
            .limit(1)
        )
    ).scalar_one_or_none()
    if supervisor is None:
        return
    urger = principal_of(supervisor, "session")
    red = []
    for plan in sorted(plans, key=lambda p: p.opened_at):
        if plan.case_id is None:
            continue
        case_ = await cases.case_by_id(session, plan.case_id)
        if (
            case_ is not None
            and case_.closed_at is None
            and case_.paused_at is None
            and ("red" in (case_.statutory_warning, case_.promised_warning))
        ):
            red.append(plan)
    for (note, answer), plan in zip(URGINGS, red, strict=False):
        assert plan.case_id is not None
        with clock.frozen(now - timedelta(days=8)):
            item = await cases.urge(session, urger, plan.case_id, note, 3)
        if answer is not None:
            with clock.frozen(now - timedelta(days=7)):
                await cases.reply_urge(session, officers[plan.item.department], item.id, answer)


async def _reviews(session: AsyncSession, principal: Principal, now: datetime) -> None:
    """The supervisor has reviewed the flags older than two weeks but the latest of each
    kind, so the board has every kind to show, open and reviewed."""
    supervisor = (
        await session.execute(
            select(Account)
            .where(Account.kind == "supervisor", Account.active)
            .order_by(Account.username)
            .limit(1)
        )
    ).scalar_one_or_none()
    reviewer = principal_of(supervisor, "session") if supervisor is not None else principal
    rows = [(f.id, f.kind, f.raised_at) for f in await cases.open_flags(session)]
    latest = {kind: flag_id for flag_id, kind, _raised in reversed(rows)}
    for flag_id, kind, raised_at in reversed(rows):
        if flag_id == latest[kind] or raised_at >= now - timedelta(days=14):
            continue
        with clock.frozen(min(now, raised_at + timedelta(days=3, hours=2))):
            await cases.review_flag(session, reviewer, flag_id, REVIEW_NOTES[kind])
