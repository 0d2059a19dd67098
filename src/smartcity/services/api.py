"""REST API of the service hall (网上办事大厅): the public service item catalog, and applying
online (网上申报) for citizens and enterprises."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from starlette.responses import Response

from smartcity.core.authz import Principal
from smartcity.core.security import public, require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.services import search, service
from smartcity.services.application import drafts, following, materials, submission
from smartcity.services.application.following import ApplicationSummary, ApplicationView
from smartcity.services.application.prefill import FieldState, MaterialState, Source
from smartcity.services.application.progress import ClockView
from smartcity.services.models import Material
from smartcity.services.schemas import (
    CODE_PATTERN,
    AnswersUpdate,
    ApplicantKind,
    ApplicationCreate,
    ApplicationRead,
    ApplicationSummaryRead,
    ClockRead,
    FieldRead,
    MaterialRead,
    MissingRead,
    RatingInput,
    RatingRead,
    RequiredMaterialRead,
    ServiceItemRead,
    ServiceSearchHitRead,
    ServiceSearchRead,
    SourceRead,
    SupplementInput,
    SupplementRequestRead,
    TimelineLineRead,
)

router = APIRouter(prefix="/api/v1/services", route_class=UnitOfWorkRoute, tags=["services"])


@router.get("/items", response_model=list[ServiceItemRead], dependencies=[Depends(public)])
async def list_items(
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    life_event: Annotated[str | None, Query(max_length=20)] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    applicant_kind: ApplicantKind | None = None,
) -> list[ServiceItemRead]:
    """The service item catalog (事项目录), for everyone; filters by words, life event,
    department and who may apply."""
    items = await service.list_service_items(
        session,
        None,
        q=q,
        life_event=life_event,
        department=department,
        applicant_kind=applicant_kind,
    )
    departments = await service.departments_of_items(session, None)
    return [service.item_read(i, departments[i.department_id]) for i in items]


@router.get("/search", response_model=ServiceSearchRead, dependencies=[Depends(public)])
async def search_items(
    session: DbSession,
    q: Annotated[str, Query(min_length=1, max_length=search.MAX_QUERY)],
    limit: Annotated[int, Query(ge=1, le=search.MAX_LIMIT)] = search.DEFAULT_LIMIT,
) -> ServiceSearchRead:
    """Search the service items (事项搜索) by name, keyword, life event or department, in
    Chinese (segmented into words, so 居住证 finds 居住证办理) or English; the best match
    first: the item of that exact name, then names holding the words, then keywords, life
    events and departments. An empty or over-long query, control characters or a limit
    outside 1–50 are a 422 problem (`/problems/invalid-input`)."""
    result = await search.search_service_items(session, q=q, limit=limit)
    return ServiceSearchRead(
        query=result.query,
        words=result.words,
        total=result.total,
        items=[
            ServiceSearchHitRead.model_validate(
                {
                    **service.item_read(f.item, f.department).model_dump(),
                    "matched": list(f.matched),
                }
            )
            for f in result.found
        ],
    )


@router.get("/items/{code}", response_model=ServiceItemRead, dependencies=[Depends(public)])
async def get_item(
    session: DbSession, code: Annotated[str, Path(pattern=CODE_PATTERN)]
) -> ServiceItemRead:
    """One service item: what to hand in, limits, fees and legal basis."""
    item = await service.get_service_item(session, None, code)
    departments = await service.departments_of_items(session, None)
    return service.item_read(item, departments[item.department_id])


# --- applying online (网上申报) ----------------------------------------------------------------

Applicant = Annotated[Principal, Depends(require_principal("citizen", "enterprise"))]
# Materials are read by their applicant, staff of the case's department and supervisors; the
# service answers 404 to anyone else of these kinds.
MaterialReader = Annotated[
    Principal, Depends(require_principal("citizen", "enterprise", "staff", "supervisor"))
]


def material_url(material_id: uuid.UUID) -> str:
    return f"/api/v1/services/materials/{material_id}"


def _source(source: Source | None) -> SourceRead | None:
    if source is None:
        return None
    return SourceRead(
        registry=source.registry,
        field=source.field,
        department_code=source.department_code,
        department_name=source.department_name,
    )


def _file(material: Material) -> MaterialRead:
    return MaterialRead(
        id=material.id,
        name=material.name,
        filename=material.filename,
        content_type=material.content_type,
        size=material.size,
        sha256=material.sha256,
        uploaded_at=material.uploaded_at,
        supplement=material.supplement,
        download=material_url(material.id),
    )


def _field(state: FieldState) -> FieldRead:
    return FieldRead(
        name=state.name,
        label=state.label,
        type=state.type,
        required=state.required,
        value=state.value,
        prefilled=state.source is not None,
        source=_source(state.source),
        note=state.note,
    )


def _material(state: MaterialState) -> RequiredMaterialRead:
    return RequiredMaterialRead(
        name=state.name,
        required=state.required,
        provided=state.provided,
        source=_source(state.source),
        registry_value=state.registry_value,
        files=[_file(f) for f in state.files],
        note=state.note,
    )


def _clock(clock: ClockView | None) -> ClockRead | None:
    if clock is None:
        return None
    return ClockRead.model_validate(clock, from_attributes=True)


def _summary(line: ApplicationSummary) -> ApplicationSummaryRead:
    application, case = line.application, line.case
    return ApplicationSummaryRead(
        id=application.id,
        item_code=line.item.code,
        item_name=line.item.name,
        status="submitted" if application.status == "submitted" else "draft",
        created_at=application.created_at,
        submitted_at=application.submitted_at,
        case_id=application.case_id,
        case_number=case.number if case else None,
        state=case.state if case else "draft",
        state_title=line.state_title,
        clock=_clock(line.clock),
    )


def _read(view: ApplicationView) -> ApplicationRead:
    application, case = view.application, view.case
    assert application is not None  # the API describes started applications only
    request = view.supplement_request
    rating = view.rating
    return ApplicationRead(
        id=application.id,
        item_code=view.item.code,
        item_name=view.item.name,
        status="submitted" if application.status == "submitted" else "draft",
        created_at=application.created_at,
        submitted_at=application.submitted_at,
        case_id=application.case_id,
        case_number=case.number if case else None,
        state=view.state,
        state_title=view.state_title,
        clock=_clock(view.clock),
        department_code=view.department.code,
        department_name=view.department.name,
        registry_note=view.registry_note,
        fields=[_field(f) for f in view.fields],
        materials=[_material(m) for m in view.materials],
        supplements=[_file(f) for f in view.supplements],
        missing=[MissingRead(kind=m.kind, name=m.name, label=m.label) for m in view.missing],
        timeline=[
            TimelineLineRead(at=t.at, title=t.title, detail=t.detail, by_you=t.by_you)
            for t in view.timeline
        ],
        supplement_request=SupplementRequestRead(at=request.at, missing=request.missing)
        if request
        else None,
        rating=RatingRead(score=rating.score, comment=rating.comment, rated_at=rating.rated_at)
        if rating
        else None,
        can_rate=view.can_rate,
    )


async def _describe(
    session: DbSession, principal: Principal, application_id: uuid.UUID
) -> ApplicationRead:
    return _read(await following.describe_application(session, principal, application_id))


@router.post("/applications", response_model=ApplicationRead, status_code=201)
async def start_application(
    session: DbSession, principal: Applicant, body: ApplicationCreate, response: Response
) -> ApplicationRead:
    """Start an application for a service item (开始申报); the open draft for the same item is
    returned (200) rather than a second one. 403 when the item is not for the caller's kind."""
    application, created = await drafts.start_application(session, principal, body.item_code)
    if not created:
        response.status_code = 200
    return await _describe(session, principal, application.id)


@router.get("/applications", response_model=list[ApplicationSummaryRead])
async def my_applications(session: DbSession, principal: Applicant) -> list[ApplicationSummaryRead]:
    """我的申请: drafts and submitted applications, newest first, with state and time left."""
    return [_summary(line) for line in await following.list_my_applications(session, principal)]


@router.get("/applications/{application_id}", response_model=ApplicationRead)
async def read_application(
    session: DbSession, principal: Applicant, application_id: uuid.UUID
) -> ApplicationRead:
    """One of the caller's applications: a draft's form (免提交 fields prefilled with their
    source) and what still blocks submission; a submitted one's progress."""
    return await _describe(session, principal, application_id)


@router.patch("/applications/{application_id}", response_model=ApplicationRead)
async def save_answers(
    session: DbSession, principal: Applicant, application_id: uuid.UUID, body: AnswersUpdate
) -> ApplicationRead:
    """Save answers in the draft (暂存); 422 lists every refused field in ``errors``."""
    await drafts.save_answers(session, principal, application_id, body.answers)
    return await _describe(session, principal, application_id)


@router.delete("/applications/{application_id}", status_code=204)
async def delete_draft(
    session: DbSession, principal: Applicant, application_id: uuid.UUID
) -> Response:
    """Delete a draft with its uploads; 409 once submitted."""
    await drafts.delete_draft(session, principal, application_id)
    return Response(status_code=204)


@router.post(
    "/applications/{application_id}/materials", response_model=MaterialRead, status_code=201
)
async def upload_material(
    session: DbSession,
    principal: Applicant,
    application_id: uuid.UUID,
    name: Annotated[str, Form(max_length=200)],
    file: Annotated[UploadFile, File()],
) -> MaterialRead:
    """Upload one file for a material (multipart: ``name``, ``file``): PDF, JPEG or PNG by its
    content, at most ``MAX_MATERIAL_BYTES``. 415 wrong type, 413 too large, 422 empty or an
    unknown material. During 补正 the file is a supplement and goes on the case's timeline."""
    content = await materials.read_upload(file)
    material = await materials.upload_material(
        session, principal, application_id, name=name, filename=file.filename, content=content
    )
    return _file(material)


@router.delete("/applications/{application_id}/materials/{material_id}", status_code=204)
async def remove_material(
    session: DbSession, principal: Applicant, application_id: uuid.UUID, material_id: uuid.UUID
) -> Response:
    """Remove a file from a draft."""
    await materials.remove_material(session, principal, material_id, application_id=application_id)
    return Response(status_code=204)


@router.post("/applications/{application_id}/submit", response_model=ApplicationRead)
async def submit(
    session: DbSession, principal: Applicant, application_id: uuid.UUID
) -> ApplicationRead:
    """Submit the draft: opens the case. 422 names each missing field and material in
    ``missing``."""
    await submission.submit_application(session, principal, application_id, via="api")
    return await _describe(session, principal, application_id)


@router.post("/applications/{application_id}/supplement", response_model=ApplicationRead)
async def send_supplement(
    session: DbSession, principal: Applicant, application_id: uuid.UUID, body: SupplementInput
) -> ApplicationRead:
    """Send the supplement (补正) after uploading the files asked for; 409 unless asked."""
    await following.supplement(session, principal, application_id, note=body.note)
    return await _describe(session, principal, application_id)


@router.post("/applications/{application_id}/rating", response_model=RatingRead, status_code=201)
async def rate(
    session: DbSession, principal: Applicant, application_id: uuid.UUID, body: RatingInput
) -> RatingRead:
    """好差评 of the finished case, once: 1 to 5 with an optional comment."""
    rating = await following.rate_application(
        session, principal, application_id, body.score, body.comment
    )
    return RatingRead(score=rating.score, comment=rating.comment, rated_at=rating.rated_at)


def content_disposition(filename: str) -> str:
    """An attachment header that keeps a Chinese file name (RFC 6266 / RFC 5987)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def material_response(material: Material) -> Response:
    return Response(
        material.content,
        media_type=material.content_type,
        headers={
            "Content-Disposition": content_disposition(material.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "ETag": f'"{material.sha256}"',
        },
    )


@router.get("/materials/{material_id}", response_class=Response)
async def download_material(
    session: DbSession, principal: MaterialReader, material_id: uuid.UUID
) -> Response:
    """A material's file, for its applicant, staff of the case's department and supervisors;
    404 for anyone else."""
    return material_response(await materials.get_material(session, principal, material_id))
