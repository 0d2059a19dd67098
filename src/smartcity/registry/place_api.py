"""REST API of places (地理空间库), point and address resolution, bulk imports and data
quality. Included into the registry module's API router."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from starlette.responses import FileResponse, Response

from smartcity.core.api import oauth2
from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.security import require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute, get_database
from smartcity.registry import importing, places, quality
from smartcity.registry.place_schemas import (
    ImportRunRead,
    PlaceCreate,
    PlaceFeature,
    PlaceKind,
    PlacePage,
    PlaceRead,
    PlaceRefRead,
    PlaceUpdate,
    QualityIssuePage,
    QualityIssueRead,
    QualityReport,
    QualityReportRow,
    QualityRunRead,
    ResolvedPlaceRead,
)

router = APIRouter(
    prefix="/api/v1/registry",
    route_class=UnitOfWorkRoute,
    tags=["registry"],
    dependencies=[Depends(oauth2)],
)

Reader = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin", "system"))]
Writer = Annotated[Principal, Depends(require_principal("staff", "admin", "system"))]
Sweeper = Annotated[Principal, Depends(require_principal("admin", "system"))]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]
PROBLEMS: dict[int | str, dict[str, str]] = {
    403: {"description": "Not the source department (一数一源)"},
    404: {"description": "No such place, import or grid"},
    409: {"description": "The place code exists already"},
    422: {"description": "Invalid input: geometry, parent, district, coordinates"},
}
RECORD_TYPES = {"persons": "person", "organizations": "organization", "places": "place"}


def _feature(place_feature: dict[str, object]) -> PlaceFeature:
    return PlaceFeature.model_validate(place_feature)


def _resolved(found: places.ResolvedPlace) -> ResolvedPlaceRead:
    def ref(r: places.PlaceRef | None) -> PlaceRefRead | None:
        return PlaceRefRead(code=r.code, name=r.name, kind=r.kind) if r else None

    grid, district = ref(found.grid), ref(found.district)
    assert grid is not None and district is not None
    return ResolvedPlaceRead(
        lon=found.lon,
        lat=found.lat,
        grid=grid,
        community=ref(found.community),
        street=ref(found.street),
        district=district,
        address=ref(found.address),
    )


# --- places ------------------------------------------------------------------------------


@router.get("/places", response_model=PlacePage, responses=PROBLEMS)
async def list_places(
    session: DbSession,
    principal: Reader,
    parent: Annotated[str | None, Query(description="Parent code (a district for streets)")] = None,
    kind: Annotated[PlaceKind | None, Query()] = None,
    district: Annotated[str | None, Query(description="District code, e.g. 440304")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PlacePage:
    """The place tree, a level at a time: ``?parent=440304`` gives 福田区's streets."""
    items, total = await places.list_places(
        session,
        principal,
        parent=parent,
        kind=kind,
        district=district,
        limit=limit,
        offset=offset,
    )
    return PlacePage(
        items=[PlaceRead.model_validate(p) for p in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/places", response_model=PlaceFeature, status_code=201, responses=PROBLEMS)
async def create_place(session: DbSession, principal: Writer, data: PlaceCreate) -> PlaceFeature:
    """Register a place (规划和自然资源局 or an admin); answers with sanity warnings if any."""
    place = await places.create_place(session, principal, data)
    warnings = await places.warnings_for(session, place)
    return _feature(places.place_feature(place, warnings))


@router.get("/places/{code}", response_model=PlaceFeature, responses=PROBLEMS)
async def get_place(session: DbSession, principal: Reader, code: str) -> PlaceFeature:
    """A place as a GeoJSON Feature."""
    return _feature(places.place_feature(await places.get_place(session, principal, code)))


@router.patch("/places/{code}", response_model=PlaceFeature, responses=PROBLEMS)
async def update_place(
    session: DbSession, principal: Writer, code: str, data: PlaceUpdate
) -> PlaceFeature:
    """Change a place's name, parent, geometry or properties; history is kept."""
    place = await places.update_place(session, principal, code, data)
    warnings = await places.warnings_for(session, place)
    return _feature(places.place_feature(place, warnings))


@router.get("/resolve", response_model=ResolvedPlaceRead, responses=PROBLEMS)
async def resolve(
    session: DbSession,
    principal: Reader,
    lon: Annotated[float | None, Query(description="WGS 84 longitude")] = None,
    lat: Annotated[float | None, Query(description="WGS 84 latitude")] = None,
    address: Annotated[str | None, Query(max_length=200)] = None,
) -> ResolvedPlaceRead:
    """The grid → community → street → district of a point, or of an address place."""
    if address:
        found = await places.resolve_address(session, address)
        if found is None:
            raise NotFound(_("No address place matches, or it lies in no grid."))
        return _resolved(found)
    if lon is None or lat is None:
        raise InvalidInput(_("Give lon and lat, or an address."), field="lon")
    found = await places.resolve_point(session, lon, lat)
    if found is None:
        raise NotFound(_("No grid contains the point {lon}, {lat}.").format(lon=lon, lat=lat))
    return _resolved(found)


# --- imports -----------------------------------------------------------------------------


@router.post(
    "/imports/{record_type}", response_model=ImportRunRead, status_code=202, responses=PROBLEMS
)
async def start_import(
    request: Request,
    session: DbSession,
    principal: Writer,
    background: BackgroundTasks,
    record_type: Literal["persons", "organizations", "places"],
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> ImportRunRead:
    """Upload a CSV (persons, organizations) or GeoJSON (places) file as the body; the import
    runs after the answer (poll its run). The same content again resumes, never duplicates."""
    body = await request.body()
    if not body:
        raise InvalidInput(_("Send the file as the request body."))
    kind = RECORD_TYPES[record_type]
    path, sha256 = importing.upload_path(request.app.state.settings.var_dir, kind, body)
    run = await importing.start_import(
        session,
        principal,
        record_type=kind,
        path=path,
        source_name=request.headers.get("X-Filename", "") or path.name,
        sha256=sha256,
        department_code=department,
    )
    if run.status != "done":
        # After the commit of this request (UnitOfWorkRoute), in its own transactions.
        background.add_task(
            importing.run_import,
            get_database(request),
            principal,
            run.id,
            path,
            department_code=department,
        )
    return ImportRunRead.model_validate(run)


@router.get("/imports/{run_id}", response_model=ImportRunRead, responses=PROBLEMS)
async def get_import(session: DbSession, principal: Writer, run_id: uuid.UUID) -> ImportRunRead:
    """An import and how far it got."""
    return ImportRunRead.model_validate(await importing.get_import_run(session, principal, run_id))


@router.get("/imports/{run_id}/rejects", responses=PROBLEMS)
async def import_rejects(session: DbSession, principal: Writer, run_id: uuid.UUID) -> Response:
    """The rejected rows of an import with their reasons (CSV)."""
    run = await importing.get_import_run(session, principal, run_id)
    path = importing.rejects_file(run)
    if path is None:
        raise NotFound(_("This import rejected no rows."))
    return FileResponse(path, media_type="text/csv", filename=f"rejects-{run.id}.csv")


# --- data quality ------------------------------------------------------------------------


@router.get("/quality/report", response_model=QualityReport, responses=PROBLEMS)
async def quality_report(session: DbSession, principal: Reader) -> QualityReport:
    """Open data-quality problems per source department, registry, field and rule."""
    rows = await quality.quality_report(session, principal)
    return QualityReport(
        rows=[QualityReportRow(**row.__dict__) for row in rows],
        total_open=sum(row.open for row in rows),
    )


@router.get("/quality/issues", response_model=QualityIssuePage, responses=PROBLEMS)
async def quality_issues(
    session: DbSession,
    principal: Reader,
    department: Annotated[str | None, Query(max_length=32)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    record_type: Annotated[Literal["person", "organization"] | None, Query()] = None,
    resolved: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> QualityIssuePage:
    """Problems to fix; a department sees its own, admins and supervisors all."""
    items, total = await quality.list_quality_issues(
        session,
        principal,
        department=department,
        rule=rule,
        record_type=record_type,
        resolved=resolved,
        limit=limit,
        offset=offset,
    )
    return QualityIssuePage(
        items=[QualityIssueRead.model_validate(i) for i in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/quality/run", response_model=QualityRunRead, responses=PROBLEMS)
async def run_quality(
    session: DbSession,
    principal: Sweeper,
    record_type: Annotated[Literal["person", "organization"], Query()],
) -> QualityRunRead:
    """Run a registry's quality rules now (the daily sweep does it too)."""
    done = await quality.run_quality_checks(session, principal, record_type)
    return QualityRunRead(**done.__dict__)
