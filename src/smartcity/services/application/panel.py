"""The application's panel on the staff case page (办件详情): the answers with the sources of
免提交 values, and the materials with download links, supplements (补正) marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.cases.contract import CaseRecord, Panel
from smartcity.core.authz import Principal
from smartcity.core.i18n import gettext as _
from smartcity.registry import contract as registry
from smartcity.services.application.access import files_of, readable_materials
from smartcity.services.models import Application, Material

# Stored in the applicant's access log and shown to them: Chinese, as the citizen reads it.
PURPOSE_HANDLING = "办理申请"


def _registry_person_fields(data: Mapping[str, Any]) -> list[str] | None:
    """The person-registry fields the panel shows with a value (None when it shows none);
    of them, the personal ones (ID number, address...) are what the log names as shown.
    Form fields carry their source under ``source``; registry materials carry it flat."""
    sources = [f.get("source") for f in data.get("fields", []) if f.get("value")]
    sources += [m for m in data.get("registry_materials", []) if m.get("value")]
    shown = {
        str(s.get("field", ""))
        for s in sources
        if isinstance(s, Mapping) and s.get("registry") == "person"
    }
    if not shown:
        return None
    return sorted(shown & registry.PERSONAL_FIELDS)


async def log_officer_read(
    session: AsyncSession,
    principal: Principal,
    case_: CaseRecord,
    application: Application,
    *,
    via: str = "page",
) -> None:
    """Opening the application shows the applicant's registry data (ID number, address...):
    one access-log row for the officer, the case number its purpose; reopening it the same
    city day folds into that row (registry.log_reads). The applicant reading their own
    application is no one else's read, and is not logged."""
    if principal.id is not None and principal.id == application.applicant_account_id:
        return
    fields = _registry_person_fields(case_.data or {})
    if fields is None:
        return
    person_id = await registry.person_of_account(session, application.applicant_account_id)
    if person_id is None:
        return
    item_name = str((case_.data or {}).get("item_name", ""))
    await registry.log_reads(
        session,
        principal,
        [(person_id, fields)],
        purpose=f"{PURPOSE_HANDLING}：{item_name}" if item_name else PURPOSE_HANDLING,
        via=via,
        case_number=case_.number,
    )


async def log_api_reads(
    session: AsyncSession, principal: Principal, cases_: Sequence[CaseRecord]
) -> None:
    """The case engine's API answers these applications with their data, prefilled personal
    fields included (cases.contract.OnRead): the same access-log rows as the page, marked
    as read through the API."""
    by_case = {
        a.case_id: a
        for a in (
            await session.execute(
                select(Application).where(Application.case_id.in_([c.id for c in cases_]))
            )
        ).scalars()
    }
    for case_ in cases_:
        application = by_case.get(case_.id)
        if application is not None:
            await log_officer_read(session, principal, case_, application, via="api")


async def case_panel(
    session: AsyncSession, principal: Principal, case_: CaseRecord
) -> Panel | None:
    """The application on the staff case page: the answers (免提交 ones with their source) and
    the materials with download links, supplements (补正) marked, new ones since the last
    request too."""
    application = (
        await session.execute(select(Application).where(Application.case_id == case_.id))
    ).scalar_one_or_none()
    if application is None:
        return None
    files = await files_of(session, application.id)
    readable = set(
        (
            await session.execute(
                readable_materials(principal)
                .where(Material.application_id == application.id)
                .with_only_columns(Material.id)
            )
        ).scalars()
    )
    await log_officer_read(session, principal, case_, application)
    events = await cases.supplement_steps(session, case_.id)
    requested = [e.at for e in events if e.name == "request_supplement"]
    last_request = requested[-1] if requested else None
    data = case_.data or {}

    def file_row(f: Material) -> dict[str, Any]:
        return {
            "id": str(f.id),
            "name": f.name,
            "filename": f.filename,
            "content_type": f.content_type,
            "size": f.size,
            "sha256": f.sha256,
            "uploaded_at": f.uploaded_at,
            "supplement": f.supplement,
            "new": bool(f.supplement and last_request and f.uploaded_at >= last_request),
            "url": f"/api/v1/services/materials/{f.id}" if f.id in readable else "",
        }

    return Panel(
        _("Application form and materials"),
        "services/_case_panel.html",
        {
            "item_code": data.get("item_code", case_.category),
            "item_name": data.get("item_name", ""),
            "submitted_at": application.submitted_at,
            "complete": data.get("complete"),
            "fields": list(data.get("fields", [])),
            "registry_materials": list(data.get("registry_materials", [])),
            "files": [file_row(f) for f in files if not f.supplement],
            "supplements": [file_row(f) for f in files if f.supplement],
            "missing_optional": list(data.get("missing_optional", [])),
        },
    )
