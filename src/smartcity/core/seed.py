"""Reference data every installation needs, and the demo's accounts. Idempotent: a second run
adds nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts
from smartcity.core.authz import Principal
from smartcity.core.ids import SHENZHEN_CITY, SHENZHEN_DISTRICTS
from smartcity.core.models import Account, Department, Division
from smartcity.core.schemas import AccountCreate, DepartmentCreate

if TYPE_CHECKING:
    from smartcity.core.module import Module

# The city's bureaus (委办局) the plan's systems belong to; codes are pinyin initials.
DEPARTMENTS: list[tuple[str, str, str]] = [
    ("GAJ", "公安局", "Public Security Bureau"),
    ("JTYSJ", "交通运输局", "Transport Bureau"),
    ("STHJJ", "生态环境局", "Ecology and Environment Bureau"),
    ("WJW", "卫生健康委员会", "Health Commission"),
    ("SCJGJ", "市场监督管理局", "Administration for Market Regulation"),
    ("CGJ", "城市管理和综合执法局", "Urban Management and Law Enforcement Bureau"),
    ("YJGLJ", "应急管理局", "Emergency Management Bureau"),
    ("ZWSJJ", "政务服务数据管理局", "Government Services and Data Management Bureau"),
    ("RSJ", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("GHZRJ", "规划和自然资源局", "Planning and Natural Resources Bureau"),
    ("ZJJ", "住房和建设局", "Housing and Construction Bureau"),
    ("SWJ", "水务局", "Water Resources Bureau"),
    ("GYXXJ", "工业和信息化局", "Industry and Information Technology Bureau"),
    ("TJJ", "统计局", "Statistics Bureau"),
    ("JWJ", "纪委监委", "Commission for Discipline Inspection and Supervision"),
]


GUANGDONG = Division(
    code="440000",
    name="广东省",
    name_en="Guangdong",
    level="province",
    parent_code=None,
    gb_code=True,
)


async def seed_reference_data(
    session: AsyncSession, principal: Principal, mods: Sequence[Module]
) -> int:
    """Every module's reference data (``Module.reference_data``: core's divisions and
    departments, ...), in the order of ``mods``; answers how many rows were made."""
    made = 0
    for module in mods:
        for seeder in module.reference_data:
            made += await seeder.run(session, principal)
    return made


async def seed_divisions(session: AsyncSession) -> int:
    """深圳市 and its districts with their GB/T 2260 codes (and 大鹏新区, which has none)."""
    added = 0
    if await session.get(Division, GUANGDONG.code) is None:
        session.add(
            Division(
                **{
                    c: getattr(GUANGDONG, c)
                    for c in ("code", "name", "name_en", "level", "parent_code", "gb_code")
                }
            )
        )
        added += 1
        await session.flush()
    for info in [SHENZHEN_CITY, *SHENZHEN_DISTRICTS]:
        if await session.get(Division, info.code) is None:
            session.add(
                Division(
                    code=info.code,
                    name=info.name,
                    name_en=info.name_en,
                    level=info.level,
                    parent_code=info.parent_code,
                    gb_code=info.gb_code is not None,
                    within_code=info.within_code,
                    established=info.established,
                )
            )
            added += 1
            await session.flush()
    return added


async def seed_departments(session: AsyncSession, principal: Principal) -> int:
    existing = set((await session.execute(select(Department.code))).scalars())
    added = 0
    for code, name, name_en in DEPARTMENTS:
        if code not in existing:
            await accounts.create_department(
                session, principal, DepartmentCreate(code=code, name=name, name_en=name_en)
            )
            added += 1
    return added


@dataclass
class DemoAccount:
    username: str
    display_name: str
    kind: str
    department_code: str | None = None
    roles: tuple[str, ...] = ()


DEMO_ACCOUNTS = [
    DemoAccount("admin", "系统管理员", "admin", roles=("security",)),
    DemoAccount("auditor", "审计管理员", "admin", roles=("auditor",)),
    DemoAccount("staff.zwsj", "王晓燕（政务服务数据管理局）", "staff", "ZWSJJ"),
    DemoAccount("staff.gaj", "李建国（公安局）", "staff", "GAJ"),
    # Air-quality alerts (物联感知) go to 生态环境局.
    DemoAccount("staff.sthjj", "周敏（生态环境局）", "staff", "STHJJ"),
    DemoAccount("supervisor", "陈静（纪委监委电子监察室）", "supervisor", "JWJ"),
    DemoAccount("citizen", "张伟", "citizen"),
    DemoAccount("enterprise", "深圳市示例科技有限公司", "enterprise"),
    DemoAccount("system.gaj", "公安局人口库接口", "system", "GAJ"),
    DemoAccount("device.demo", "示例空气站 FT-01", "device"),
]


async def seed_demo_accounts(
    session: AsyncSession, principal: Principal
) -> list[tuple[str, str, str]]:
    """One account per role; returns (username, kind, password) for those created now."""
    created = []
    for demo in DEMO_ACCOUNTS:
        exists = await session.execute(select(Account.id).where(Account.username == demo.username))
        if exists.first() is not None:
            continue
        account, password = await accounts.create_account(
            session,
            principal,
            AccountCreate(
                username=demo.username,
                display_name=demo.display_name,
                kind=demo.kind,
                department_code=demo.department_code,
                roles=list(demo.roles),
            ),
        )
        # Demo passwords are printed once and meant to be used as printed.
        account.must_change_password = False
        if demo.kind in ("system", "device"):
            _row, key = await accounts.issue_api_key(
                session, principal, username=demo.username, name="demo"
            )
            created.append((demo.username, demo.kind, f"API key {key}"))
        else:
            created.append((demo.username, demo.kind, password or ""))
    return created
