"""Async factories for the registries' records, with keyword overrides; numbers are valid
(check digits computed by core.ids) and unique within a test run."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.ids import make_resident_id, make_uscc
from smartcity.core.models import Account, Department
from smartcity.registry import organizations, service
from smartcity.registry.models import Organization, Person
from smartcity.registry.schemas import OrganizationCreate, PersonCreate
from tests.core import factories as core_factories
from tests.core.factories import ROOT

# The 一数一源 source departments of registry/sources.py, as core.seed names them.
SOURCE_DEPARTMENTS = {
    "GAJ": "公安局",
    "SCJGJ": "市场监督管理局",
    "ZWSJJ": "政务服务数据管理局",
    "RSJ": "人力资源和社会保障局",
    "GHZRJ": "规划和自然资源局",
}
_person_seq = itertools.count(1)
_org_seq = itertools.count(1)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def resident_id(
    *, birth_date: date | None = None, sex: str | None = None, division_code: str = "440303"
) -> str:
    """A valid, unique 公民身份号码 (440303 罗湖区 is valid for births from 1990)."""
    n = next(_person_seq)
    if birth_date is None:
        # 7919 is prime, so (birth date, sequence) pairs do not repeat for 29,000 numbers.
        birth_date = date(1990, 1, 1) + timedelta(days=(n * 7919) % 5800)
    sequence = n % 1000
    if sex is not None and (sequence % 2 == 1) != (sex == "male"):
        sequence = (sequence + 1) % 1000
    return make_resident_id(division_code, birth_date, sequence)


def uscc(*, authority: str = "9", entity_type: str = "1", division_code: str = "440300") -> str:
    """A valid, unique 统一社会信用代码."""
    n = next(_org_seq)
    return make_uscc(authority, entity_type, division_code, f"MA5{n:05d}")


def person_name(n: int | None = None) -> str:
    n = next(_person_seq) if n is None else n
    return _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n // 7) % len(_GIVEN)] + _GIVEN[n % len(_GIVEN)]


async def source_department(session: AsyncSession, code: str) -> Department:
    """The department with this code, created (with its real name) if the test has none."""
    found = (
        await session.execute(select(Department).where(Department.code == code))
    ).scalar_one_or_none()
    if found is not None:
        return found
    return await core_factories.create_department(
        session, code=code, name=SOURCE_DEPARTMENTS.get(code, f"测试局{code}")
    )


async def source_departments(session: AsyncSession) -> dict[str, Department]:
    """All the source departments of the registries, by code."""
    return {code: await source_department(session, code) for code in SOURCE_DEPARTMENTS}


async def department_account(
    session: AsyncSession, code: str, *, kind: str = "staff", **overrides: Any
) -> Account:
    """A staff (or supervisor, or system) account of the department with this code."""
    department = await source_department(session, code)
    return await core_factories.create_account(
        session, kind=kind, department=department, **overrides
    )


async def department_principal(
    session: AsyncSession, code: str, *, kind: str = "staff"
) -> Principal:
    return core_factories.principal(await department_account(session, code, kind=kind))


async def create_person(
    session: AsyncSession, *, principal: Principal = ROOT, **overrides: Any
) -> Person:
    """A person created through the service (so it has its first history version)."""
    data: dict[str, Any] = {
        "id_number": overrides.pop("id_number", None)
        or resident_id(birth_date=overrides.get("birth_date"), sex=overrides.get("sex")),
        "name": person_name(),
        "ethnicity": "汉族",
        "hukou_division_code": "440303",
        "residence_address": "深圳市罗湖区东门街道湖贝社区东门中路1号",
    }
    data.update(overrides)
    return await service.create_person(session, principal, PersonCreate(**data))


async def create_organization(
    session: AsyncSession,
    *,
    principal: Principal = ROOT,
    legal_representative: Person | None = None,
    **overrides: Any,
) -> Organization:
    """An organization created through the service; a legal representative is made if none."""
    if legal_representative is None and "legal_representative_id_number" not in overrides:
        legal_representative = await create_person(session)
    n = next(_org_seq)
    data: dict[str, Any] = {
        "uscc": overrides.pop("uscc", None) or uscc(),
        "name": f"深圳市测试{n}科技有限公司",
        "org_type": "enterprise",
        "registered_address": "深圳市南山区粤海街道科技园社区科苑路8号",
        "industry": "I",
    }
    if legal_representative is not None:
        data["legal_representative_id_number"] = legal_representative.id_number
    data.update(overrides)
    return await organizations.create_organization(session, principal, OrganizationCreate(**data))
