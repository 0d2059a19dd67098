"""Submitting an application (提交申请): the completeness check, the case opened on the case
engine with exactly what was used, and the 电子监察 hook that flags refusing a complete one
(应受理未受理)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.cases.contract import CaseRecord, StepTaken
from smartcity.core import audit
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account, Department
from smartcity.core.notifications import Name, Text, notify
from smartcity.services.application.access import files_of, own_draft
from smartcity.services.application.drafts import check_applicant_kind, clean_answers, refusal
from smartcity.services.application.following import NOTE_MAX
from smartcity.services.application.prefill import (
    FieldState,
    MaterialState,
    RegistryRecord,
    field_states,
    log_prefill,
    material_states,
    registry_record,
    what_is_missing,
)
from smartcity.services.events import SUBMITTED, ApplicationSubmitted
from smartcity.services.models import Application, ServiceItem
from smartcity.services.types import BASE_NAME

SUBMITTED_TOPIC = SUBMITTED.name


def _applicant_name(principal: Principal, record: RegistryRecord, account: Account | None) -> str:
    if record.linked and record.value("name"):
        return record.value("name")
    return account.display_name if account is not None else principal.name


async def submit_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID, *, via: str = "api"
) -> Application:
    """Submit a draft (提交申请): every required field and material must be there (the 422
    names each one missing); opens the case with the item's limits, department and code."""
    application, item = await own_draft(session, principal, application_id)
    authorize(principal, "services.application.submit", application)
    check_applicant_kind(item, principal)
    record = await registry_record(session, principal, item)
    fields = field_states(item, application.answers, record)
    own = {
        f.name: application.answers[f.name]
        for f in fields
        if f.source is None and f.name in application.answers
    }
    # The item's form may have changed since the answers were saved: check them again.
    _cleaned, errors = clean_answers(item, own)
    if errors:
        raise refusal(errors)
    files = await files_of(session, application.id)
    materials = material_states(item, files, record)
    missing = what_is_missing(fields, materials)
    if missing:
        raise InvalidInput(
            _("Before you submit, fill in or hand in: %(names)s.")
            % {"names": "、".join(m.label for m in missing)},
            field=missing[0].key,
            missing=[{"kind": m.kind, "name": m.name, "label": m.label} for m in missing],
        )
    department = await session.get(Department, item.department_id)
    assert department is not None  # RESTRICT foreign key
    account = await session.get(Account, principal.id) if principal.id else None
    data = _case_data(item, application, principal, fields, materials)
    case_ = await cases.open_case(
        session,
        principal,
        case_type=BASE_NAME,
        title=f"{item.name}（{_applicant_name(principal, record, account)}）"[: cases.TITLE_MAX],
        department_code=department.code,
        data=data,
        category=item.code,
        statutory_days=item.statutory_days,
        promised_days=item.promised_days,
    )
    used = [f.source.field for f in fields if f.source] + [
        m.source.field for m in materials if m.source
    ]
    await log_prefill(
        session, principal, record, used, item=item, via=via, case_number=case_.number
    )
    application.status = "submitted"
    application.submitted_at = case_.opened_at
    application.case_id = case_.id
    await session.flush()
    await audit.log(
        session,
        principal,
        SUBMITTED_TOPIC,
        str(application.id),
        case=case_.number,
        item=item.code,
        prefilled=sorted(data["prefilled"]),
        materials=[m["sha256"] for m in data["materials"]],
    )
    await SUBMITTED.emit(
        session,
        ApplicationSubmitted(
            application_id=str(application.id),
            case_id=str(case_.id),
            number=case_.number,
            item_code=item.code,
            department=department.code,
        ),
    )
    if principal.id is not None:
        await notify(
            session,
            principal.id,
            topic=SUBMITTED_TOPIC,
            title=Text(N_("Your application has been submitted")),
            body=Text(
                N_(
                    "Your application for %(item)s has been submitted, case number %(number)s; "
                    "it is promised to be settled within %(days)s working days."
                ),
                {
                    "item": Name(item.name, item.name_en),
                    "number": case_.number,
                    "days": item.promised_days,
                },
            ),
            link=f"/my/applications/{application.id}",
        )
    return application


def _case_data(
    item: ServiceItem,
    application: Application,
    principal: Principal,
    fields: Sequence[FieldState],
    materials: Sequence[MaterialState],
) -> dict[str, Any]:
    """What the case keeps of the application: exactly the values used, prefilled ones with
    their sources, the files by hash, and whether it was complete (for 电子监察)."""
    prefilled = {
        f.name: {"label": f.label, "value": f.value, **f.source.as_dict()}
        for f in fields
        if f.source is not None
    }
    return {
        "item_code": item.code,
        "item_name": item.name,
        "application_id": str(application.id),
        "applicant_kind": principal.kind,
        "answers": {f.name: f.value for f in fields if f.source is None and f.value},
        "prefilled": prefilled,
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "type": f.type,
                "value": f.value,
                "source": f.source.as_dict() if f.source else None,
            }
            for f in fields
        ],
        "materials": [
            {
                "id": str(file.id),
                "name": m.name,
                "filename": file.filename,
                "content_type": file.content_type,
                "size": file.size,
                "sha256": file.sha256,
            }
            for m in materials
            for file in m.files
        ],
        "registry_materials": [
            {"name": m.name, "value": m.registry_value, **m.source.as_dict()}
            for m in materials
            if m.source is not None
        ],
        # Submission refuses anything incomplete, so an online application is complete; a
        # case opened otherwise (at a counter, by an import) says so itself or is not.
        "complete": True,
        "missing_optional": [m.name for m in materials if not m.required and not m.provided],
    }


# --- 电子监察 --------------------------------------------------------------------------------


async def flag_qualifying_not_accepted(
    session: AsyncSession, principal: Principal, case_: CaseRecord, step: StepTaken
) -> None:
    """应受理未受理: refusing to accept an application that was complete when submitted is
    flagged for supervisors, whatever the reason given."""
    if step.name != "not_accept" or (case_.data or {}).get("complete") is not True:
        return
    await cases.raise_flag(
        session,
        principal,
        case_,
        "qualifying_not_accepted",
        {
            "item_code": case_.category,
            "application_id": str((case_.data or {}).get("application_id", "")),
            "reason": str(step.fields.get("reason") or "")[:NOTE_MAX],
        },
    )
