"""Service items for the tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.services import service
from smartcity.services.models import ServiceItem
from smartcity.services.schemas import ServiceItemCreate
from tests.cases.factories import department

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
