"""Reference data is what the modules declare in MODULE.reference_data, run in their order
by `smartcity db upgrade` and the demo; a second run makes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from smartcity.app import modules
from smartcity.core import seed
from smartcity.core.manifest import MODULE
from smartcity.core.models import Department, Division
from smartcity.services.models import ServiceItem
from tests.core.factories import ROOT


def test_core_declares_divisions_then_departments() -> None:
    assert [s.name for s in MODULE.reference_data] == ["core.divisions", "core.departments"]


async def test_seeded_once_in_module_order(session) -> None:
    made = await seed.seed_reference_data(session, ROOT, modules())
    departments = (await session.execute(select(func.count(Department.id)))).scalar_one()
    divisions = (await session.execute(select(func.count()).select_from(Division))).scalar_one()
    items = (await session.execute(select(func.count(ServiceItem.id)))).scalar_one()
    # core's divisions and departments, then the service hall's item catalog; the declared
    # sensing rules wait for their ObservedProperty, which a fresh city does not have
    assert departments + divisions > len(seed.DEPARTMENTS) and items > 0
    assert made == departments + divisions + items
    assert await seed.seed_reference_data(session, ROOT, modules()) == 0
