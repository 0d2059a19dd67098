"""Pages of the registry module: 人口库 and 法人库 search and record views with history, the
per-source edit forms, and 我的数据 for citizens."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from smartcity.core import clock, people
from smartcity.core.authz import Principal
from smartcity.core.errors import NotFound, Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import SHENZHEN_DISTRICTS
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.registry import organizations as org_registry
from smartcity.registry import service, stewardship, validation
from smartcity.registry.records import PERSONAL_FIELDS
from smartcity.registry.schemas import OrganizationCreate, PersonCreate
from smartcity.registry.sources import GROUPS, groups_of
from smartcity.web.pages import require_page
from smartcity.web.render import check_csrf, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Staff = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin", "system"))]
Citizen = Annotated[Principal, Depends(require_page("citizen"))]
PAGE_SIZE = 20

FIELD_LABELS = validation.FIELD_LABELS
# An organization has a name (名称), a person a full name (姓名).
ORG_LABELS = {**FIELD_LABELS, "name": N_("Name")}
# Coordinates say nothing to a reader when absent; the grid row says the same.
HIDDEN_WHEN_EMPTY = frozenset({"residence_lon", "residence_lat"})
VALUE_LABELS = validation.VALUE_LABELS
VIA_LABELS = {
    "page": N_("web page"),
    "api": N_("API"),
    "exchange": N_("data exchange"),
    "export": N_("export"),
}
# Fields that follow from others are shown, never typed: sex and birth date come from the
# ID number; the legal representative is named by ID number.
DERIVED = frozenset({"sex", "birth_date"})
DISTRICTS = [(d.code, d.name) for d in SHENZHEN_DISTRICTS]
_ID_LIKE = re.compile(r"^[0-9]{6,17}[0-9Xx]?$")
_Data = TypeVar("_Data")
_Record = TypeVar("_Record")


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    check_csrf(request, form)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _field_error(exc: Problem, aliases: dict[str, str] | None = None) -> dict[str, str]:
    field = str(exc.extensions.get("field") or "_form")
    return {(aliases or {}).get(field, field): exc.detail}


def _validation_errors(exc: ValueError) -> dict[str, str]:
    return {
        str(e["loc"][0]): _("Check this field: {msg}").format(msg=e["msg"])
        for e in getattr(exc, "errors", lambda: [])()
    }


def _end_of_day(value: str) -> datetime:
    day = date.fromisoformat(value)
    return datetime.combine(day, time(0, 0), tzinfo=clock.CITY_TZ) + timedelta(
        days=1, microseconds=-1
    )


async def _source_names(session: DbSession) -> dict[str, str]:
    return await stewardship.department_labels(session, {g.department_code for g in GROUPS})


async def _register(
    session: DbSession,
    validate: Callable[[], _Data],
    create: Callable[[_Data], Awaitable[_Record]],
) -> tuple[_Record | None, dict[str, str]]:
    """登记 from a new-record form: the record, or the errors by field to show on the form."""
    try:
        data = validate()
        # A savepoint, so a refused registration leaves the request's transaction usable.
        async with session.begin_nested():
            return await create(data), {}
    except Problem as exc:
        return None, _field_error(exc)
    except ValueError as exc:
        return None, _validation_errors(exc)


async def _save_group(
    request: Request,
    session: DbSession,
    principal: Principal,
    record_id: uuid.UUID,
    *,
    save: Callable[[], Awaitable[object]],
    page: Callable[..., Awaitable[Response]],
    group: str,
    form_values: dict[str, Any],
    url: str,
) -> Response:
    """变更 of one attribute group: back to the record, or its page again with the form kept."""
    try:
        async with session.begin_nested():
            await save()
    except Problem as exc:
        if exc.status == 404:
            raise
        return await page(
            request,
            session,
            principal,
            record_id,
            {
                "group_errors": _field_error(exc),
                "open_group": group,
                "form_values": form_values,
            },
            status_code=exc.status if exc.status in (403, 409) else 422,
        )
    return RedirectResponse(f"{url}?saved={group}", status_code=303)


def _common(labels: dict[str, str] = FIELD_LABELS) -> dict[str, Any]:
    return {
        "labels": labels,
        "hidden_when_empty": HIDDEN_WHEN_EMPTY,
        "value_labels": VALUE_LABELS,
        "via_labels": VIA_LABELS,
        "personal": PERSONAL_FIELDS,
        "districts": DISTRICTS,
        "district_names": dict(DISTRICTS),
        # The example ethnic group to type, as the record holds it; from the context, not a
        # template literal, which Jinja would mark once at compile time in one language.
        "ethnicity_example": "汉族",
    }


# --- persons (人口库) ----------------------------------------------------------------------------


@router.get("/registry/persons")
async def persons(request: Request, session: DbSession, principal: Staff) -> Response:
    params = request.query_params
    values = {k: params.get(k, "").strip() for k in ("q", "district", "status", "purpose")}
    offset = int(params["offset"]) if params.get("offset", "").isdigit() else 0
    results: list[service.PersonView] = []
    more = False
    errors: dict[str, str] = {}
    searched = bool(values["q"] or values["district"])
    if searched:
        q = values["q"]
        by_number = bool(_ID_LIKE.match(q))
        try:
            async with session.begin_nested():
                results, more = await service.search_persons(
                    session,
                    principal,
                    id_number=q if by_number else None,
                    name_prefix=None if by_number else q or None,
                    district=values["district"] or None,
                    status=values["status"] or None,
                    limit=PAGE_SIZE,
                    offset=offset,
                    purpose=values["purpose"],
                    via="page",
                )
        except Problem as exc:
            errors = _field_error(exc, {"id_number": "q", "name_prefix": "q"})
    kept = await stewardship.groups_kept_by(session, principal, "person")
    return render(
        request,
        "registry/persons.html",
        {
            **_common(),
            "values": values,
            "errors": errors,
            "results": results,
            "searched": searched and not errors,
            "more": more,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "statuses": validation.PERSON_STATUSES,
            "may_register": "identity" in kept or principal.is_("admin"),
        },
        status_code=422 if errors else 200,
    )


PERSON_FORM_FIELDS = (
    "id_number",
    "name",
    "ethnicity",
    "hukou_division_code",
    "residence_address",
    "residence_place_code",
    "status",
)


@router.get("/registry/persons/new")
async def new_person_form(request: Request, session: DbSession, principal: Staff) -> Response:
    return render(
        request,
        "registry/person_new.html",
        {**_common(), "statuses": validation.PERSON_STATUSES, "values": {"status": "living"}},
    )


@router.post("/registry/persons/new")
async def new_person(request: Request, session: DbSession, principal: Staff) -> Response:
    form = await _form(request)
    values = {k: form.get(k, "").strip() for k in (*PERSON_FORM_FIELDS, "reason")}
    errors: dict[str, str] = {}
    if not values["id_number"]:
        errors["id_number"] = _("Enter the resident ID number.")
    if not values["name"]:
        errors["name"] = _("Enter the name.")
    person = None
    if not errors:
        person, errors = await _register(
            session,
            lambda: PersonCreate.model_validate(
                {**values, "residence_place_code": values["residence_place_code"] or None}
            ),
            lambda data: service.create_person(session, principal, data, reason=values["reason"]),
        )
    if errors or person is None:
        return render(
            request,
            "registry/person_new.html",
            {
                **_common(),
                "statuses": validation.PERSON_STATUSES,
                "values": values,
                "errors": errors,
            },
            status_code=403 if "_form" in errors else 422,
        )
    return RedirectResponse(f"/registry/persons/{person.id}?created=1", status_code=303)


async def _person_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: uuid.UUID,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    params = request.query_params
    as_of_text = params.get("as_of", "").strip()
    purpose = params.get("purpose", "").strip()
    errors: dict[str, str] = {}
    at = None
    if as_of_text:
        try:
            at = _end_of_day(as_of_text)
        except ValueError:
            errors["as_of"] = _("Enter the date like 2026-03-01.")
            status_code = 422
    try:
        async with session.begin_nested():
            view, history = await service.get_person_record(
                session, principal, person_id, at=at, purpose=purpose, via="page"
            )
    except NotFound as exc:
        if at is None:
            raise
        errors["as_of"] = exc.detail
        status_code = 404
        at = None
        view, history = await service.get_person_record(
            session, principal, person_id, purpose=purpose, via="page"
        )
    kept = await stewardship.groups_kept_by(session, principal, "person")
    return render(
        request,
        "registry/person.html",
        {
            **_common(),
            "person": view,
            "history": history,
            "actor_names": await people.display_names(session, [v.actor for v in history]),
            "history_masked": PERSONAL_FIELDS - view.visible,
            "groups": groups_of("person"),
            "kept": kept,
            "sources": await _source_names(session),
            "as_of": as_of_text if at else "",
            "as_of_value": as_of_text,
            "errors": errors,
            "derived": DERIVED,
            "statuses": validation.PERSON_STATUSES,
            "insurance_statuses": validation.SOCIAL_INSURANCE_STATUSES,
            "purpose": purpose,
            "open_group": "",
            "form_values": {},
            **(extra or {}),
        },
        status_code=status_code,
    )


@router.get("/registry/persons/{person_id}")
async def person(
    request: Request, session: DbSession, principal: Staff, person_id: uuid.UUID
) -> Response:
    return await _person_page(request, session, principal, person_id)


@router.post("/registry/persons/{person_id}")
async def change_person(
    request: Request, session: DbSession, principal: Staff, person_id: uuid.UUID
) -> Response:
    """One attribute group's edit form (一数一源: only its source department sees it)."""
    form = await _form(request)
    group_name = form.get("group", "")
    group = next((g for g in groups_of("person") if g.name == group_name), None)
    if group is None:
        raise Problem(_("Unknown attribute group."), field="group")
    editable = [f for f in group.fields if f not in DERIVED]
    fields = {f: form.get(f, "").strip() for f in editable if f in form}
    reason = form.get("reason", "").strip()
    return await _save_group(
        request,
        session,
        principal,
        person_id,
        save=lambda: service.update_person(
            session, principal, person_id, fields=fields, reason=reason
        ),
        page=_person_page,
        group=group.name,
        form_values={**fields, "reason": reason},
        url=f"/registry/persons/{person_id}",
    )


# --- organizations (法人库) ----------------------------------------------------------------------


ORG_FORM_FIELDS = (
    "uscc",
    "name",
    "org_type",
    "legal_representative_id_number",
    "registered_address",
    "registered_place_code",
    "industry",
    "established_on",
    "status",
)


ORG_OPTIONAL = ("legal_representative_id_number", "registered_place_code", "established_on")


@router.get("/registry/organizations")
async def organizations(request: Request, session: DbSession, principal: Staff) -> Response:
    params = request.query_params
    values = {k: params.get(k, "").strip() for k in ("q", "status", "industry")}
    offset = int(params["offset"]) if params.get("offset", "").isdigit() else 0
    q = values["q"]
    by_code = len(q) == 18 and q.isalnum() and any(c.isdigit() for c in q)
    errors: dict[str, str] = {}
    results: list[org_registry.OrganizationView] = []
    more = False
    try:
        async with session.begin_nested():
            results, more = await org_registry.search_organizations(
                session,
                principal,
                uscc=q if by_code else None,
                name_prefix=None if by_code else q or None,
                status=values["status"] or None,
                industry=values["industry"] or None,
                limit=PAGE_SIZE,
                offset=offset,
            )
    except Problem as exc:
        errors = _field_error(exc, {"uscc": "q", "name_prefix": "q"})
    kept = await stewardship.groups_kept_by(session, principal, "organization")
    return render(
        request,
        "registry/organizations.html",
        {
            **_common(ORG_LABELS),
            "values": values,
            "errors": errors,
            "results": results,
            "more": more,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "statuses": validation.ORGANIZATION_STATUSES,
            "may_register": "registration" in kept or principal.is_("admin"),
        },
        status_code=422 if errors else 200,
    )


@router.get("/registry/organizations/new")
async def new_organization_form(request: Request, session: DbSession, principal: Staff) -> Response:
    return render(
        request,
        "registry/organization_new.html",
        {
            **_common(ORG_LABELS),
            "types": validation.ORGANIZATION_TYPES,
            "statuses": validation.ORGANIZATION_STATUSES,
            "values": {"status": "active", "org_type": "enterprise"},
        },
    )


@router.post("/registry/organizations/new")
async def new_organization(request: Request, session: DbSession, principal: Staff) -> Response:
    form = await _form(request)
    values = {k: form.get(k, "").strip() for k in (*ORG_FORM_FIELDS, "reason")}
    errors: dict[str, str] = {}
    if not values["uscc"]:
        errors["uscc"] = _("Enter the unified social credit code.")
    if not values["name"]:
        errors["name"] = _("Enter the organization's name.")
    org = None
    if not errors:
        payload: dict[str, Any] = {k: values[k] for k in ORG_FORM_FIELDS}
        for optional in ORG_OPTIONAL:
            payload[optional] = payload[optional] or None
        org, errors = await _register(
            session,
            lambda: OrganizationCreate.model_validate(payload),
            lambda data: org_registry.create_organization(
                session, principal, data, reason=values["reason"]
            ),
        )
    if errors or org is None:
        return render(
            request,
            "registry/organization_new.html",
            {
                **_common(ORG_LABELS),
                "types": validation.ORGANIZATION_TYPES,
                "statuses": validation.ORGANIZATION_STATUSES,
                "values": values,
                "errors": errors,
            },
            status_code=403 if "_form" in errors else 422,
        )
    return RedirectResponse(f"/registry/organizations/{org.id}?created=1", status_code=303)


async def _organization_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    organization_id: uuid.UUID,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    as_of_text = request.query_params.get("as_of", "").strip()
    errors: dict[str, str] = {}
    view = None
    if as_of_text:
        try:
            view = await org_registry.get_organization_as_of(
                session, principal, organization_id, _end_of_day(as_of_text)
            )
        except ValueError:
            errors["as_of"] = _("Enter the date like 2026-03-01.")
            status_code = 422
        except NotFound as exc:
            errors["as_of"] = exc.detail
            status_code = 404
    if view is None:
        view = await org_registry.get_organization(session, principal, organization_id)
    history = await org_registry.organization_history(session, principal, organization_id)
    kept = await stewardship.groups_kept_by(session, principal, "organization")
    return render(
        request,
        "registry/organization.html",
        {
            **_common(ORG_LABELS),
            "org": view,
            "history": history,
            "actor_names": await people.display_names(session, [v.actor for v in history]),
            "groups": groups_of("organization"),
            "kept": kept,
            "sources": await _source_names(session),
            "as_of": as_of_text if view.as_of else "",
            "as_of_value": as_of_text,
            "errors": errors,
            "types": validation.ORGANIZATION_TYPES,
            "statuses": validation.ORGANIZATION_STATUSES,
            "open_group": "",
            "form_values": {},
            **(extra or {}),
        },
        status_code=status_code,
    )


@router.get("/registry/organizations/{organization_id}")
async def organization(
    request: Request, session: DbSession, principal: Staff, organization_id: uuid.UUID
) -> Response:
    return await _organization_page(request, session, principal, organization_id)


@router.post("/registry/organizations/{organization_id}")
async def change_organization(
    request: Request, session: DbSession, principal: Staff, organization_id: uuid.UUID
) -> Response:
    form = await _form(request)
    editable = [f for f in ORG_FORM_FIELDS if f in form]
    fields: dict[str, Any] = {f: form.get(f, "").strip() for f in editable}
    if not fields.get("legal_representative_id_number"):
        # Blank keeps the current representative: the form cannot show their ID number.
        fields.pop("legal_representative_id_number", None)
    reason = form.get("reason", "").strip()
    return await _save_group(
        request,
        session,
        principal,
        organization_id,
        save=lambda: org_registry.update_organization(
            session, principal, organization_id, fields=fields, reason=reason
        ),
        page=_organization_page,
        group="registration",
        form_values={**fields, "reason": reason},
        url=f"/registry/organizations/{organization_id}",
    )


# --- 我的数据 ------------------------------------------------------------------------------------


@router.get("/my/data")
async def my_data(request: Request, session: DbSession, principal: Citizen) -> Response:
    params = request.query_params
    offset = int(params["offset"]) if params.get("offset", "").isdigit() else 0
    # A link past the end (or a made-up huge offset) shows the last reachable page range.
    offset = min(offset, service.MAX_ACCESS_LOG_OFFSET)
    record = None
    entries: list[service.AccessEntry] = []
    more = False
    if await service.my_person(session, principal) is not None:
        record = await service.get_my_record(session, principal, via="page")
        entries, more = await service.my_access_log(
            session, principal, limit=PAGE_SIZE, offset=offset
        )
    return render(
        request,
        "registry/my_data.html",
        {
            **_common(),
            "record": record,
            "entries": entries,
            "more": more,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "groups": groups_of("person"),
            "sources": await _source_names(session),
        },
    )
