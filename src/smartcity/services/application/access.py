"""Who may do and read what of an application (网上申报): the actions, the readable_* queries
every read starts from, and the lookups the other parts share (the applicant's own
application, their draft, its files, its case)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from smartcity.cases import contract as cases
from smartcity.cases.contract import CaseRecord
from smartcity.core.authz import ObjectRule, Principal, authorize
from smartcity.core.errors import Conflict, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.services.models import Application, Material, ServiceItem

APPLICANTS = frozenset({"citizen", "enterprise"})
ACTIONS: dict[str, frozenset[str]] = {
    # Drafting: start, save answers, upload and remove materials, delete the draft.
    "services.application.draft": APPLICANTS,
    "services.application.submit": APPLICANTS,
    "services.application.supplement": APPLICANTS,
    "services.application.rate": APPLICANTS,
}


def _applicants_own(principal: Principal, obj: Any) -> bool:
    return principal.id is not None and getattr(obj, "applicant_account_id", None) == principal.id


# Declared in MODULE.rules: an applicant acts only on their own application.
RULES: dict[str, ObjectRule] = dict.fromkeys(ACTIONS, _applicants_own)


def readable_applications(principal: Principal) -> Select[Application]:
    """Applicants read their own applications (drafts too); staff the submitted ones whose case
    is with their department; supervisors every submitted one (电子监察 checks what was handed
    in); no one else any."""
    query = select(Application)
    if principal.kind in APPLICANTS and principal.id is not None:
        return query.where(Application.applicant_account_id == principal.id)
    if principal.kind == "staff" and principal.department_id is not None:
        return query.where(
            Application.case_id.in_(cases.department_case_ids(principal.department_id))
        )
    if principal.kind == "supervisor":
        return query.where(Application.case_id.is_not(None))
    return query.where(false())


def readable_materials(principal: Principal) -> Select[Material]:
    """Materials of the applications the principal reads (see readable_applications)."""
    ids = readable_applications(principal).with_only_columns(Application.id)
    return select(Material).where(Material.application_id.in_(ids))


async def get_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> Application:
    """One readable application, else 404."""
    found = (
        await session.execute(
            readable_applications(principal).where(Application.id == application_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such application."))
    return found


async def item_of(session: AsyncSession, application: Application) -> ServiceItem:
    """The service item (事项) applied for."""
    item = await session.get(ServiceItem, application.item_id)
    assert item is not None  # item_id is a RESTRICT foreign key
    return item


async def own_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID, action: str
) -> Application:
    """A readable application the principal may take ``action`` on, else 404 or 403."""
    application = await get_application(session, principal, application_id)
    authorize(principal, action, application)
    return application


async def own_draft(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> tuple[Application, ServiceItem]:
    """The applicant's draft with its item, while both can still change: 409 once submitted
    or when the item is no longer offered online."""
    application = await own_application(
        session, principal, application_id, "services.application.draft"
    )
    if application.status != "draft":
        raise Conflict(
            _("This application was submitted; it can no longer be changed."),
            status_of_application=application.status,
        )
    item = await item_of(session, application)
    if not item.active:
        raise Conflict(_("This service is no longer offered online."))
    return application, item


async def files_of(
    session: AsyncSession, application_id: uuid.UUID, *, with_content: bool = False
) -> list[Material]:
    """The application's files not withdrawn, oldest first; without their bytes unless asked."""
    query = select(Material).where(
        Material.application_id == application_id, Material.withdrawn_at.is_(None)
    )
    if not with_content:
        query = query.options(defer(Material.content))
    rows = await session.execute(query.order_by(Material.uploaded_at, Material.filename))
    return list(rows.scalars())


async def case_of(
    session: AsyncSession, principal: Principal, application: Application
) -> CaseRecord:
    """The case a submitted application opened; 409 for a draft."""
    if application.case_id is None:
        raise Conflict(_("This application has not been submitted yet."))
    return await cases.get_case(session, principal, application.case_id)


async def case_awaiting_supplement(
    session: AsyncSession, principal: Principal, application: Application
) -> CaseRecord:
    """The application's case while the department waits for a supplement (补正), else 409."""
    case_ = await case_of(session, principal, application)
    if case_.state != "awaiting_supplement":
        raise Conflict(
            _("The department has not asked you to complete this application."),
            state=case_.state,
        )
    return case_
