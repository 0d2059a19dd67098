"""Service items, applicants linked to the registries, and applications for the tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.models import Case
from smartcity.core.authz import Principal
from smartcity.core.models import Account
from smartcity.registry.models import Organization, Person
from smartcity.services import service
from smartcity.services.application import drafts, materials, submission
from smartcity.services.models import Application, ServiceItem
from smartcity.services.schemas import ServiceItemCreate
from tests.cases.factories import department
from tests.core import factories as core_factories
from tests.registry import factories as registry_factories

ADMIN = Principal(id=None, kind="admin", name="test:admin", roles=frozenset(), via="test")


async def create_item(session: AsyncSession, **overrides: Any) -> ServiceItem:
    values: dict[str, Any] = {
        "code": "SCJGJ-003",
        "name": "食品经营许可",
        "description": "从事食品销售和餐饮服务，取得食品经营许可证。",
        "department_code": "SCJGJ",
        "legal_basis": "《中华人民共和国食品安全法》第三十五条",
        "statutory_days": 20,
        "promised_days": 10,
        "fee_fen": 0,
        "applicant_kinds": ["citizen", "enterprise"],
        "life_events": ["开办企业"],
        "materials": [{"name": "营业执照", "required": True, "from_registry": "uscc"}],
        "form_fields": [{"name": "premises", "label": "经营场所"}],
    }
    values.update(overrides)
    await department(session, values["department_code"])
    return await service.create_service_item(
        session, ADMIN, ServiceItemCreate.model_validate(values)
    )


# --- applying online -------------------------------------------------------------------------

# The smallest files each accepted type starts with (the service checks the first bytes).
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 16 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00"

# Every field type the demo catalog uses, with the 免提交 ones of a person.
ALL_TYPES_FIELDS: list[dict[str, Any]] = [
    {"name": "name", "label": "姓名", "prefill": "name"},
    {"name": "id_number", "label": "公民身份号码", "type": "id_number", "prefill": "id_number"},
    {"name": "phone", "label": "联系电话", "type": "phone", "prefill": "phone"},
    {"name": "address", "label": "居住地址", "prefill": "residence_address"},
    {"name": "shop", "label": "店铺名称"},
    {"name": "scope", "label": "经营范围", "type": "textarea"},
    {"name": "opening", "label": "开业日期", "type": "date"},
    {"name": "staff", "label": "从业人数", "type": "number"},
    {"name": "category", "label": "经营项目", "type": "select", "required": False},
    {"name": "contact_phone", "label": "备用电话", "type": "phone", "required": False},
    {"name": "agent_id", "label": "代理人身份号码", "type": "id_number", "required": False},
]
CITIZEN_MATERIALS: list[dict[str, Any]] = [
    {"name": "居民身份证", "required": True, "from_registry": "id_number"},
    {"name": "经营场所平面图", "required": True, "from_registry": None},
    {"name": "健康证明", "required": False, "from_registry": None},
]
GOOD_ANSWERS = {
    "shop": "老街面馆",
    "scope": "热食类食品制售",
    "opening": "2026-04-01",
    "staff": "3",
}


async def citizen_item(session: AsyncSession, **overrides: Any) -> ServiceItem:
    """A citizen item with every field type and a 免提交 material (the ID card)."""
    values: dict[str, Any] = {
        "code": "SCJGJ-101",
        "name": "小餐饮经营许可",
        "applicant_kinds": ["citizen"],
        "statutory_days": 20,
        "promised_days": 5,
        "materials": CITIZEN_MATERIALS,
        "form_fields": ALL_TYPES_FIELDS,
    }
    values.update(overrides)
    return await create_item(session, **values)


async def enterprise_item(session: AsyncSession, **overrides: Any) -> ServiceItem:
    """An enterprise item with the organization's 免提交 fields and its licence."""
    values: dict[str, Any] = {
        "code": "SCJGJ-102",
        "name": "企业名称变更登记",
        "applicant_kinds": ["enterprise"],
        "statutory_days": 15,
        "promised_days": 3,
        "materials": [
            {"name": "营业执照", "required": True, "from_registry": "uscc"},
            {"name": "变更决议", "required": True, "from_registry": None},
        ],
        "form_fields": [
            {"name": "org_name", "label": "单位名称", "prefill": "name"},
            {"name": "uscc", "label": "统一社会信用代码", "prefill": "uscc"},
            {"name": "contact", "label": "联系人"},
            {"name": "phone", "label": "联系电话", "type": "phone"},
            {"name": "new_name", "label": "变更后名称"},
        ],
    }
    values.update(overrides)
    return await create_item(session, **values)


@dataclass
class Applicant:
    account: Account
    principal: Principal
    person: Person | None = None
    organization: Organization | None = None


async def citizen(session: AsyncSession, *, linked: bool = True, **person: Any) -> Applicant:
    """A citizen account, linked to a person record of the population registry unless told."""
    await registry_factories.source_departments(session)
    account = await core_factories.create_account(session, kind="citizen")
    record = None
    if linked:
        record = await registry_factories.create_person(
            session, phone=person.pop("phone", "13812345678"), **person
        )
        record.account_id = account.id
        await session.flush()
    return Applicant(account, core_factories.principal(account), person=record)


async def enterprise(session: AsyncSession, *, linked: bool = True) -> Applicant:
    """An enterprise account, linked to an organization of the legal-person registry unless
    told."""
    await registry_factories.source_departments(session)
    account = await core_factories.create_account(session, kind="enterprise")
    org = None
    if linked:
        org = await registry_factories.create_organization(session)
        org.account_id = account.id
        await session.flush()
    return Applicant(account, core_factories.principal(account), organization=org)


async def staff(session: AsyncSession, code: str = "SCJGJ", kind: str = "staff") -> Principal:
    return await registry_factories.department_principal(session, code, kind=kind)


async def ready_draft(
    session: AsyncSession, applicant: Applicant, item: ServiceItem, **answers: Any
) -> uuid.UUID:
    """A draft of a linked citizen with every required answer and upload, ready to submit."""
    application, _created = await drafts.start_application(session, applicant.principal, item.code)
    await drafts.save_answers(
        session, applicant.principal, application.id, {**GOOD_ANSWERS, **answers}
    )
    await materials.upload_material(
        session,
        applicant.principal,
        application.id,
        name="经营场所平面图",
        filename="平面图.pdf",
        content=PDF,
    )
    return application.id


async def submitted(
    session: AsyncSession, applicant: Applicant, item: ServiceItem
) -> tuple[Application, Case]:
    application_id = await ready_draft(session, applicant, item)
    application = await submission.submit_application(session, applicant.principal, application_id)
    assert application.case_id is not None
    case = await session.get(Case, application.case_id)
    assert case is not None
    return application, case
