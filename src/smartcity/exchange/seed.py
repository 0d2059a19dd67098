"""The demo's catalog (资源目录) and one approved grant. Idempotent: a second run adds nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.accounts import department_by_code
from smartcity.core.authz import Principal
from smartcity.exchange import grants, service
from smartcity.exchange.models import Grant, Resource
from smartcity.exchange.schemas import FieldSpec, GrantApproval, GrantRequest, ResourceCreate

PERSONS_BASIC = "persons-basic"


def _fields(*pairs: tuple[str, str]) -> list[FieldSpec]:
    return [FieldSpec(name=name, title=title) for name, title in pairs]


DEMO_CATALOG: list[dict[str, Any]] = [
    {
        "code": PERSONS_BASIC,
        "title": "人口基础信息",
        "description": "全市实有人口的身份、户籍与居住信息，来源于公安局人口库（一数一源）。"
        "含个人信息，按需申请、有条件共享，每次调用记入个人信息访问记录。",
        "publisher": "GAJ",
        "source_registry": "person",
        "fields": _fields(
            ("id_number", "公民身份号码"),
            ("name", "姓名"),
            ("sex", "性别"),
            ("birth_date", "出生日期"),
            ("ethnicity", "民族"),
            ("hukou_division_code", "户籍地行政区划"),
            ("residence_address", "居住地址"),
            ("residence_place_code", "居住地网格"),
            ("status", "人口状态"),
        ),
        "update_cycle": "realtime",
        "sharing_class": "conditional",
        "keywords": ["人口", "身份核验", "户籍"],
    },
    {
        "code": "organizations-registration",
        "title": "法人登记信息",
        "description": "全市企业、事业单位、社会组织和机关的统一社会信用代码、名称、类型、"
        "住所、行业与登记状态，来源于市场监督管理局法人库。无条件共享，并作为开放数据向社会开放。",
        "publisher": "SCJGJ",
        "source_registry": "organization",
        "fields": _fields(
            ("uscc", "统一社会信用代码"),
            ("name", "名称"),
            ("org_type", "法人类型"),
            ("registered_address", "住所"),
            ("registered_place_code", "住所所在网格"),
            ("industry", "行业"),
            ("established_on", "成立日期"),
            ("status", "登记状态"),
        ),
        "update_cycle": "daily",
        "sharing_class": "unconditional",
        "open_data": True,
        "license_id": "cc-by-4.0",
        "keywords": ["法人", "企业", "统一社会信用代码"],
    },
    {
        "code": "places-grids",
        "title": "街道、社区、网格与地点",
        "description": "全市街道、社区、城市管理网格以及建筑、地址、道路和兴趣点的编码、名称、"
        "上级与几何（WGS 84 GeoJSON），来源于规划和自然资源局地理空间库。无条件共享，开放数据。",
        "publisher": "GHZRJ",
        "source_registry": "place",
        "fields": _fields(
            ("code", "编码"),
            ("kind", "类别"),
            ("name", "名称"),
            ("parent_code", "上级编码"),
            ("district_code", "所属区"),
            ("geometry", "边界"),
        ),
        "update_cycle": "monthly",
        "sharing_class": "unconditional",
        "open_data": True,
        "license_id": "cc-by-4.0",
        "keywords": ["网格", "行政区划", "地理空间"],
    },
    {
        "code": "case-involved-persons",
        "title": "涉案人员信息",
        "description": "公安机关办理案件中涉及的人员信息。依法不予共享，仅列入目录以便各部门知悉。",
        "publisher": "GAJ",
        "source_registry": "",
        "fields": [
            FieldSpec(name="id_number", title="公民身份号码", type="string", personal=True),
            FieldSpec(name="name", title="姓名", type="string", personal=True),
            FieldSpec(name="case_type", title="案件类别", type="string"),
        ],
        "update_cycle": "realtime",
        "sharing_class": "none",
        "keywords": ["公安", "案件"],
    },
]

DEMO_GRANT = {
    "consumer": "ZWSJJ",
    "purpose": "一网通办：办理政务服务事项时核验申请人身份与户籍",
    "legal_basis": "《广东省政务数据资源共享管理办法（试行）》",
    "fields": ["id_number", "name", "sex", "birth_date", "residence_place_code", "status"],
}


async def seed_demo_catalog(session: AsyncSession, principal: Principal) -> int:
    """The demo's resources and ZWSJJ's approved grant on persons; returns how many added."""
    existing = set((await session.execute(select(Resource.code))).scalars())
    added = 0
    for entry in DEMO_CATALOG:
        if entry["code"] in existing:
            continue
        await service.create_resource(session, principal, ResourceCreate(**entry))
        added += 1
    persons = (
        await session.execute(select(Resource).where(Resource.code == PERSONS_BASIC))
    ).scalar_one()
    consumer = await department_by_code(session, DEMO_GRANT["consumer"])  # type: ignore[arg-type]
    held = await session.execute(
        select(Grant.id).where(
            Grant.resource_id == persons.id, Grant.consumer_department_id == consumer.id
        )
    )
    if held.first() is None:
        grant = await grants.request_grant(
            session, principal, PERSONS_BASIC, GrantRequest(**DEMO_GRANT)
        )
        await grants.approve_grant(
            session, principal, grant.id, GrantApproval(reason="演示数据：依申请同意共享")
        )
        added += 1
    return added
