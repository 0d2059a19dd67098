"""Services of the service hall (网上办事大厅): the service item catalog (事项目录)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, i18n
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.services.models import ServiceItem
from smartcity.services.schemas import ServiceItemCreate, ServiceItemRead
from smartcity.web.cache import invalidate_after_commit

# The cache tag of the public catalogue and item pages (web/cache.py): dropped when an item
# is added or changed.
CATALOGUE_PAGES = "services.catalogue"

ACTIONS: dict[str, frozenset[str]] = {
    "services.item.create": frozenset({"admin"}),
}

APPLICANT_KINDS = ("citizen", "enterprise")


def readable_service_items(principal: Principal | None) -> Select[ServiceItem]:
    """Everyone sees the active items; administrators also the withdrawn ones."""
    query = select(ServiceItem).order_by(ServiceItem.code)
    if principal is not None and principal.is_("admin"):
        return query
    return query.where(ServiceItem.active)


async def _department(session: AsyncSession, code: str) -> Department:
    dep = (
        await session.execute(select(Department).where(Department.code == code))
    ).scalar_one_or_none()
    if dep is None:
        raise InvalidInput(
            _("There is no department with the code %(code)s.") % {"code": code},
            field="department",
        )
    return dep


async def list_service_items(
    session: AsyncSession,
    principal: Principal | None,
    *,
    q: str | None = None,
    life_event: str | None = None,
    department: str | None = None,
    applicant_kind: str | None = None,
) -> list[ServiceItem]:
    """The catalog, filtered by words (name, code, description, legal basis), life event (主题),
    department and who may apply."""
    query = readable_service_items(principal)
    if q and q.strip():
        like = f"%{q.strip()}%"
        query = query.where(
            or_(
                ServiceItem.code.ilike(like),
                ServiceItem.name.ilike(like),
                ServiceItem.description.ilike(like),
                ServiceItem.legal_basis.ilike(like),
            )
        )
    if department:
        dep = await _department(session, department)
        query = query.where(ServiceItem.department_id == dep.id)
    if applicant_kind is not None and applicant_kind not in APPLICANT_KINDS:
        raise InvalidInput(
            _("Who applies is citizen or enterprise, not %(value)s.") % {"value": applicant_kind},
            field="applicant_kind",
        )
    items = list((await session.execute(query)).scalars())
    # JSON lists filter alike on SQLite and PostgreSQL in Python; the catalog is small.
    if life_event:
        items = [i for i in items if life_event in i.life_events]
    if applicant_kind:
        items = [i for i in items if applicant_kind in i.applicant_kinds]
    return items


async def get_service_item(
    session: AsyncSession, principal: Principal | None, code: str
) -> ServiceItem:
    """One service item by code, else 404."""
    found = (
        await session.execute(readable_service_items(principal).where(ServiceItem.code == code))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such service item."))
    return found


async def life_events(session: AsyncSession, principal: Principal | None) -> list[str]:
    """The life events (主题服务) the catalog's items name, in order of first use."""
    seen: dict[str, None] = {}
    for item in (await session.execute(readable_service_items(principal))).scalars():
        for event in item.life_events:
            seen.setdefault(event, None)
    return list(seen)


async def departments_of_items(
    session: AsyncSession, principal: Principal | None
) -> dict[uuid.UUID, Department]:
    """The departments that offer readable items, by id."""
    ids = select(readable_service_items(principal).subquery().c.department_id)
    rows = (
        await session.execute(
            select(Department).where(Department.id.in_(ids)).order_by(Department.code)
        )
    ).scalars()
    return {d.id: d for d in rows}


def item_read(item: ServiceItem, department: Department) -> ServiceItemRead:
    """The public view of an item with its department named."""
    return ServiceItemRead.model_validate(
        {
            **{c: getattr(item, c) for c in ServiceItemRead.model_fields if hasattr(item, c)},
            "department_code": department.code,
            "department_name": department.name,
        }
    )


async def create_service_item(
    session: AsyncSession, principal: Principal, data: ServiceItemCreate
) -> ServiceItem:
    """Add an item to the catalog (事项入库)."""
    authorize(principal, "services.item.create")
    dep = await _department(session, data.department_code)
    exists = (
        await session.execute(select(ServiceItem.id).where(ServiceItem.code == data.code))
    ).scalar_one_or_none()
    if exists is not None:
        raise Conflict(_("A service item with this code exists."), field="code")
    item = ServiceItem(
        id=uuid.uuid4(),
        code=data.code,
        name=data.name,
        name_en=data.name_en,
        description=data.description,
        department_id=dep.id,
        legal_basis=data.legal_basis,
        statutory_days=data.statutory_days,
        promised_days=data.promised_days,
        fee_fen=data.fee_fen,
        applicant_kinds=list(data.applicant_kinds),
        life_events=list(data.life_events),
        materials=[m.model_dump() for m in data.materials],
        form_fields=[f.model_dump() for f in data.form_fields],
        active=True,
    )
    session.add(item)
    await session.flush()
    await audit.log(session, principal, "services.item.created", target=item.code)
    invalidate_after_commit(session, CATALOGUE_PAGES)
    return item


async def item_names(session: AsyncSession, codes: Sequence[str]) -> dict[str, str]:
    """Service item names by code (事项名称) in the reader's language, for the supervision
    board's categories."""
    rows = await session.execute(
        select(ServiceItem.code, ServiceItem.name, ServiceItem.name_en).where(
            ServiceItem.code.in_(list(codes))
        )
    )
    return {code: i18n.pick(name, name_en) for code, name, name_en in rows}
