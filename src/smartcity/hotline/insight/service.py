"""The insight's queries: hot spots (orders per district and street, per category and per
day or hour of a period), the rising topics of a week's order texts and the KPIs per
department and street.

Every count is one grouped query that runs on SQLite and PostgreSQL; the hot-spot queries
read only the covering index ``ix_hotline_order_insight`` (received_at, district, street,
category), so a month costs the same few index scans at a million orders. The KPIs join the
case engine's own verdict on each closed case (``cases.closed_outcomes``: on time by the
engine's deadline, working days taken), so there is no second clock. Days and hours are the
city's (Asia/Shanghai, UTC+8 all year since 1991).

Who sees what: the 12345 centre, supervisors, admins and auditors every order; the staff of
another department the orders it holds or handled; anyone else nothing (403)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal

import jieba
from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from smartcity.cases import contract as cases
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.hotline import service
from smartcity.hotline.categories import NODES
from smartcity.hotline.models import WorkOrder
from smartcity.registry import contract as registry

Period = Literal["day", "week", "month"]
Level = Literal["district", "street"]
KpiBy = Literal["department", "street"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
LEVELS: tuple[Level, ...] = ("district", "street")
KPI_BY: tuple[KpiBy, ...] = ("department", "street")
MAX_RANGE_DAYS = 366
FIRST_YEAR, LAST_YEAR = 2000, 2100
# Rising topics: this week against the 4 weeks before, at most this many texts a week (the
# newest), a term counted once per order, at least MIN_COUNT orders this week by default.
TOPIC_WEEKS_BEFORE = 4
TEXTS_PER_WEEK = 2000
MIN_COUNT = 3
MIN_COUNT_MAX = 1000
TOPICS_MAX = 50
SATISFIED = ("satisfied", "basically_satisfied")

logging.getLogger("jieba").setLevel(logging.WARNING)
jieba.setLogLevel(logging.WARNING)


# --- the city's days and hours in SQL --------------------------------------------------------


class city_day(FunctionElement[Any]):
    """The city day (Asia/Shanghai) of an instant: ``YYYY-MM-DD`` text on SQLite, the day's
    first instant on PostgreSQL (``bucket_key`` reads either)."""

    name = "city_day"
    inherit_cache = True


class city_hour(FunctionElement[Any]):
    """The city hour of an instant: ``YYYY-MM-DD HH`` on SQLite, its first instant on PG."""

    name = "city_hour"
    inherit_cache = True


@compiles(city_day, "sqlite")
def _city_day_sqlite(element: city_day, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"strftime('%Y-%m-%d', {compiler.process(arg, **kw)}, '+8 hours')"


@compiles(city_day, "postgresql")
def _city_day_postgresql(element: city_day, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    value = compiler.process(arg, **kw)
    return f"date_trunc('day', ({value} AT TIME ZONE 'UTC') + interval '8 hours')"


@compiles(city_hour, "sqlite")
def _city_hour_sqlite(element: city_hour, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"strftime('%Y-%m-%d %H', {compiler.process(arg, **kw)}, '+8 hours')"


@compiles(city_hour, "postgresql")
def _city_hour_postgresql(element: city_hour, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    value = compiler.process(arg, **kw)
    return f"date_trunc('hour', ({value} AT TIME ZONE 'UTC') + interval '8 hours')"


def bucket_key(value: Any, hourly: bool) -> str:
    """``YYYY-MM-DD`` (or ``YYYY-MM-DD HH``) of what ``city_day``/``city_hour`` gave."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H}" if hourly else f"{value:%Y-%m-%d}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value)


# --- the period asked for ----------------------------------------------------------------------


def city_instant(day: date) -> datetime:
    """The first instant of a city day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=clock.CITY_TZ).astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """Days ``first`` to ``last`` (both included) of the city, and their instants."""

    period: Period | Literal["range"]
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return city_instant(self.first)

    @property
    def end(self) -> datetime:
        return city_instant(self.last + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def hourly(self) -> bool:
        return self.days == 1

    def buckets(self) -> list[str]:
        """Every day of the window (every hour for a single day), for the series."""
        if self.hourly:
            return [f"{self.first:%Y-%m-%d} {h:02d}" for h in range(24)]
        return [f"{self.first + timedelta(days=i):%Y-%m-%d}" for i in range(self.days)]


def _check_day(day: date, field_name: str) -> date:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(
            _("Choose a date from %(first)s to %(last)s.")
            % {"first": FIRST_YEAR, "last": LAST_YEAR},
            field=field_name,
            slug="insight-date-out-of-range",
        )
    return day


def today() -> date:
    return clock.to_city(clock.now()).date()


def window(
    period: str = "month",
    on: date | None = None,
    first: date | None = None,
    last: date | None = None,
) -> Window:
    """The window of a period (the day, ISO week or month holding ``on``, today by default),
    or the range ``first``..``last`` (both given, at most a year); InvalidInput otherwise."""
    if period not in PERIODS:
        raise InvalidInput(
            _("The period is day, week or month."), field="period", slug="insight-bad-period"
        )
    if first is not None or last is not None:
        if first is None or last is None:
            raise InvalidInput(
                _("Give both the first and the last day of the range."),
                field="first" if first is None else "last",
                slug="insight-bad-range",
            )
        _check_day(first, "first")
        _check_day(last, "last")
        if last < first or (last - first).days + 1 > MAX_RANGE_DAYS:
            raise InvalidInput(
                _("The range runs forwards and spans at most %(n)s days.") % {"n": MAX_RANGE_DAYS},
                field="last",
                slug="insight-bad-range",
            )
        return Window("range", first, last)
    day = _check_day(on or today(), "date")
    if period == "day":
        return Window("day", day, day)
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        return Window("week", monday, monday + timedelta(days=6))
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return Window("month", start, following - timedelta(days=1))


def check_category(code: str | None) -> str | None:
    if code in (None, ""):
        return None
    if code not in NODES:
        raise InvalidInput(
            _("There is no category %(code)s; choose one from the list.") % {"code": code},
            field="category",
            slug="unknown-category",
        )
    return code


def category_level(code: str) -> int:
    return code.count(".") + 1


def category_condition(code: str | None) -> ColumnElement[bool] | None:
    if not code:
        return None
    return or_(WorkOrder.category_code == code, WorkOrder.category_code.like(f"{code}.%"))


# --- who sees what -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Every order (``department_code`` None), or those of one department."""

    department_code: str | None

    def conditions(self) -> tuple[ColumnElement[bool], ...]:
        if self.department_code is None:
            return ()
        return (
            or_(
                WorkOrder.department_code == self.department_code,
                WorkOrder.handling_department_code == self.department_code,
            ),
        )


def sees_everything(principal: Principal) -> bool:
    return principal.is_("supervisor", "admin", "auditor")


async def resolve_scope(session: AsyncSession, principal: Principal) -> Scope:
    """The orders the insight covers for this principal; Forbidden for citizens and others."""
    if sees_everything(principal):
        return Scope(None)
    if principal.kind == "staff":
        code = await service.department_code_of(session, principal)
        if code == service.centre_code():
            return Scope(None)
        if code:
            return Scope(code)
    raise Forbidden(
        _("The insight is for the 12345 centre, the departments and the supervisors."),
        slug="insight-forbidden",
    )


def _department_filter(scope: Scope, department: str | None) -> tuple[ColumnElement[bool], ...]:
    """A department chosen by the centre or a supervisor: the orders it handles."""
    if not department or scope.department_code is not None:
        return ()
    return (WorkOrder.handling_department_code == department,)


# --- hot spots -------------------------------------------------------------------------------


@dataclass
class PlaceCount:
    code: str  # "" for orders without a place
    district_code: str
    count: int


@dataclass
class CategoryCount:
    code: str
    count: int


@dataclass
class Hotspots:
    window: Window
    level: Level
    category: str | None
    department: str | None
    total: int
    places: list[PlaceCount]
    categories: list[CategoryCount]
    series: list[tuple[str, int]]


async def hotspots(
    session: AsyncSession,
    principal: Principal,
    win: Window,
    *,
    level: str = "district",
    category: str | None = None,
    category_depth: int = 1,
    department: str | None = None,
) -> Hotspots:
    """Orders received in the window per place (district or street), per category one level
    below the chosen one (or at ``category_depth`` when none is chosen) and per day (per hour
    for a single day), from three grouped queries."""
    if level not in LEVELS:
        raise InvalidInput(
            _("The level is district or street."), field="level", slug="insight-bad-level"
        )
    category = check_category(category)
    scope = await resolve_scope(session, principal)
    conditions: list[ColumnElement[bool]] = [
        WorkOrder.received_at >= win.start,
        WorkOrder.received_at < win.end,
        *scope.conditions(),
        *_department_filter(scope, department),
    ]
    chosen = category_condition(category)
    if chosen is not None:
        conditions.append(chosen)
    bucket = city_hour(WorkOrder.received_at) if win.hourly else city_day(WorkOrder.received_at)
    place_rows, cat_rows, series_rows = await _three_counts(session, conditions, bucket)
    by_place: dict[tuple[str, str], int] = defaultdict(int)
    total = 0
    # An order whose point lay in a street but in no district outline (a city with street
    # outlines only) belongs to the street's district, as the registry records it.
    streets = (
        await _street_districts(session)
        if any(street and not district for district, street, _n in place_rows)
        else {}
    )
    for district, street, n in place_rows:
        district = district or streets.get(street, "")
        key = (district, district) if level == "district" else (street, district)
        by_place[key] += int(n)
        total += int(n)
    places = [PlaceCount(code, district, n) for (code, district), n in by_place.items()]
    places.sort(key=lambda p: (-p.count, p.code))

    depth = category_level(category) + 1 if category else max(1, min(category_depth, 3))
    by_category: dict[str, int] = defaultdict(int)
    for code, n in cat_rows:
        by_category[_at_level(str(code), depth)] += int(n)
    categories = sorted(
        (CategoryCount(c, n) for c, n in by_category.items()), key=lambda c: (-c.count, c.code)
    )
    counts = {bucket_key(k, win.hourly): int(n) for k, n in series_rows}
    series = [(b, counts.get(b, 0)) for b in win.buckets()]
    return Hotspots(win, level, category, department, total, places, categories, series)


Rows = list[tuple[Any, ...]]


async def _three_counts(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], bucket: Any
) -> tuple[Rows, Rows, Rows]:
    """Counts per (district, street), per category and per bucket of the orders matching:
    three grouped index-only scans (GROUPING SETS in one scan measured slower on PostgreSQL:
    it sorts for the bucket's set)."""
    place = (WorkOrder.district_code, WorkOrder.street_code)
    found = []
    for keys in (place, (WorkOrder.category_code,), (bucket,)):
        rows = await session.execute(select(*keys, func.count()).where(*conditions).group_by(*keys))
        found.append([tuple(r) for r in rows.all()])
    return found[0], found[1], found[2]


async def _street_districts(session: AsyncSession) -> dict[str, str]:
    return {o.code: o.district_code for o in await registry.place_outlines(session, "street")}


def _at_level(code: str, depth: int) -> str:
    parts = code.split(".")
    return ".".join(parts[:depth])


# --- rising topics ---------------------------------------------------------------------------

# Words that say nothing of a topic: function words, the ways callers open and close a
# request, and the hotline's own vocabulary. Our own list, kept short on purpose.
STOP_WORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 有 没有 我 我们 你 你们 他 他们 她 它 这 那 这个 那个 这里 那里
    一个 一些 一直 已经 还是 还有 就是 但是 而且 因为 所以 如果 可以 能够 需要 希望 要求
    请求 反映 投诉 咨询 举报 建议 表扬 市民 来电 热线 工单 问题 情况 相关 部门 处理 解决
    尽快 及时 现在 目前 今天 昨天 明天 最近 每天 经常 多次 严重 影响 导致 出现 发生 进行
    没 不 也 都 很 太 非常 比较 一下 一样 什么 怎么 为什么 哪里 多少 谢谢 麻烦 您好 你好
    我家 本人 小区 附近 周边 位于 地址 联系 电话 回复 答复 落实 核实 查处 协调 告知 表示
    称 说 讲 问 被 把 让 给 对 从 向 到 于 为 以 等 等等 其 该 此 之 上 下 中 内 外 后 前
    很大 很多 不能 不到 无法 一点 有人 还要 发现 存在 造成
    """.split()  # noqa: SIM905 - a list of words reads best as words
)
_TERM = re.compile(r"^[\u4e00-\u9fff]{2,}$|^[A-Za-z][A-Za-z0-9]{2,}$")


@lru_cache(maxsize=50_000)
def terms_of(text: str) -> frozenset[str]:
    """The distinct terms of a text: jieba's words of two or more Chinese characters (or
    three or more Latin letters and digits), stop words left out."""
    return frozenset(
        t.lower()
        for t in jieba.lcut(text[:2000])
        if _TERM.match(t) and t not in STOP_WORDS and t.lower() not in STOP_WORDS
    )


@dataclass(frozen=True)
class Topic:
    term: str
    count: int  # orders of this week whose text has the term
    share: float  # of this week's orders
    previous_count: int  # in the 4 weeks before
    previous_share: float
    growth: float  # share minus previous share (percentage points / 100)


@dataclass
class Topics:
    week_first: date
    week_last: date
    orders: int
    previous_orders: int
    min_count: int
    category: str | None
    topics: list[Topic] = field(default_factory=list)


def rising(
    this_week: Sequence[str], before: Sequence[str], *, min_count: int, limit: int
) -> list[Topic]:
    """The terms whose share of the orders grew most from ``before`` to ``this_week``: a
    term counts once per order; only terms in at least ``min_count`` orders this week and
    with a grown share; most growth first, then the most orders, then the term."""
    now: dict[str, int] = defaultdict(int)
    for text in this_week:
        for term in terms_of(text):
            now[term] += 1
    then: dict[str, int] = defaultdict(int)
    for text in before:
        for term in terms_of(text):
            then[term] += 1
    n_now, n_then = len(this_week), len(before)
    found: list[Topic] = []
    for term, count in now.items():
        if count < min_count:
            continue
        share = count / n_now
        previous = then.get(term, 0)
        previous_share = previous / n_then if n_then else 0.0
        if share <= previous_share:
            continue
        found.append(Topic(term, count, share, previous, previous_share, share - previous_share))
    found.sort(key=lambda t: (-t.growth, -t.count, t.term))
    return found[:limit]


async def _texts(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], first: date, last: date
) -> list[str]:
    rows = await session.execute(
        select(WorkOrder.text)
        .where(
            *conditions,
            WorkOrder.received_at >= city_instant(first),
            WorkOrder.received_at < city_instant(last + timedelta(days=1)),
        )
        .order_by(WorkOrder.received_at.desc())
        .limit(TEXTS_PER_WEEK)
    )
    return [str(t) for t in rows.scalars()]


async def topics(
    session: AsyncSession,
    principal: Principal,
    *,
    on: date | None = None,
    category: str | None = None,
    min_count: int = MIN_COUNT,
    limit: int = 20,
    department: str | None = None,
) -> Topics:
    """The rising topics of the ISO week holding ``on`` (this week by default) against the
    4 weeks before it."""
    if not 1 <= min_count <= MIN_COUNT_MAX:
        raise InvalidInput(
            _("The minimum count is 1 to %(max)s.") % {"max": MIN_COUNT_MAX},
            field="min_count",
            slug="insight-bad-min-count",
        )
    if not 1 <= limit <= TOPICS_MAX:
        raise InvalidInput(
            _("Ask for 1 to %(max)s topics.") % {"max": TOPICS_MAX},
            field="limit",
            slug="insight-bad-limit",
        )
    category = check_category(category)
    win = window("week", on)
    scope = await resolve_scope(session, principal)
    conditions: list[ColumnElement[bool]] = [
        *scope.conditions(),
        *_department_filter(scope, department),
    ]
    chosen = category_condition(category)
    if chosen is not None:
        conditions.append(chosen)
    this_week = await _texts(session, conditions, win.first, win.last)
    before: list[str] = []
    for weeks in range(1, TOPIC_WEEKS_BEFORE + 1):
        first = win.first - timedelta(days=7 * weeks)
        before += await _texts(session, conditions, first, first + timedelta(days=6))
    found = await asyncio.to_thread(rising, this_week, before, min_count=min_count, limit=limit)
    return Topics(win.first, win.last, len(this_week), len(before), min_count, category, found)


# --- KPIs ------------------------------------------------------------------------------------


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass
class Kpi:
    """One row of the KPI table: the counts, and the rates and times they give."""

    key: str
    district_code: str = ""
    received: int = 0
    closed: int = 0
    on_time: int = 0
    dispatched: int = 0
    returned: int = 0
    rated: int = 0
    satisfied: int = 0
    reworked: int = 0
    days: dict[int, int] = field(default_factory=dict)  # closed orders per working days taken

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def closed_rate(self) -> float | None:
        return self._rate(self.closed, self.received)

    @property
    def on_time_rate(self) -> float | None:
        return self._rate(self.on_time, self.closed)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._rate(self.satisfied, self.rated)

    @property
    def return_rate(self) -> float | None:
        return self._rate(self.returned, self.dispatched)

    @property
    def rework_rate(self) -> float | None:
        return self._rate(self.reworked, self.rated)

    @property
    def average_days(self) -> float | None:
        n = sum(self.days.values())
        return sum(d * c for d, c in self.days.items()) / n if n else None

    @property
    def p90_days(self) -> int | None:
        return percentile(self.days, 0.9)

    def merge(self, other: Kpi) -> None:
        for name in ("received", "closed", "on_time", "dispatched", "returned", "rated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.satisfied += other.satisfied
        self.reworked += other.reworked
        for d, c in other.days.items():
            self.days[d] = self.days.get(d, 0) + c


def percentile(histogram: dict[int, int], q: float) -> int | None:
    """The smallest value at or below which a ``q`` share of the counted items lie."""
    n = sum(histogram.values())
    if not n:
        return None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= q * n:
            return value
    return max(histogram)


@dataclass
class Kpis:
    window: Window
    by: KpiBy
    category: str | None
    rows: list[Kpi]
    total: Kpi


async def kpis(
    session: AsyncSession,
    principal: Principal,
    win: Window,
    *,
    by: str = "department",
    category: str | None = None,
    department: str | None = None,
) -> Kpis:
    """The KPIs of the orders received in the window, per handling department (the 12345
    centre for orders it closed itself) or per street, from one grouped query over the
    orders joined with the engine's verdict on their cases."""
    if by not in KPI_BY:
        raise InvalidInput(
            _("The table is per department or per street."), field="by", slug="insight-bad-by"
        )
    category = check_category(category)
    scope = await resolve_scope(session, principal)
    outcomes = cases.closed_outcomes().subquery()
    returned = WorkOrder.case_id.in_(cases.case_ids_with_step("return"))
    conditions: list[ColumnElement[bool]] = [
        WorkOrder.received_at >= win.start,
        WorkOrder.received_at < win.end,
        *_department_filter(scope, department),
    ]
    if scope.department_code is not None:
        # A department's own rows: the orders it handled.
        conditions.append(WorkOrder.handling_department_code == scope.department_code)
    chosen = category_condition(category)
    if chosen is not None:
        conditions.append(chosen)
    keys: tuple[Any, ...] = (
        (WorkOrder.handling_department_code,)
        if by == "department"
        else (WorkOrder.street_code, WorkOrder.district_code)
    )
    statement = (
        select(
            *keys,
            outcomes.c.handled_workdays,
            func.count(),
            _sum(outcomes.c.on_time.is_not(None)),
            _sum(outcomes.c.on_time.is_(True)),
            _sum(WorkOrder.dispatched_at.is_not(None)),
            _sum(returned),
            _sum(WorkOrder.rating != ""),
            _sum(WorkOrder.rating.in_(SATISFIED)),
            _sum(WorkOrder.reworks > 0),
        )
        .select_from(WorkOrder)
        .outerjoin(outcomes, outcomes.c.case_id == WorkOrder.case_id)
        .where(*conditions)
        .group_by(*keys, outcomes.c.handled_workdays)
    )
    centre = service.centre_code()
    rows: dict[str, Kpi] = {}
    for found in (await session.execute(statement)).all():
        values = list(found)
        if by == "department":
            key, district = str(values.pop(0)) or centre, ""
        else:
            key, district = str(values.pop(0)), str(values.pop(0))
        handled, n, closed, on_time, dispatched, back, rated, satisfied, reworked = values
        part = Kpi(
            key,
            district,
            received=int(n),
            closed=int(closed),
            on_time=int(on_time),
            dispatched=int(dispatched),
            returned=int(back),
            rated=int(rated),
            satisfied=int(satisfied),
            reworked=int(reworked),
            days={int(handled): int(closed)} if handled is not None and closed else {},
        )
        rows.setdefault(key, Kpi(key, district)).merge(part)
    total = Kpi("")
    for row in rows.values():
        total.merge(row)
    ordered = sorted(rows.values(), key=lambda r: (-r.received, r.key))
    return Kpis(win, by, category, ordered, total)
