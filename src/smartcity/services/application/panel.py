"""The application's panel on the staff case page (办件详情): the answers with the sources of
免提交 values, and the materials with download links, supplements (补正) marked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.cases.contract import CaseRecord, Panel
from smartcity.core.authz import Principal
from smartcity.core.i18n import gettext as _
from smartcity.services.application.access import files_of, readable_materials
from smartcity.services.models import Application, Material


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
