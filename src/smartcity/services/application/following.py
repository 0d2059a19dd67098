"""Following an application (我的申请): the applicant's list, one application with its form or
what was handed in, the 补正 the department asked for, and the 好差评 rating."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.cases.contract import CaseEventRecord, CaseRatingRecord, CaseRecord
from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.workdays import load_calendar
from smartcity.services.application.access import (
    case_awaiting_supplement,
    case_of,
    files_of,
    get_application,
    item_of,
    own_application,
    readable_applications,
)
from smartcity.services.application.prefill import (
    FieldState,
    MaterialState,
    Missing,
    Source,
    field_states,
    log_prefill,
    material_states,
    registry_record,
    what_is_missing,
)
from smartcity.services.application.progress import (
    ClockView,
    TimelineLine,
    applicant_timeline,
    clock_view,
    state_title,
)
from smartcity.services.models import Application, Material, ServiceItem

NOTE_MAX = 500
SUPPLEMENTED_TOPIC = "services.application.supplemented"


# --- following an application ------------------------------------------------------------------


@dataclass(frozen=True)
class SupplementRequest:
    """What the department asked for (要求补正) and when."""

    at: datetime
    missing: str


@dataclass
class ApplicationView:
    """An application with everything its page and the API show (``application`` is None
    for the form of one not started yet)."""

    application: Application | None
    item: ServiceItem
    department: Department
    case: CaseRecord | None
    state: str
    state_title: str
    fields: list[FieldState]
    materials: list[MaterialState]
    supplements: list[Material]
    missing: list[Missing]
    clock: ClockView | None
    registry_note: str = ""
    timeline: list[TimelineLine] = field(default_factory=list)
    supplement_request: SupplementRequest | None = None
    rating: CaseRatingRecord | None = None

    @property
    def can_rate(self) -> bool:
        return self.case is not None and self.case.closed_at is not None and self.rating is None

    @property
    def awaiting_supplement(self) -> bool:
        return self.case is not None and self.case.state == "awaiting_supplement"


async def draft_form(
    session: AsyncSession,
    principal: Principal,
    item: ServiceItem,
    application: Application | None,
    *,
    via: str = "api",
    log: bool = True,
) -> ApplicationView:
    """The form of a draft, or of one not started yet (``application`` None): prefilled from
    the registries with what still blocks submission. Showing it is access-logged; ``log``
    False only where nothing of it is shown."""
    department = await session.get(Department, item.department_id)
    assert department is not None
    files = await files_of(session, application.id) if application is not None else []
    record = await registry_record(session, principal, item)
    fields = field_states(item, application.answers if application else {}, record)
    materials = material_states(item, files, record)
    used = [f.source.field for f in fields if f.source] + [
        m.source.field for m in materials if m.source
    ]
    if log:
        await log_prefill(session, principal, record, used, item=item, via=via)
    return ApplicationView(
        application,
        item,
        department,
        None,
        "draft",
        state_title(None),
        fields,
        materials,
        [],
        what_is_missing(fields, materials),
        None,
        registry_note=record.note,
    )


async def describe_application(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    *,
    via: str = "api",
) -> ApplicationView:
    """An application as its applicant follows it: a draft with its form (prefilled from the
    registries, the read access-logged) and what still blocks submission; a submitted one
    with what was handed in, state, time left, timeline, the 补正 request and the rating."""
    application = await get_application(session, principal, application_id)
    item = await item_of(session, application)
    if application.case_id is None:
        return await draft_form(session, principal, item, application, via=via)
    department = await session.get(Department, item.department_id)
    assert department is not None
    files = await files_of(session, application.id)
    case_ = await cases.get_case(session, principal, application.case_id)
    case_department = await session.get(Department, case_.department_id)
    events = await cases.timeline(session, principal, case_.id)
    return ApplicationView(
        application,
        item,
        case_department or department,
        case_,
        case_.state,
        state_title(case_),
        submitted_fields(case_),
        submitted_materials(case_, files),
        [f for f in files if f.supplement],
        [],
        clock_view(case_, await load_calendar(session)),
        timeline=await applicant_timeline(session, principal, case_, events),
        supplement_request=_last_request(events) if case_.state == "awaiting_supplement" else None,
        rating=await cases.rating_of(session, case_.id),
    )


def _source_of(data: Mapping[str, Any] | None) -> Source | None:
    if not data:
        return None
    return Source(
        str(data.get("registry", "")),
        str(data.get("field", "")),
        str(data.get("department_code", "")),
        str(data.get("department_name", "")),
    )


def submitted_fields(case_: CaseRecord) -> list[FieldState]:
    """The form as it was submitted, from the case's data."""
    return [
        FieldState(
            name=str(f.get("name", "")),
            label=str(f.get("label", "")),
            type=str(f.get("type", "text")),
            required=False,
            value=str(f.get("value", "")),
            source=_source_of(f.get("source")),
        )
        for f in (case_.data or {}).get("fields", [])
    ]


def submitted_materials(case_: CaseRecord, files: Sequence[Material]) -> list[MaterialState]:
    """What was handed in at submission: files by material, and those the registries gave."""
    data = case_.data or {}
    from_registry = {str(m.get("name")): m for m in data.get("registry_materials", [])}
    names: dict[str, None] = {}
    for m in data.get("materials", []):
        names.setdefault(str(m.get("name")), None)
    for name in from_registry:
        names.setdefault(name, None)
    states = []
    for index, name in enumerate(names):
        registry_material = from_registry.get(name)
        states.append(
            MaterialState(
                index=index,
                name=name,
                required=True,
                source=_source_of(registry_material),
                registry_value=str((registry_material or {}).get("value", "")),
                files=tuple(f for f in files if f.name == name and not f.supplement),
            )
        )
    return states


@dataclass(frozen=True)
class ApplicationSummary:
    """One line of 我的申请."""

    application: Application
    item: ServiceItem
    case: CaseRecord | None
    state_title: str
    clock: ClockView | None


async def list_my_applications(
    session: AsyncSession, principal: Principal
) -> list[ApplicationSummary]:
    """The applicant's drafts and submitted applications, newest first: one query for them
    with their items, one for all their cases."""
    authorize(principal, "services.application.draft")
    rows = (
        await session.execute(
            readable_applications(principal)
            .add_columns(ServiceItem)
            .join(ServiceItem, ServiceItem.id == Application.item_id)
            .order_by(
                func.coalesce(Application.submitted_at, Application.created_at).desc(),
                Application.id,
            )
        )
    ).all()
    found = await cases.cases_by_id(session, [application.case_id for application, _item in rows])
    calendar = await load_calendar(session)
    now = clock.now()
    summaries = []
    for application, item in rows:
        case_ = found.get(application.case_id) if application.case_id else None
        summaries.append(
            ApplicationSummary(
                application,
                item,
                case_,
                state_title(case_),
                clock_view(case_, calendar, now) if case_ is not None else None,
            )
        )
    return summaries


# --- 补正 (supplement) ----------------------------------------------------------------------


def _last_request(events: Sequence[CaseEventRecord]) -> SupplementRequest | None:
    for event in reversed(events):
        if event.kind == "transition" and event.name == "request_supplement":
            fields = (event.data or {}).get("fields") or {}
            return SupplementRequest(event.at, str(fields.get("missing") or ""))
    return None


async def supplement(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    *,
    note: str = "",
) -> Application:
    """Send the supplement (补正): the files uploaded since the department asked, and a note;
    the case goes back to review and its clocks run again."""
    application = await own_application(
        session, principal, application_id, "services.application.supplement"
    )
    case_ = await case_awaiting_supplement(session, principal, application)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(
            _("A note of at most %(max)s characters is needed.") % {"max": NOTE_MAX},
            field="note",
        )
    request = _last_request(await cases.timeline(session, principal, case_.id))
    since = request.at if request is not None else case_.opened_at
    new = [
        f
        for f in await files_of(session, application.id)
        if f.supplement and f.uploaded_at >= since
    ]
    if not new and not note:
        raise InvalidInput(
            _("Upload what the department asked for, or explain in a note, before you send it."),
            field="file",
        )
    await cases.transition(
        session,
        principal,
        case_.id,
        "supplement",
        fields={"note": note, "materials": [f"{f.name}：{f.filename}" for f in new]},
    )
    await audit.log(
        session,
        principal,
        SUPPLEMENTED_TOPIC,
        str(application.id),
        case=case_.number,
        materials=[f.sha256 for f in new],
    )
    return application


# --- 好差评 --------------------------------------------------------------------------------


async def rate_application(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    score: int,
    comment: str = "",
) -> CaseRatingRecord:
    """The applicant's rating of the finished case (好差评), once."""
    application = await own_application(
        session, principal, application_id, "services.application.rate"
    )
    case_ = await case_of(session, principal, application)
    return await cases.rate(session, principal, case_.id, score, comment)
