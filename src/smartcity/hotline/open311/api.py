"""Open311 GeoReport v2 at /open311/v2 (docs/hotline.md, "Open311"): discovery, services and
their definitions, requests posted form-encoded or multipart with an ``api_key``, queried and
read one by one, tokens, and FixMyStreet's ``servicerequestupdates``; each in ``.json`` and
``.xml``. Errors leave in the standard's ``errors`` format, with the problem ``type``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.ratelimit import limit_public
from smartcity.core.security import optional_principal, public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.hotline.open311 import render, service

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-08T00:00:00+08:00"
FORM_FIELDS_MAX = 60


class Open311Route(UnitOfWorkRoute):
    """The unit of work's route (rolled back on any error), answering errors in Open311's
    own format: HTTP 400 for bad input (the platform's 422), 403 for the key, 404, 413, 415."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            fmt = render.format_of(request.url.path)
            try:
                return await inner(request)
            except Problem as exc:
                status = 400 if exc.status == 422 else exc.status
                return render.error(fmt, status, exc.detail, exc.type, exc.headers)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
                detail = f"{where}: {first.get('msg', 'not valid')}" if where else "Not valid."
                return render.error(fmt, 400, detail, "/problems/invalid-input", {})
            except StarletteHTTPException as exc:
                return render.error(
                    fmt, exc.status_code, str(exc.detail), "/problems/bad-request", {}
                )

        return handler


# Not in the platform's OpenAPI document, whose errors are problem+json: the Open311 standard
# documents these routes and their error list (docs/hotline.md, "Open311").
router = APIRouter(route_class=Open311Route, tags=["open311"], include_in_schema=False)
Fmt = Annotated[Literal["json", "xml"], Path(description="json or xml")]
Visitor = Annotated[Principal | None, Depends(optional_principal)]
Jurisdiction = Annotated[str | None, Query(max_length=100)]
PUBLIC = [Depends(public)]


def _base(request: Request) -> str:
    return str(request.base_url)


@router.get(PREFIX + "/discovery.{fmt}", dependencies=PUBLIC, response_class=Response)
async def discovery(request: Request, fmt: Fmt) -> Response:
    """Where the endpoint is and what it speaks (Open311 service discovery)."""
    body = {
        "changeset": CHANGESET,
        "contact": "12345 政务服务便民热线 (https://www.sz.gov.cn)",
        "key_service": "Ask the 12345 centre for a client application's API key.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": _base(request) + PREFIX.lstrip("/"),
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render.respond(fmt, "discovery", None, body)


@router.get(PREFIX + "/services.{fmt}", dependencies=PUBLIC, response_class=Response)
async def services(fmt: Fmt, jurisdiction_id: Jurisdiction = None) -> Response:
    """The category tree's leaves as services."""
    service.check_jurisdiction(jurisdiction_id)
    return render.respond(fmt, "services", "service", service.services())


@router.get(PREFIX + "/services/{service_code}.{fmt}", dependencies=PUBLIC, response_class=Response)
async def service_definition(
    fmt: Fmt,
    service_code: Annotated[str, Path(max_length=16)],
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """A service's attributes (the kind of request)."""
    service.check_jurisdiction(jurisdiction_id)
    return render.respond(fmt, "service_definition", None, service.service_definition(service_code))


async def _form(request: Request) -> tuple[dict[str, str], list[str], service.Media | None]:
    form = await request.form(max_files=1, max_fields=FORM_FIELDS_MAX)
    values: dict[str, str] = {}
    keys: list[str] = []
    media: service.Media | None = None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != "media":
                raise InvalidInput(
                    _("%(field)s is not a file argument; send the photo as media.")
                    % {"field": key[:40]},
                    field=key[:40],
                )
            media = service.Media(await value.read(service.media_limit() + 1), value.filename or "")
            continue
        keys.append(key)
        values[key] = value
    for name in ("api_key", "jurisdiction_id"):
        if name not in values and name in request.query_params:
            values[name] = request.query_params[name]
    return values, keys, media


@router.post(
    PREFIX + "/requests.{fmt}",
    dependencies=[*PUBLIC, Depends(limit_public)],
    status_code=201,
    response_class=Response,
)
async def post_request(
    request: Request, session: DbSession, principal: Visitor, fmt: Fmt
) -> Response:
    """A report by a client application (form-encoded or multipart with ``media``); it is an
    anonymous report unless a citizen's bearer token comes with it."""
    values, keys, media = await _form(request)
    citizen = principal if principal is not None and principal.kind == "citizen" else None
    posted = await service.post_request(
        session,
        api_key=values.get("api_key", ""),
        form=values,
        keys=keys,
        media=media,
        citizen=citizen,
    )
    body = [
        {
            "service_request_id": posted.order.number,
            "token": posted.request.token,
            "service_notice": posted.notice,
            "account_id": posted.request.account_ref or None,
        }
    ]
    return render.respond(fmt, "service_requests", "request", body, status=201)


@router.get(PREFIX + "/requests.{fmt}", dependencies=PUBLIC, response_class=Response)
async def requests(
    request: Request,
    session: DbSession,
    fmt: Fmt,
    service_request_id: Annotated[str | None, Query(max_length=3400)] = None,
    service_code: Annotated[str | None, Query(max_length=900)] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    page_size: Annotated[int, Query(ge=1, le=service.PAGE_MAX)] = service.PAGE_MAX,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Requests by the standard's filters, newest first; ``page_size``/``page`` as three and
    FixMyStreet send them."""
    service.check_jurisdiction(jurisdiction_id)
    found = await service.find_requests(
        session,
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
        page_size=page_size,
        page=page,
    )
    body = await service.describe(session, found, _base(request))
    return render.respond(fmt, "service_requests", "request", body)


@router.get(
    PREFIX + "/requests/{service_request_id}.{fmt}", dependencies=PUBLIC, response_class=Response
)
async def one_request(
    request: Request,
    session: DbSession,
    fmt: Fmt,
    service_request_id: Annotated[str, Path(max_length=40)],
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """One request (a list of one, as the standard has it)."""
    service.check_jurisdiction(jurisdiction_id)
    found = await service.one_request(session, service_request_id)
    body = await service.describe(session, [found], _base(request))
    return render.respond(fmt, "service_requests", "request", body)


@router.get(PREFIX + "/tokens/{token}.{fmt}", dependencies=PUBLIC, response_class=Response)
async def token(
    session: DbSession,
    fmt: Fmt,
    token: Annotated[str, Path(max_length=64)],
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """The service_request_id a token stands for."""
    service.check_jurisdiction(jurisdiction_id)
    order, row = await service.by_token(session, token)
    body = [{"service_request_id": order.number, "token": row.token}]
    return render.respond(fmt, "service_requests", "request", body)


@router.get(PREFIX + "/servicerequestupdates.{fmt}", dependencies=PUBLIC, response_class=Response)
async def updates(
    session: DbSession,
    fmt: Fmt,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    page_size: Annotated[int, Query(ge=1, le=service.PAGE_MAX)] = service.PAGE_MAX,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Every step of the requests' orders in the window, by update_id (FixMyStreet)."""
    service.check_jurisdiction(jurisdiction_id)
    body = await service.updates(
        session, start_date=start_date, end_date=end_date, page_size=page_size
    )
    return render.respond(fmt, "service_request_updates", "request_update", body)


@router.get(PREFIX + "/media/{media_id}", dependencies=PUBLIC, response_class=Response)
async def media(session: DbSession, media_id: uuid.UUID) -> Response:
    """A request's photo, as uploaded (its type proven by its first bytes)."""
    found = await service.photo(session, media_id)
    return Response(
        found.content,
        media_type=found.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "public, max-age=86400",
            "ETag": f'"{found.sha256}"',
        },
    )
