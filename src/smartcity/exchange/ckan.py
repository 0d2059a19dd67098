"""Open data (开放数据) through a CKAN-compatible Action API, DCAT-AP JSON-LD and downloads.

Only open resources appear. The PyPI ``ckanapi`` client works against ``/api/3/action/{name}``
and ``/api/action/{name}`` unchanged: the envelope, the error ``__type`` strings and their
HTTP statuses are CKAN's (NotFound 404, NotAuthorized 403, ValidationError and search errors
409). One CKAN resource per dataset: the CSV download of its rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

import smartcity
from smartcity.core.db import Database
from smartcity.core.models import Department
from smartcity.core.ratelimit import limit_public
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.exchange import service
from smartcity.exchange.ckan_shapes import (
    DCAT_CONTEXT,
    EU,
    _text,
    _when,
    dataset_dict,
    dcat_dataset,
    organization_dict,
    organization_name,
    resource_dict,
    resource_id,
)
from smartcity.exchange.models import Resource

router = APIRouter(route_class=UnitOfWorkRoute, tags=["open data (CKAN, DCAT)"])
OPEN = [Depends(public), Depends(limit_public)]

MAX_ROWS = 1000
DEFAULT_ROWS = 10
CKAN_VERSION = "2.10.4"  # the API generation we follow; ckanapi does not negotiate
FACETS = ("organization", "tags", "license_id", "res_format")
JSONLD = "application/ld+json"


class CkanError(Exception):
    """An error in CKAN's envelope: ``__type`` is what ckanapi maps to its exceptions."""

    def __init__(
        self, kind: str, message: str, status: int, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.kind, self.message, self.status, self.extra = kind, message, status, extra or {}


def not_found(message: str) -> CkanError:
    return CkanError("Not Found Error", message, 404)


def invalid(field: str, message: str) -> CkanError:
    return CkanError("Validation Error", message, 409, {field: [message]})


def bad_query(message: str) -> CkanError:
    return CkanError("Search Query Error", message, 409)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# --- the catalog as CKAN sees it ------------------------------------------------------------


class OpenCatalog:
    """The open resources and their publishers, loaded once per call."""

    def __init__(self, resources: list[Resource], departments: dict[uuid.UUID, Department]):
        self.resources = resources
        self.departments = departments

    @classmethod
    async def load(cls, session: AsyncSession) -> OpenCatalog:
        resources, _total = await service.list_resources(session, None, limit=100_000)
        return cls(resources, await service.departments_by_id(session))

    def publisher(self, resource: Resource) -> Department:
        return self.departments[resource.publisher_department_id]

    def dataset(self, id_or_name: str) -> Resource:
        for resource in self.resources:
            if id_or_name in (resource.code, str(resource.id)):
                return resource
        raise not_found(f"Dataset not found: {id_or_name}")

    def organizations(self) -> list[tuple[Department, int]]:
        counts = Counter(r.publisher_department_id for r in self.resources)
        return sorted(
            ((self.departments[i], n) for i, n in counts.items()),
            key=lambda pair: organization_name(pair[0]),
        )

    def organization(self, id_or_name: str) -> Department:
        wanted = id_or_name.strip()
        for department, _count in self.organizations():
            if wanted in (str(department.id), organization_name(department), department.code):
                return department
        raise not_found(f"Organization not found: {id_or_name}")


Params = dict[str, Any]
Action = Callable[[AsyncSession, Request, Params], Awaitable[Any]]


def _int(params: Params, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise invalid(name, f"Invalid integer: {raw!r}") from exc
    if value < low:
        raise invalid(name, f"Must be at least {low}")
    return min(value, high) if high is not None else value


def _bool(params: Params, name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    if isinstance(raw, bool):
        return raw
    return str(raw).lower() in ("true", "1", "yes", "on")


def _required(params: Params, name: str) -> str:
    raw = params.get(name)
    if raw in (None, ""):
        raise invalid(name, "Missing value")
    return str(raw)


async def package_list(session: AsyncSession, request: Request, params: Params) -> Any:
    catalog = await OpenCatalog.load(session)
    names = sorted(r.code for r in catalog.resources)
    offset = _int(params, "offset", 0)
    limit = _int(params, "limit", len(names), low=0)
    return names[offset : offset + limit]


async def package_show(session: AsyncSession, request: Request, params: Params) -> Any:
    catalog = await OpenCatalog.load(session)
    resource = catalog.dataset(_required(params, "id"))
    return dataset_dict(resource, catalog.publisher(resource), base_url(request))


_FQ_TERM = re.compile(r'\s*(?:\+|AND\s+)?([a-z_]+):("([^"]*)"|[^\s"]+)\s*')


def parse_fq(fq: str) -> list[tuple[str, str]]:
    """``organization:gaj tags:"身份核验"`` into (field, value) pairs, all ANDed."""
    terms, pos = [], 0
    fq = fq.strip()
    while pos < len(fq):
        match = _FQ_TERM.match(fq, pos)
        if match is None:
            raise bad_query(f"Cannot parse fq near {fq[pos : pos + 30]!r}; use field:value terms")
        field, value = (
            match.group(1),
            match.group(3) if match.group(3) is not None else match.group(2),
        )
        if field not in ("organization", "tags", "name", "license_id", "res_format"):
            raise bad_query(f"Unknown fq field {field!r}")
        terms.append((field, value))
        pos = match.end()
    return terms


def _matches_fq(resource: Resource, department: Department, terms: list[tuple[str, str]]) -> bool:
    for field, value in terms:
        if field == "organization" and value.lower() not in (
            organization_name(department),
            str(department.id),
        ):
            return False
        if field == "tags" and value not in resource.keywords:
            return False
        if field == "name" and value != resource.code:
            return False
        if field == "license_id" and value != resource.license_id:
            return False
        if field == "res_format" and value.upper() != "CSV":
            return False
    return True


def _matches_q(resource: Resource, department: Department, q: str) -> bool:
    q = q.strip()
    if q in ("", "*:*", "*"):
        return True
    text = " ".join(
        [resource.code, resource.title, resource.description, department.name, *resource.keywords]
    ).lower()
    return all(word.lower() in text for word in q.split())


_SORTS: dict[str, Callable[[Resource], Any]] = {
    "metadata_modified": lambda r: r.updated_at,
    "metadata_created": lambda r: r.created_at,
    "title_string": lambda r: r.title,
    "name": lambda r: r.code,
}


def _sorted(resources: list[Resource], sort: str) -> list[Resource]:
    keys = [part.split() for part in sort.split(",") if part.strip()]
    for parts in reversed(keys):  # stable sorts, least significant key first
        if len(parts) != 2 or parts[1].lower() not in ("asc", "desc"):
            raise invalid("sort", f"Use 'field asc|desc', not {' '.join(parts)!r}")
        field, direction = parts[0], parts[1].lower()
        if field == "score":
            continue  # no relevance ranking: the next key decides
        if field not in _SORTS:
            raise invalid("sort", f"Cannot sort by {field!r}; use {', '.join(_SORTS)}")
        resources = sorted(resources, key=_SORTS[field], reverse=direction == "desc")
    return resources


def _facet_fields(raw: Any) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise invalid("facet.field", "Give a JSON list of field names")
    unknown = [f for f in raw if f not in FACETS]
    if unknown:
        raise invalid(
            "facet.field", f"Cannot facet by {', '.join(unknown)}; use {', '.join(FACETS)}"
        )
    return list(raw)


async def package_search(session: AsyncSession, request: Request, params: Params) -> Any:
    catalog = await OpenCatalog.load(session)
    rows = _int(params, "rows", DEFAULT_ROWS, high=MAX_ROWS)
    start = _int(params, "start", 0)
    sort = str(params.get("sort") or "score desc, metadata_modified desc")
    terms = parse_fq(str(params.get("fq") or ""))
    q = str(params.get("q") or "")
    found = [
        r
        for r in catalog.resources
        if _matches_q(r, catalog.publisher(r), q) and _matches_fq(r, catalog.publisher(r), terms)
    ]
    found = _sorted(_sorted(found, "metadata_modified desc"), sort)
    facet_limit = _int(params, "facet.limit", 50, low=-1)
    mincount = _int(params, "facet.mincount", 1)
    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, Any] = {}
    for field in _facet_fields(params.get("facet.field")):
        counts: Counter[str] = Counter()
        display: dict[str, str] = {}
        for resource in found:
            if field == "organization":
                department = catalog.publisher(resource)
                counts[organization_name(department)] += 1
                display[organization_name(department)] = department.name
            elif field == "tags":
                counts.update(resource.keywords)
            elif field == "license_id":
                counts[resource.license_id] += 1
            else:
                counts["CSV"] += 1
        items = [(n, c) for n, c in counts.most_common() if c >= mincount]
        if facet_limit >= 0:
            items = items[:facet_limit]
        facets[field] = dict(items)
        search_facets[field] = {
            "title": field,
            "items": [{"name": n, "display_name": display.get(n, n), "count": c} for n, c in items],
        }
    base = base_url(request)
    return {
        "count": len(found),
        "sort": sort,
        "results": [
            dataset_dict(r, catalog.publisher(r), base) for r in found[start : start + rows]
        ],
        "facets": facets,
        "search_facets": search_facets,
    }


async def organization_list(session: AsyncSession, request: Request, params: Params) -> Any:
    catalog = await OpenCatalog.load(session)
    orgs = catalog.organizations()
    if _bool(params, "all_fields", False):
        return [organization_dict(d, n) for d, n in orgs]
    return [organization_name(d) for d, _n in orgs]


async def organization_show(session: AsyncSession, request: Request, params: Params) -> Any:
    catalog = await OpenCatalog.load(session)
    department = catalog.organization(_required(params, "id"))
    datasets = [r for r in catalog.resources if r.publisher_department_id == department.id]
    org = organization_dict(department, len(datasets))
    org["users"] = []
    org["extras"] = [{"key": "code", "value": department.code}]
    if _bool(params, "include_datasets", False):
        base = base_url(request)
        org["packages"] = [dataset_dict(r, department, base) for r in datasets]
    return org


async def resource_show(session: AsyncSession, request: Request, params: Params) -> Any:
    catalog = await OpenCatalog.load(session)
    wanted = _required(params, "id")
    for resource in catalog.resources:
        if resource_id(resource) == wanted:
            return resource_dict(resource, base_url(request))
    raise not_found(f"Resource was not found: {wanted}")


async def status_show(session: AsyncSession, request: Request, params: Params) -> Any:
    settings = request.app.state.settings
    return {
        "ckan_version": CKAN_VERSION,
        "site_title": f"{settings.city_name}公共数据开放平台",
        "site_description": "智慧深圳城市平台的开放数据（CKAN 兼容接口）",
        "site_url": base_url(request),
        "locale_default": "zh_CN",
        "error_emails_to": None,
        "extensions": ["smartcity", "dcat"],
        "smartcity_version": smartcity.__version__,
    }


async def tag_list(session: AsyncSession, request: Request, params: Params) -> Any:
    catalog = await OpenCatalog.load(session)
    tags = sorted({word for r in catalog.resources for word in r.keywords})
    query = str(params.get("query") or "")
    return [t for t in tags if query in t]


async def group_list(session: AsyncSession, request: Request, params: Params) -> Any:
    return []


async def license_list(session: AsyncSession, request: Request, params: Params) -> Any:
    return [
        {
            "id": key,
            "title": title,
            "url": url,
            "status": "active",
            "od_conformance": "approved",
            "osd_conformance": "not reviewed",
            "domain_data": True,
            "domain_content": key != "odc-by",
            "domain_software": False,
        }
        for key, (title, url) in service.LICENSES.items()
    ]


ACTIONS: dict[str, Action] = {
    "package_list": package_list,
    "package_show": package_show,
    "package_search": package_search,
    "organization_list": organization_list,
    "organization_show": organization_show,
    "resource_show": resource_show,
    "status_show": status_show,
    "tag_list": tag_list,
    "group_list": group_list,
    "license_list": license_list,
}


async def _params(request: Request) -> Params:
    params: Params = dict(request.query_params)
    if request.method == "POST":
        raw = await request.body()
        if raw.strip():
            content_type = request.headers.get("content-type", "")
            if "json" in content_type or raw.lstrip()[:1] == b"{":
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise invalid("__body", f"The body is not valid JSON: {exc}") from exc
                if not isinstance(body, dict):
                    raise invalid("__body", "The body must be a JSON object")
                params.update(body)
            else:
                form = await request.form()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _envelope(request: Request, name: str, body: dict[str, Any], status: int = 200) -> Response:
    help_url = f"{base_url(request)}/api/3/action/help_show?name={name}"
    return JSONResponse({"help": help_url, **body}, status_code=status)


async def call_action(request: Request, session: DbSession, name: str) -> Response:
    """Run a CKAN action; errors leave in CKAN's envelope, never as problem+json."""
    action = ACTIONS.get(name)
    try:
        if action is None:
            raise CkanError("Not Found Error", f"Action name not known: {name}", 400)
        result = await action(session, request, await _params(request))
    except CkanError as exc:
        error = {"__type": exc.kind, "message": f"{exc.kind}: {exc.message}", **exc.extra}
        return _envelope(request, name, {"success": False, "error": error}, exc.status)
    return _envelope(request, name, {"success": True, "result": result})


for _path, _documented in (("/api/3/action/{name}", True), ("/api/action/{name}", False)):
    # ckanapi calls the unversioned path; the documentation shows the versioned one.
    for _method in ("GET", "POST"):
        router.add_api_route(
            _path,
            call_action,
            methods=[_method],
            dependencies=OPEN,
            summary="CKAN Action API (open data)",
            response_class=JSONResponse,
            operation_id=f"ckan_action_{_method.lower()}",
            # CKAN clients read CKAN's error envelope, not problem details (core/openapi.py).
            openapi_extra={"x-error-format": "ckan"},
            include_in_schema=_documented,
        )


# --- DCAT-AP (JSON-LD) --------------------------------------------------------------------


@router.get(
    "/catalog.jsonld",
    dependencies=OPEN,
    summary="DCAT-AP catalog of open data",
    responses={200: {"content": {JSONLD: {"schema": {"type": "object"}}}}},
    response_class=Response,
)
async def dcat_catalog(request: Request, session: DbSession) -> Response:
    catalog = await OpenCatalog.load(session)
    base = base_url(request)
    settings = request.app.state.settings
    body = {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _text(f"{settings.city_name}公共数据开放目录"),
        "dct:description": _text("智慧深圳城市平台向社会开放的数据资源（DCAT-AP）。"),
        "dct:language": {"@id": f"{EU}/language/ZHO"},
        "foaf:homepage": {"@id": f"{base}/data"},
        "dct:modified": _when(
            max((r.updated_at for r in catalog.resources), default=datetime.now(UTC))
        ),
        "dcat:dataset": [dcat_dataset(r, catalog.publisher(r), base) for r in catalog.resources],
    }
    return Response(orjson.dumps(body), media_type=JSONLD)


@router.get(
    "/dataset/{name}.jsonld",
    dependencies=OPEN,
    summary="DCAT-AP of one open dataset",
    responses={200: {"content": {JSONLD: {"schema": {"type": "object"}}}}},
    response_class=Response,
)
async def dcat_dataset_document(request: Request, session: DbSession, name: str) -> Response:
    resource = await service.open_resource(session, name)
    department = (await service.departments_by_id(session))[resource.publisher_department_id]
    body = {"@context": DCAT_CONTEXT, **dcat_dataset(resource, department, base_url(request))}
    return Response(orjson.dumps(body), media_type=JSONLD)


# --- downloads ------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


async def _rows(database: Database, code: str) -> AsyncIterator[dict[str, Any]]:
    after: uuid.UUID | None = None
    while True:
        # A short session per batch: the download may be slow, the database must not wait.
        async with database.sessionmaker() as session:
            resource = await service.open_resource(session, code)
            batch = await service.open_record_batch(session, resource, after=after)
        if not batch:
            return
        for _id, row in batch:
            yield row
        after = batch[-1][0]


async def _csv(database: Database, code: str, names: list[str]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # A byte-order mark so that spreadsheet programs read the Chinese text as UTF-8.
    writer.writerow(names)
    yield ("\ufeff" + buffer.getvalue()).encode()
    async for row in _rows(database, code):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(row.get(n)) for n in names])
        yield buffer.getvalue().encode()


async def _json(database: Database, code: str) -> AsyncIterator[bytes]:
    yield b"["
    first = True
    async for row in _rows(database, code):
        yield (b"" if first else b",\n") + orjson.dumps(row)
        first = False
    yield b"]\n"


@router.get(
    "/api/v1/exchange/open/{code}/download",
    dependencies=OPEN,
    summary="Download an open dataset (CSV or JSON), streamed",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
    response_class=Response,
)
async def download(
    request: Request,
    session: DbSession,
    code: str,
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
) -> Response:
    resource = await service.open_resource(session, code)
    names = service.field_names(resource)
    database: Database = request.app.state.db
    filename = f"{resource.code}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "csv":
        return StreamingResponse(
            _csv(database, code, names), media_type="text/csv; charset=utf-8", headers=headers
        )
    return StreamingResponse(_json(database, code), media_type="application/json", headers=headers)
