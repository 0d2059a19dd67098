"""The demo's registries: a plausible Shenzhen of synthetic places, persons and organizations.

Every district gets real street names, made-up communities and rectangular grids inside a
rough box of the district (so point-in-polygon works), Faker zh_CN residents with valid ID
numbers and organizations with valid credit codes; about one record in a hundred carries a
deliberate data-quality problem for the quality page. Clearly synthetic: no real person.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any, cast

from faker import Faker
from shapely.geometry import shape
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal
from smartcity.core.ids import (
    SHENZHEN_DISTRICTS,
    InvalidIdentifier,
    make_resident_id,
    make_uscc,
    parse_resident_id,
    resolves_to_gb,
)
from smartcity.core.models import Account
from smartcity.registry import organizations, places, quality, records, service, stewardship
from smartcity.registry.models import Organization, Person, Place, RecordVersion
from smartcity.registry.places import GridIndex
from smartcity.registry.rows import (
    BATCH_SIZE,
    bulk_insert,
    first_versions,
    insert_organizations,
    insert_persons,
)

DEMO_SEED = 20261124
# The reason the demo city's records carry, in the words an official reading the history
# would write (演示数据), shown as data like any typed reason.
DEMO_REASON = "演示数据"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Rough, non-overlapping boxes (min lon, min lat, max lon, max lat) placed where each
# district lies; real boundaries are not rectangles, and these are for a demo only.
DISTRICT_BOXES: dict[str, tuple[float, float, float, float]] = {
    "440303": (114.09, 22.53, 114.18, 22.61),  # 罗湖
    "440304": (114.00, 22.50, 114.09, 22.58),  # 福田
    "440305": (113.88, 22.48, 114.00, 22.60),  # 南山
    "440306": (113.76, 22.55, 113.88, 22.80),  # 宝安
    "440307": (114.10, 22.63, 114.32, 22.78),  # 龙岗
    "440308": (114.18, 22.55, 114.30, 22.63),  # 盐田
    "440309": (113.99, 22.62, 114.10, 22.76),  # 龙华
    "440310": (114.32, 22.66, 114.42, 22.78),  # 坪山
    "440311": (113.88, 22.70, 113.99, 22.82),  # 光明
    "4403DP": (114.42, 22.50, 114.58, 22.64),  # 大鹏新区
}
# Real street (街道) names; the demo takes three to six of each district's.
STREETS: dict[str, tuple[str, ...]] = {
    "440303": ("桂园", "黄贝", "东门", "翠竹", "南湖", "笋岗", "东湖", "莲塘", "东晓", "清水河"),
    "440304": ("园岭", "南园", "福田", "沙头", "香蜜湖", "莲花", "华富", "梅林", "华强北", "福保"),
    "440305": ("南头", "南山", "沙河", "蛇口", "招商", "粤海", "桃源", "西丽"),
    "440306": ("新安", "西乡", "航城", "福永", "福海", "沙井", "新桥", "松岗", "燕罗", "石岩"),
    "440307": ("平湖", "布吉", "吉华", "坂田", "南湾", "横岗", "园山", "龙城", "龙岗", "宝龙"),
    "440308": ("梅沙", "盐田", "沙头角", "海山"),
    "440309": ("观湖", "民治", "龙华", "大浪", "福城", "观澜"),
    "440310": ("坪山", "马峦", "碧岭", "石井", "坑梓", "龙田"),
    "440311": ("光明", "公明", "新湖", "凤凰", "玉塘", "马田"),
    "4403DP": ("葵涌", "大鹏", "南澳"),
}
# Made-up community (社区) names from common Shenzhen place-name parts.
COMMUNITY_STEMS = _words(
    "荔枝 新村 翠湖 华新 景田 海滨 松坪 龙井 南岭 石厦 上沙 下沙 新洲 "
    "金地 碧海 白石 丽山 桂花 凤凰 水围 渔农 岗厦 皇岗 福民 红荔 百花 "
    "八卦 新华 东海 松岭 月亮湾 前海 西城 锦绣 椰风 大冲 科技园 高新 麒麟 "
    "花果山 木棉 樟坑 梅山 银湖 翠竹 泥岗 笋西 田心 水库 沿河 布心 太白 "
    "草埔 清湖"
)
ETHNICITIES = ("壮族", "回族", "满族", "苗族", "土家族", "瑶族", "畲族", "蒙古族", "朝鲜族")
# ID-number division codes: Shenzhen's districts and other Guangdong counties, then the
# prefecture codes that stdnum accepts for any birth year (for the oldest residents).
BIRTH_DIVISIONS = _words(
    "440303 440304 440305 440306 440307 440308 440309 440310 440311 440103 440104 "
    "440105 440106 440111 440402 440604 440802 441302 441402 441900 442000 445102 "
    "445202"
)
ALWAYS_VALID_DIVISIONS = ("440300", "440100", "440500", "440600", "440700")
# GB/T 4754-2017 sections (门类).
INDUSTRIES = {
    "A": "农、林、牧、渔业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
}
# Enterprise name endings and the industry section they suggest.
ENTERPRISE_KINDS = (
    ("科技有限公司", "I"),
    ("信息技术有限公司", "I"),
    ("电子有限公司", "C"),
    ("智能制造有限公司", "C"),
    ("贸易有限公司", "F"),
    ("供应链管理有限公司", "G"),
    ("物流有限公司", "G"),
    ("餐饮管理有限公司", "H"),
    ("建筑工程有限公司", "E"),
    ("文化传媒有限公司", "R"),
    ("生物医药有限公司", "M"),
    ("房地产开发有限公司", "K"),
    ("投资咨询有限公司", "L"),
    ("新能源有限公司", "D"),
)


@dataclass(frozen=True)
class DemoCounts:
    streets: int = 0
    communities: int = 0
    grids: int = 0
    persons: int = 0
    organizations: int = 0
    quality_issues: int = 0

    def describe(self) -> str:
        """One line saying what the demo seeded."""
        return (
            f"Registries: {self.streets} streets, {self.communities} communities, "
            f"{self.grids} grids, {self.persons:,} persons, {self.organizations:,} "
            f"organizations, {self.quality_issues} data-quality problems to fix."
        )


@dataclass(frozen=True)
class _Grid:
    code: str
    name: str
    box: tuple[float, float, float, float]
    community: str
    street: str
    district: str
    district_code: str


def _rectangle(box: tuple[float, float, float, float]) -> dict[str, Any]:
    x0, y0, x1, y1 = box
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _splits(low: float, high: float, parts: int) -> list[tuple[float, float]]:
    # Rounded once and shared, so neighbours meet exactly and do not overlap.
    edges = [round(low + (high - low) * i / parts, 6) for i in range(parts + 1)]
    return list(itertools.pairwise(edges))


def _place_row(
    code: str,
    kind: str,
    name: str,
    parent: str,
    district: str,
    geometry: dict[str, Any],
    bbox: tuple[float, float, float, float],
    now: Any,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "code": code,
        "kind": kind,
        "name": name,
        "parent_code": parent,
        "district_code": district,
        "geometry": geometry,
        "min_lon": bbox[0],
        "min_lat": bbox[1],
        "max_lon": bbox[2],
        "max_lat": bbox[3],
        "properties": {"synthetic": True},
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def _seed_places(
    session: AsyncSession, principal: Principal, rng: random.Random
) -> tuple[list[_Grid], list[dict[str, Any]]]:
    await stewardship.require_source(session, principal, [places.GEOGRAPHY])
    now = clock.now()
    rows: list[dict[str, Any]] = []
    grids: list[_Grid] = []
    for info in SHENZHEN_DISTRICTS:
        min_lon, min_lat, max_lon, max_lat = DISTRICT_BOXES[info.code]
        names = STREETS[info.code]
        chosen = names[: rng.randint(3, min(6, len(names)))]
        for s, (sx0, sx1) in enumerate(_splits(min_lon, max_lon, len(chosen)), start=1):
            street_code = f"{info.code}{s:03d}"
            street_box = (sx0, min_lat, sx1, max_lat)
            street = f"{chosen[s - 1]}街道"
            rows.append(
                _place_row(
                    street_code,
                    "street",
                    street,
                    info.code,
                    info.code,
                    _rectangle(street_box),
                    street_box,
                    now,
                )
            )
            stems = rng.sample(COMMUNITY_STEMS, rng.randint(2, 4))
            for c, (cy0, cy1) in enumerate(_splits(min_lat, max_lat, len(stems)), start=1):
                community_code = f"{street_code}{c:03d}"
                community_box = (sx0, cy0, sx1, cy1)
                community = f"{stems[c - 1]}社区"
                rows.append(
                    _place_row(
                        community_code,
                        "community",
                        community,
                        street_code,
                        info.code,
                        _rectangle(community_box),
                        community_box,
                        now,
                    )
                )
                cells = _splits(sx0, sx1, rng.randint(2, 4))
                for g, (gx0, gx1) in enumerate(cells, start=1):
                    grid = _Grid(
                        code=f"{community_code}G{g:02d}",
                        name=f"{community}第{g}网格",
                        box=(gx0, cy0, gx1, cy1),
                        community=community,
                        street=street,
                        district=info.name,
                        district_code=info.code,
                    )
                    grids.append(grid)
                    rows.append(
                        _place_row(
                            grid.code,
                            "grid",
                            grid.name,
                            community_code,
                            info.code,
                            _rectangle(grid.box),
                            grid.box,
                            now,
                        )
                    )
                # One address per community (its 党群服务中心), for address resolution.
                first = grids[-len(cells)]
                lon, lat = _inside(rng, first.box)
                rows.append(
                    _place_row(
                        f"{community_code}A001",
                        "address",
                        f"深圳市{info.name}{street}{community}党群服务中心",
                        first.code,
                        info.code,
                        {"type": "Point", "coordinates": [lon, lat]},
                        (lon, lat, lon, lat),
                        now,
                    )
                )
    await bulk_insert(session, cast(Table, Place.__table__), rows)
    versions = [
        {
            "record_type": "place",
            "record_id": row["id"],
            "version": 1,
            "valid_from": now,
            "valid_to": None,
            "data": records.snapshot("place", cast(Any, SimpleNamespace(**row))),
            "changes": {},
            "attribute_group": places.GEOGRAPHY.name,
            "source_department_code": places.GEOGRAPHY.department_code,
            "actor": principal.name[:100],
            "reason": DEMO_REASON,
        }
        for row in rows
    ]
    await bulk_insert(session, cast(Table, RecordVersion.__table__), versions)
    return grids, rows


def _inside(rng: random.Random, box: tuple[float, float, float, float]) -> tuple[float, float]:
    x0, y0, x1, y1 = box
    # Keep clear of the edges, where a point would belong to two grids.
    mx, my = (x1 - x0) * 0.05, (y1 - y0) * 0.05
    return round(rng.uniform(x0 + mx, x1 - mx), 6), round(rng.uniform(y0 + my, y1 - my), 6)


class _People:
    """Generates residents; keeps ID numbers unique."""

    def __init__(self, rng: random.Random, fake: Faker, today: date) -> None:
        self.rng, self.fake, self.today = rng, fake, today
        self.numbers: set[str] = set()

    def birth_date(self, min_age: int = 0, max_age: int = 95) -> date:
        # Working ages dominate a city of migrants like Shenzhen.
        age = min(max_age, max(min_age, int(self.rng.triangular(min_age, max_age, 34))))
        return self.today - timedelta(days=age * 365 + self.rng.randint(0, 364))

    def id_number(self, birth: date, male: bool) -> str:
        codes = list(BIRTH_DIVISIONS)
        self.rng.shuffle(codes)
        for code in [*codes[:6], *ALWAYS_VALID_DIVISIONS]:
            for _attempt in range(5):
                sequence = self.rng.randrange(1 if male else 0, 1000, 2)
                number = make_resident_id(code, birth, sequence)
                if number in self.numbers:
                    continue
                try:
                    parse_resident_id(number, today=self.today)
                except InvalidIdentifier:
                    break  # the code was not in use in the birth year: try another
                self.numbers.add(number)
                return number
        raise RuntimeError("no free ID number for the demo")  # never with these code lists

    def address(self, grid: _Grid) -> str:
        return (
            f"深圳市{grid.district}{grid.street}{grid.community}{self.fake.street_name()}"
            f"{self.rng.randint(1, 300)}号{self.rng.randint(1, 30)}栋"
            f"{self.rng.randint(1, 33)}{self.rng.randint(1, 8):02d}"
        )

    def person(self, grid: _Grid) -> dict[str, str]:
        male = self.rng.random() < 0.52
        birth = self.birth_date()
        number = self.id_number(birth, male)
        lon, lat = _inside(self.rng, grid.box)
        status = self.rng.choices(("living", "deceased", "moved_out"), (98, 1, 1))[0]
        return {
            "id_number": number,
            "name": self.fake.name_male() if male else self.fake.name_female(),
            "ethnicity": "汉族" if self.rng.random() < 0.93 else self.rng.choice(ETHNICITIES),
            "phone": self.fake.phone_number(),
            # Half are registered (户籍) where they live, the rest where they were born.
            "hukou_division_code": (
                resolves_to_gb(grid.district_code) if self.rng.random() < 0.5 else number[:6]
            ),
            "residence_address": self.address(grid),
            "residence_place_code": grid.code,
            "residence_lon": str(lon),
            "residence_lat": str(lat),
            "status": status,
            "social_insurance_status": "insured" if self.rng.random() < 0.7 else "",
        }


def _legacy_row(row: dict[str, str], now: Any) -> dict[str, Any]:
    """A person row as an old system left it, inserted without the import's checks."""
    number = row["id_number"]
    birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    return {
        "id": uuid.uuid4(),
        "id_number": number,
        "name": row["name"],
        "sex": "male" if int(number[16]) % 2 else "female",
        "birth_date": birth,
        "ethnicity": row["ethnicity"],
        "phone": row["phone"],
        "hukou_division_code": row["hukou_division_code"],
        "residence_address": row["residence_address"],
        "residence_place_code": row["residence_place_code"] or None,
        "residence_lon": float(row["residence_lon"]) if row["residence_lon"] else None,
        "residence_lat": float(row["residence_lat"]) if row["residence_lat"] else None,
        "status": row["status"],
        "social_insurance_status": row["social_insurance_status"],
        "account_id": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def _seed_persons(
    session: AsyncSession,
    principal: Principal,
    rng: random.Random,
    people: _People,
    grids: list[_Grid],
    count: int,
) -> int:
    weights, total = [], 0.0
    for _grid in grids:
        total += rng.uniform(0.3, 3.0)
        weights.append(total)
    index = GridIndex([g.code for g in grids], [shape(_rectangle(g.box)) for g in grids])
    rows: list[dict[str, str]] = []
    legacy: list[dict[str, str]] = []
    for _n in range(count):
        grid = rng.choices(grids, cum_weights=weights)[0]
        row = people.person(grid)
        roll = rng.random()
        if roll < 0.003 and rows:
            # A suspected duplicate: same name and birth date, another ID number.
            twin = rng.choice(rows)
            birth = date.fromisoformat(
                f"{twin['id_number'][6:10]}-{twin['id_number'][10:12]}-{twin['id_number'][12:14]}"
            )
            row["name"] = twin["name"]
            row["id_number"] = people.id_number(birth, int(twin["id_number"][16]) % 2 == 1)
        elif roll < 0.006:
            # An address nobody resolved to a grid.
            row.update(residence_place_code="", residence_lon="", residence_lat="")
        elif roll < 0.008:
            legacy.append({**row, "hukou_division_code": rng.choice(("440399", "449901"))})
            continue
        elif roll < 0.009:
            legacy.append({**row, "phone": "1380013800"})
            continue
        elif roll < 0.010:
            wrong = "0" if row["id_number"][-1] != "0" else "1"
            legacy.append({**row, "id_number": row["id_number"][:17] + wrong})
            continue
        rows.append(row)
    accepted = 0
    for start in range(0, len(rows), BATCH_SIZE):
        outcome = await insert_persons(
            session,
            principal,
            rows[start : start + BATCH_SIZE],
            reason=DEMO_REASON,
            grids=index,
        )
        accepted += outcome.accepted
    now = clock.now()
    legacy_rows = [_legacy_row(row, now) for row in legacy]
    await bulk_insert(session, cast(Table, Person.__table__), legacy_rows)
    versions = first_versions(
        "person", legacy_rows, source="GAJ", actor=principal.name, reason="演示数据（历史数据导入）"
    )
    await bulk_insert(session, cast(Table, RecordVersion.__table__), versions)
    return accepted + len(legacy_rows)


async def _seed_organizations(
    session: AsyncSession,
    principal: Principal,
    rng: random.Random,
    fake: Faker,
    people: _People,
    grids: list[_Grid],
    count: int,
) -> int:
    today = people.today
    adults = (
        (
            await session.execute(
                select(Person.id_number)
                .where(Person.birth_date < today - timedelta(days=25 * 365))
                .order_by(Person.id_number)
            )
        )
        .scalars()
        .all()
    )
    # Legacy records with a broken ID number cannot represent anyone.
    adults = [n for n in adults if n in people.numbers]
    bodies: set[str] = set()
    rows: list[dict[str, str]] = []
    for _i in range(count):
        grid = rng.choice(grids)
        kind = rng.choices(
            ("enterprise", "public_institution", "social_organization", "government_body"),
            (85, 6, 6, 3),
        )[0]
        if kind == "enterprise":
            ending, section = rng.choice(ENTERPRISE_KINDS)
            name, authority = f"深圳市{fake.company_prefix()}{ending}", ("9", "1")
        elif kind == "public_institution":
            ending, section = rng.choice(
                (
                    ("实验学校", "P"),
                    ("社区健康服务中心", "Q"),
                    ("图书馆", "R"),
                    ("职业技术学校", "P"),
                )
            )
            name, authority = f"深圳市{grid.district}{grid.street[:-2]}{ending}", ("1", "2")
        elif kind == "social_organization":
            ending, section = rng.choice(
                (("行业协会", "S"), ("商会", "S"), ("志愿者联合会", "S"), ("慈善基金会", "S"))
            )
            name, authority = f"深圳市{fake.company_prefix()}{ending}", ("5", "1")
        else:
            name, section, authority = f"深圳市{grid.district}{grid.street}办事处", "S", ("1", "1")
        while (body := f"{rng.randrange(10**8):08d}") in bodies:
            pass
        bodies.add(body)
        division = resolves_to_gb(grid.district_code)
        industry = f"{section} {INDUSTRIES[section]}"
        representative = rng.choice(adults) if adults else ""
        roll = rng.random()
        if kind == "enterprise" and roll < 0.01:
            industry = ""
        elif kind == "enterprise" and roll < 0.02:
            representative = ""
        established = today - timedelta(days=rng.randint(30, 35 * 365))
        rows.append(
            {
                "uscc": make_uscc(authority[0], authority[1], division, body),
                "name": name[:200],
                "org_type": kind,
                "legal_representative_id_number": representative,
                "registered_address": people.address(grid),
                "registered_place_code": grid.code,
                "industry": industry,
                "established_on": established.isoformat(),
                "status": rng.choices(("active", "revoked", "cancelled"), (95, 2, 3))[0],
            }
        )
    accepted = 0
    for start in range(0, len(rows), BATCH_SIZE):
        outcome = await insert_organizations(
            session, principal, rows[start : start + BATCH_SIZE], reason=DEMO_REASON
        )
        accepted += outcome.accepted
    return accepted


async def seed_demo(
    session: AsyncSession,
    principal: Principal,
    *,
    persons: int = 10_000,
    organizations: int = 2_000,
    seed: int = DEMO_SEED,
) -> DemoCounts:
    """Seed the registries once (示例数据): nothing happens if persons or streets exist."""
    if (await session.execute(select(Person.id).limit(1))).first() is not None:
        return DemoCounts()
    if (await session.execute(select(Place.id).where(Place.kind == "street").limit(1))).first():
        return DemoCounts()
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    today = clock.to_city(clock.now()).date()
    grids, place_rows = await _seed_places(session, principal, rng)
    people = _People(rng, fake, today)
    person_count = await _seed_persons(session, principal, rng, people, grids, persons)
    organization_count = await _seed_organizations(
        session, principal, rng, fake, people, grids, organizations
    )
    issues = 0
    for record_type in quality.CHECKED_TYPES:
        issues += (await quality.run_quality_checks(session, principal, record_type)).open
    counts = DemoCounts(
        streets=sum(1 for r in place_rows if r["kind"] == "street"),
        communities=sum(1 for r in place_rows if r["kind"] == "community"),
        grids=len(grids),
        persons=person_count,
        organizations=organization_count,
        quality_issues=issues,
    )
    await audit.log(session, principal, "registry.demo.seed", target="registry", **counts.__dict__)
    return counts


# --- the demo's own accounts, linked to records of the demo registries ---


async def link_demo_citizen(session: AsyncSession, principal: Principal) -> None:
    """The demo citizen is one of the demo's persons, so 我的数据 has a record to show."""
    person = (
        await session.execute(
            select(Person)
            .where(Person.account_id.is_(None), Person.status == "living")
            .order_by(Person.id_number)
            .limit(1)
        )
    ).scalar_one_or_none()
    account = (
        await session.execute(select(Account).where(Account.username == "citizen"))
    ).scalar_one_or_none()
    if person is None or account is None:
        return
    await service.link_account(session, principal, person_id=person.id, username=account.username)
    account.display_name = person.name
    await _link_demo_enterprise(session, principal)


async def _link_demo_enterprise(session: AsyncSession, principal: Principal) -> None:
    """The demo enterprise is one of the demo's organizations, so applying online shows
    what the legal-person registry fills in (免提交)."""
    org = (
        await session.execute(
            select(Organization)
            .where(
                Organization.account_id.is_(None),
                Organization.org_type == "enterprise",
                Organization.status == "active",
            )
            .order_by(Organization.uscc)
            .limit(1)
        )
    ).scalar_one_or_none()
    account = (
        await session.execute(select(Account).where(Account.username == "enterprise"))
    ).scalar_one_or_none()
    if org is None or account is None:
        return
    await organizations.link_account(
        session, principal, organization_id=org.id, username="enterprise"
    )
    account.display_name = org.name
