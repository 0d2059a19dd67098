"""Pages of the exchange: the public open-data catalog (/data) and the staff pages for the
catalog, grant requests and decisions, the exchange log and access statistics."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.exchange import evidence, service, webhooks
from smartcity.exchange import grants as grant_service
from smartcity.exchange.models import Grant
from smartcity.exchange.schemas import GrantApproval, GrantRequest
from smartcity.registry import contract as registry
from smartcity.web.pages import page_principal, require_page
from smartcity.web.render import check_csrf, data_name, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Staff = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin"))]
Visitor = Annotated[Principal | None, Depends(page_principal)]
PREVIEW_ROWS = 10


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    check_csrf(request, form)
    values: dict[str, Any] = {}
    for key in form:
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = items if key == "fields" else (items[0] if items else "")
    return values


# Service fields whose form input has another name.
_FORM_FIELDS = {"expires_at": "expires_on"}


def _field_error(exc: Problem) -> dict[str, str]:
    field = str(exc.extensions.get("field") or "_form")
    return {_FORM_FIELDS.get(field, field): exc.detail}


def _end_of_day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(_("Enter the date as YYYY-MM-DD."), field=field) from exc
    return datetime.combine(day, time(23, 59, 59), tzinfo=clock.CITY_TZ)


# --- open data (开放数据), for everyone ------------------------------------------------------


@router.get("/data", dependencies=[Depends(public)])
async def open_catalog(
    request: Request,
    session: DbSession,
    principal: Visitor,
    q: str = "",
    tag: str = "",
    publisher: str = "",
) -> Response:
    resources, _total = await service.list_resources(
        session, None, q=q.strip()[:100] or None, limit=500
    )
    departments = await service.departments_by_id(session)
    everything, _all = await service.list_resources(session, None, limit=500)
    if tag:
        resources = [r for r in resources if tag in r.keywords]
    if publisher:
        resources = [
            r for r in resources if departments[r.publisher_department_id].code == publisher
        ]
    tags = sorted({word for r in everything for word in r.keywords})
    publishers = sorted(
        {departments[r.publisher_department_id] for r in everything}, key=lambda d: d.code
    )
    return render(
        request,
        "exchange/open_catalog.html",
        {
            "resources": resources,
            "departments": departments,
            "q": q,
            "tag": tag,
            "publisher": publisher,
            "tags": tags,
            "publishers": publishers,
            "total": len(everything),
        },
        principal=principal,
    )


# Licence titles as the licensors name them in Chinese (CKAN keeps the English titles).
LICENSE_TITLES_ZH = {
    "cc-by-4.0": "知识共享署名 4.0 国际许可协议",
    "cc-zero": "知识共享 CC0 公共领域贡献",
    "odc-by": "开放数据共享署名许可协议",
    "other-open": "其他（开放）",
}


def _license(license_id: str) -> tuple[str, str] | None:
    known = service.LICENSES.get(license_id)
    if known is None:
        return None
    title, url = known
    return i18n.pick(LICENSE_TITLES_ZH.get(license_id, title), title), url


def field_titles(resource: Any) -> dict[str, str | Markup]:
    """A dataset's column titles in the reader's language: a column drawn from a registry
    has the registry's words for its field; any other title is data, marked where Chinese."""
    titles: dict[str, str | Markup] = {}
    for f in resource.fields:
        name, en = f["name"], None
        if resource.source_registry:
            en = (
                _("Name")
                if name == "name" and resource.source_registry != "person"
                else registry.field_label(name)
            )
        titles[name] = data_name(f["title"], en if en and en != name else None)
    return titles


def preview_cell(value: Any) -> Any:
    """A value in the preview table: a code of a fixed vocabulary in words, Chinese data
    marked on an English page, anything else as it is."""
    if isinstance(value, str):
        return registry.code_label(value) or data_name(value)
    return value


@router.get("/data/{code}", dependencies=[Depends(public)])
async def open_dataset(
    request: Request, session: DbSession, principal: Visitor, code: str
) -> Response:
    resource = await service.open_resource(session, code)
    departments = await service.departments_by_id(session)
    preview = await service.open_record_batch(session, resource, after=None, size=PREVIEW_ROWS)
    return render(
        request,
        "exchange/open_dataset.html",
        {
            "resource": resource,
            "publisher": departments[resource.publisher_department_id],
            "preview": [row for _id, row in preview],
            "license": _license(resource.license_id),
            "titles": field_titles(resource),
            "cell": preview_cell,
            "code_api": Markup("<code>CKAN Action API</code>"),
            "base": str(request.base_url).rstrip("/"),
        },
        principal=principal,
    )


# --- the staff catalog ----------------------------------------------------------------------


@router.get("/exchange")
async def exchange_home(principal: Staff) -> Response:
    return RedirectResponse("/exchange/catalog", status_code=303)


async def _my_grants(session: DbSession, principal: Principal) -> dict[uuid.UUID, Grant]:
    """The newest grant of my department per resource, for the catalog's status column."""
    newest: dict[uuid.UUID, Grant] = {}
    if principal.department_id is None:
        return newest
    for grant in await grant_service.list_grants(
        session, principal, direction="outgoing", limit=500
    ):
        newest.setdefault(grant.resource_id, grant)
    return newest


@router.get("/exchange/catalog")
async def catalog(
    request: Request,
    session: DbSession,
    principal: Staff,
    q: str = "",
    sharing_class: str = "",
    publisher: str = "",
) -> Response:
    try:
        resources, total = await service.list_resources(
            session,
            principal,
            q=q.strip()[:100] or None,
            sharing_class=sharing_class if sharing_class in service.SHARING_CLASSES else None,
            publisher=publisher or None,
            limit=200,
        )
    except Problem:
        resources, total = [], 0
    departments = await service.departments_by_id(session)
    return render(
        request,
        "exchange/catalog.html",
        {
            "resources": resources,
            "total": total,
            "departments": departments,
            "publishers": sorted(departments.values(), key=lambda d: d.code),
            "my_grants": await _my_grants(session, principal),
            "q": q,
            "sharing_class": sharing_class,
            "publisher": publisher,
            "sharing_classes": service.SHARING_CLASSES,
            "standing": grant_service.standing,
        },
    )


async def _resource_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    code: str,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    resource = await service.get_resource(session, principal, code)
    departments = await service.departments_by_id(session)
    mine = [
        g
        for g in await grant_service.list_grants(
            session, principal, direction="outgoing", resource=code, limit=20
        )
    ]
    publishing = grant_service.can_decide(principal, resource)
    incoming = (
        await grant_service.list_grants(session, principal, resource=code, limit=100)
        if publishing
        else []
    )
    check = await grant_service.grant_in_force(session, resource, principal.department_id)
    subscriptions = [
        s
        for s in await webhooks.list_subscriptions(session, principal)
        if check.grant and s.grant_id == check.grant.id
    ]
    return render(
        request,
        "exchange/resource.html",
        {
            "resource": resource,
            "titles": field_titles(resource),
            "publisher": departments[resource.publisher_department_id],
            "departments": departments,
            "mine": mine,
            "in_force": check.grant,
            "publishing": publishing,
            "incoming": [
                g for g in incoming if g.consumer_department_id != principal.department_id
            ],
            "subscriptions": subscriptions,
            "can_request": principal.department_id is not None
            and principal.department_id != resource.publisher_department_id,
            "sharing_classes": service.SHARING_CLASSES,
            "standing": grant_service.standing,
            **(extra or {}),
        },
        status_code=status_code,
    )


@router.get("/exchange/catalog/{code}")
async def resource_page(
    request: Request, session: DbSession, principal: Staff, code: str
) -> Response:
    return await _resource_page(request, session, principal, code)


@router.post("/exchange/catalog/{code}/request")
async def request_grant(
    request: Request, session: DbSession, principal: Staff, code: str
) -> Response:
    form = await _form(request)
    values = {
        "purpose": form.get("purpose", ""),
        "legal_basis": form.get("legal_basis", ""),
        "fields": form.get("fields", []),
        "expires_on": form.get("expires_on", ""),
    }
    errors: dict[str, str] = {}
    if not str(values["purpose"]).strip():
        errors["purpose"] = _("State what the data is for.")
    if not values["fields"]:
        errors["fields"] = _("Choose at least one field.")
    if not errors:
        try:
            async with session.begin_nested():
                await grant_service.request_grant(
                    session,
                    principal,
                    code,
                    GrantRequest(
                        purpose=str(values["purpose"]).strip()[:500] or "-",
                        legal_basis=str(values["legal_basis"]).strip()[:300],
                        fields=list(values["fields"]),
                        expires_at=_end_of_day(str(values["expires_on"]), "expires_on"),
                    ),
                )
        except Problem as exc:
            errors = _field_error(exc)
    if errors:
        return await _resource_page(
            request, session, principal, code, {"errors": errors, "values": values}, 422
        )
    return RedirectResponse(f"/exchange/catalog/{code}?requested=1", status_code=303)


@router.post("/exchange/catalog/{code}/subscribe")
async def subscribe(request: Request, session: DbSession, principal: Staff, code: str) -> Response:
    form = await _form(request)
    url = str(form.get("webhook_url", ""))
    try:
        async with session.begin_nested():
            subscription, secret = await webhooks.create_subscription(
                session, principal, resource_code=code, webhook_url=url
            )
    except Problem as exc:
        return await _resource_page(
            request,
            session,
            principal,
            code,
            {"errors": _field_error(exc), "values": {"webhook_url": url}},
            422,
        )
    return await _resource_page(
        request, session, principal, code, {"subscribed": subscription, "secret": secret}
    )


# --- grants (共享授权) ---------------------------------------------------------------------


async def _grants_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    incoming = await grant_service.list_grants(session, principal, direction="incoming", limit=300)
    outgoing = await grant_service.list_grants(session, principal, direction="outgoing", limit=300)
    resources = await service.resources_by_id(
        session, {g.resource_id for g in [*incoming, *outgoing]}
    )
    return render(
        request,
        "exchange/grants.html",
        {
            "pending": [g for g in incoming if g.status == "requested"],
            "decided": [g for g in incoming if g.status != "requested"],
            "outgoing": outgoing,
            "resources": resources,
            "departments": await service.departments_by_id(session),
            "standing": grant_service.standing,
            "field_titles": {r.id: field_titles(r) for r in resources.values()},
            "personal": {r.id: service.personal_fields(r) for r in resources.values()},
            **(extra or {}),
        },
        status_code=status_code,
    )


@router.get("/exchange/grants")
async def grants(request: Request, session: DbSession, principal: Staff) -> Response:
    return await _grants_page(request, session, principal)


@router.post("/exchange/grants/{grant_id}")
async def decide_grant(
    request: Request, session: DbSession, principal: Staff, grant_id: uuid.UUID
) -> Response:
    form = await _form(request)
    action = form.get("action")
    try:
        async with session.begin_nested():
            if action == "approve":
                await grant_service.approve_grant(
                    session,
                    principal,
                    grant_id,
                    GrantApproval(
                        fields=list(form.get("fields", [])),
                        expires_at=_end_of_day(str(form.get("expires_on", "")), "expires_on"),
                        reason=str(form.get("reason", ""))[:500],
                    ),
                )
                done = "approved"
            elif action == "refuse":
                await grant_service.refuse_grant(
                    session, principal, grant_id, str(form.get("reason", ""))[:500]
                )
                done = "refused"
            elif action == "revoke":
                await grant_service.revoke_grant(
                    session, principal, grant_id, str(form.get("reason", ""))[:500]
                )
                done = "revoked"
            else:
                raise InvalidInput(_("Unknown action."), field="action")
    except Problem as exc:
        return await _grants_page(
            request,
            session,
            principal,
            {"errors": _field_error(exc), "failed": grant_id, "values": form},
            exc.status,
        )
    return RedirectResponse(f"/exchange/grants?done={done}#g-{grant_id}", status_code=303)


# --- the exchange log and statistics -----------------------------------------------------------


@router.get("/exchange/log")
async def log_page(
    request: Request,
    session: DbSession,
    principal: Staff,
    direction: str = "",
    verify: int = 0,
) -> Response:
    chosen = direction if direction in ("incoming", "outgoing") else None
    messages = await evidence.list_messages(session, principal, direction=chosen, limit=200)
    resources = await service.resources_by_id(session, {m.resource_id for m in messages})
    verdict = None
    may_verify = principal.is_("admin", "auditor")
    if verify and may_verify:
        verdict = await evidence.verify_log(session, principal)
    return render(
        request,
        "exchange/log.html",
        {
            "messages": messages,
            "resources": resources,
            "departments": await service.departments_by_id(session),
            "direction": chosen or "",
            "intact": evidence.intact,
            "verdict": verdict,
            "may_verify": may_verify,
        },
    )


@router.get("/exchange/stats")
async def stats_page(
    request: Request, session: DbSession, principal: Staff, days: int = 30
) -> Response:
    days = min(max(days, 1), evidence.MAX_STATS_DAYS)
    stats = await evidence.access_stats(session, principal, days=days)
    by_resource: dict[str, list[int]] = {}
    by_consumer: dict[str, list[int]] = {}
    for s in stats:
        for table, key in ((by_resource, s.resource), (by_consumer, s.consumer)):
            row = table.setdefault(key, [0, 0, 0, 0])
            row[0] += s.calls
            row[1] += s.answered
            row[2] += s.refused
            row[3] += s.records
    peak = max((row[0] for row in by_resource.values()), default=0)
    resources = {
        r.code: r for r in (await service.list_resources(session, principal, limit=500))[0]
    }
    departments = {d.code: d for d in (await service.departments_by_id(session)).values()}
    return render(
        request,
        "exchange/stats.html",
        {
            "stats": stats,
            "by_resource": sorted(by_resource.items(), key=lambda kv: -kv[1][0]),
            "by_consumer": sorted(by_consumer.items(), key=lambda kv: -kv[1][0]),
            "peak": peak,
            "days": days,
            "resources": resources,
            "departments": departments,
        },
    )
