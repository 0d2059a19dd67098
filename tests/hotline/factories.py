"""The people of a hotline test: a 12345 agent, a handling department's officer, a citizen
with a registry record, a supervisor; and a work order to act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.models import Account
from smartcity.hotline import service
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.schemas import OrderCreate, ReportCreate
from smartcity.registry.models import Person
from tests.cases.factories import department, person
from tests.registry import factories as registry_factories

# Monday 2 November 2026, 09:00 in Shenzhen: a working day.
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
CENTRE = "ZWSJJ"
HANDLER = "CGJ"
OTHER = "SCJGJ"
PHONE = "13800138000"


@dataclass
class People:
    agent: Principal
    officer: Principal
    other_officer: Principal
    citizen: Principal
    citizen_account: Account
    citizen_person: Person
    supervisor: Principal
    accounts: dict[str, Account]


async def people(session: AsyncSession) -> People:
    agent_account, agent = await person(session, "staff", CENTRE)
    officer_account, officer = await person(session, "staff", HANDLER)
    other_account, other = await person(session, "staff", OTHER)
    citizen_account, citizen = await person(session, "citizen")
    someone = await registry_factories.create_person(session, phone=PHONE)
    someone.account_id = citizen_account.id
    supervisor_account, supervisor = await person(session, "supervisor", "JWJ")
    await session.flush()
    accounts = {
        "agent": agent_account,
        "officer": officer_account,
        "other": other_account,
        "citizen": citizen_account,
        "supervisor": supervisor_account,
    }
    return People(agent, officer, other, citizen, citizen_account, someone, supervisor, accounts)


def report(**overrides: Any) -> ReportCreate:
    values: dict[str, Any] = {
        "kind": "complaint",
        "category": "01.01.01",
        "text": "东门中路人行道上每晚有流动摊贩占道经营，行人只能走机动车道。",
        "place": {"address": "罗湖区东门中路1号", "lon": 114.12, "lat": 22.55},
    }
    values.update(overrides)
    return ReportCreate.model_validate(values)


def call(**overrides: Any) -> OrderCreate:
    values: dict[str, Any] = report().model_dump()
    values.update(overrides)
    return OrderCreate.model_validate(values)


async def dispatched(session: AsyncSession, who: People, **overrides: Any) -> WorkOrder:
    await department(session, HANDLER)
    order = await service.create_order(session, who.citizen, report(**overrides), channel="web")
    return await service.dispatch(session, who.agent, order.id, HANDLER)


async def order_of(session: AsyncSession, code: str) -> str:
    """An anonymous report dispatched to the department ``code``: its id (for the route walk)."""
    await department(session, code)
    _account, agent = await person(session, "staff", CENTRE)
    order = await service.create_order(session, None, report(), channel="web")
    await service.dispatch(session, agent, order.id, code)
    return str(order.id)
