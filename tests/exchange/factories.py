"""Async factories for the exchange's tests: departments, resources, grants, accounts, and
registry rows to read through the exchange."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts
from smartcity.core.authz import Principal
from smartcity.core.ids import make_resident_id, make_uscc
from smartcity.core.models import Account, Department
from smartcity.exchange import grants, service
from smartcity.exchange.models import Grant, Resource
from smartcity.exchange.schemas import FieldSpec, GrantApproval, GrantRequest, ResourceCreate
from smartcity.registry.models import Organization, Person, Place
from tests.core import factories
from tests.core.factories import ROOT

_seq = itertools.count(1)
NAMES = {
    "GAJ": "公安局",
    "SCJGJ": "市场监督管理局",
    "ZWSJJ": "政务服务数据管理局",
    "RSJ": "人力资源和社会保障局",
    "GHZRJ": "规划和自然资源局",
}


async def department(session: AsyncSession, code: str) -> Department:
    """The department with this code, created on first use (tests do not seed them)."""
    found = (
        await session.execute(select(Department).where(Department.code == code))
    ).scalar_one_or_none()
    if found is not None:
        return found
    return await factories.create_department(session, code=code, name=NAMES.get(code, code))


async def staff(session: AsyncSession, code: str, **overrides: Any) -> tuple[Account, Principal]:
    account = await factories.create_account(
        session, kind="staff", department=await department(session, code), **overrides
    )
    return account, factories.principal(account)


async def system(session: AsyncSession, code: str) -> tuple[Account, str]:
    """A department's system account and an API key for it."""
    account = await factories.create_account(
        session, kind="system", department=await department(session, code)
    )
    _row, key = await accounts.issue_api_key(session, ROOT, username=account.username, name="t")
    return account, key


PERSON_FIELDS = [
    ("id_number", "公民身份号码"),
    ("name", "姓名"),
    ("sex", "性别"),
    ("birth_date", "出生日期"),
    ("phone", "联系电话"),
    ("residence_address", "居住地址"),
    ("status", "人口状态"),
]


async def create_resource(session: AsyncSession, **overrides: Any) -> Resource:
    """A resource of GAJ over persons, conditional, unless overridden."""
    n = next(_seq)
    publisher = overrides.pop("publisher", "GAJ")
    await department(session, publisher)
    data: dict[str, Any] = {
        "code": f"res-{n}",
        "title": f"测试资源{n}",
        "description": "测试用资源",
        "publisher": publisher,
        "source_registry": "person",
        "fields": [FieldSpec(name=name, title=title) for name, title in PERSON_FIELDS],
        "sharing_class": "conditional",
        "keywords": ["测试"],
    }
    data.update(overrides)
    return await service.create_resource(session, ROOT, ResourceCreate(**data))


async def grant(
    session: AsyncSession,
    resource: Resource,
    consumer: str,
    *,
    fields: list[str] | None = None,
    approve: bool = True,
    **approval: Any,
) -> Grant:
    """A grant of ``consumer`` for the resource, approved by an administrator unless told."""
    await department(session, consumer)
    requested = fields or service.field_names(resource)
    made = await grants.request_grant(
        session,
        ROOT,
        resource.code,
        GrantRequest(purpose="测试用途", fields=requested, consumer=consumer),
    )
    if approve and made.status == "requested":
        await grants.approve_grant(session, ROOT, made.id, GrantApproval(**approval))
    return made


async def person(session: AsyncSession, **overrides: Any) -> Person:
    n = next(_seq) % 900 + 1
    born = overrides.pop("birth_date", date(1985, 6, 15))
    data: dict[str, Any] = {
        "id_number": make_resident_id("440303", born, n),
        "name": f"张{n}",
        "sex": "male" if n % 2 else "female",
        "birth_date": born,
        "phone": f"1380013{n:04d}",
        "residence_address": "广东省深圳市罗湖区东门街道立新社区立新路1号",
        "status": "living",
    }
    data.update(overrides)
    row = Person(**data)
    session.add(row)
    await session.flush()
    return row


async def organization(session: AsyncSession, **overrides: Any) -> Organization:
    n = next(_seq)
    body = f"{n:08d}"
    data: dict[str, Any] = {
        "uscc": make_uscc("9", "1", "440300", body),
        "name": f"深圳市测试{n}有限公司",
        "org_type": "enterprise",
        "registered_address": "广东省深圳市南山区粤海街道科技园社区",
        "industry": "I",
        "established_on": date(2015, 3, 1),
        "status": "active",
    }
    data.update(overrides)
    row = Organization(**data)
    session.add(row)
    await session.flush()
    return row


async def place(session: AsyncSession, **overrides: Any) -> Place:
    n = next(_seq)
    data: dict[str, Any] = {
        "code": f"440305001{n:03d}",
        "kind": "grid",
        "name": f"测试网格{n}",
        "parent_code": "440305001",
        "district_code": "440305",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[113.9, 22.5], [113.91, 22.5], [113.91, 22.51], [113.9, 22.5]]],
        },
        "properties": {},
    }
    data.update(overrides)
    row = Place(**data)
    session.add(row)
    await session.flush()
    return row
