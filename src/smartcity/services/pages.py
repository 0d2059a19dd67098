"""Pages of the service hall (网上办事大厅): the public catalog (/services) and items, and for
citizens and enterprises applying online (/services/{code}/apply) and following their
applications (/my/applications). Every form works without JavaScript."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response

from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput, NotFound, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.services import licences, search, service, subscriptions
from smartcity.services.application import access, drafts, following, materials, submission
from smartcity.services.application.following import ApplicationView
from smartcity.services.labels import life_event_name
from smartcity.services.models import Application, ServiceItem
from smartcity.web.cache import cached_page
from smartcity.web.pages import page_principal, require_page
from smartcity.web.render import check_csrf, data_name, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Visitor = Annotated[Principal | None, Depends(page_principal)]
Applicant = Annotated[Principal, Depends(require_page("citizen", "enterprise"))]


@router.get("/services", dependencies=[Depends(public)])
async def catalog(
    request: Request,
    session: DbSession,
    principal: Visitor,
    q: str = "",
    life_event: str = "",
    department: str = "",
) -> Response:
    # Cut before it is a cache key (one page however long a hand-made query), one character
    # past the limit so an over-long search is still refused on the page.
    q = q.strip()[: search.MAX_QUERY + 1]
    life_event, department = life_event.strip()[:20], department[:32]
    return await cached_page(
        request,
        service.CATALOGUE_PAGES,
        ("catalogue", q, life_event, department),
        lambda: _catalog(request, session, principal, q, life_event, department),
        signed_in=principal is not None,
    )


async def _catalog(
    request: Request,
    session: DbSession,
    principal: Principal | None,
    q: str,
    life_event: str,
    department: str,
) -> Response:
    """The catalogue, or what a search (事项搜索) found in it, best first, narrowed by the
    life event and department chosen beside it."""
    departments = await service.departments_of_items(session, None)
    errors: dict[str, str] = {}
    more = 0
    try:
        items = await service.list_service_items(
            session, None, life_event=life_event or None, department=department or None
        )
    except InvalidInput:
        # An unknown department in a hand-edited link: show nothing rather than an error page.
        items = []
    if q:
        try:
            result = await search.search_service_items(session, q=q, limit=search.MAX_LIMIT)
        except InvalidInput as exc:
            errors["q"] = exc.detail
            items = []
        else:
            narrowed = {i.id for i in items}
            items = [f.item for f in result.found if f.item.id in narrowed]
            if not life_event and not department:
                more = result.total - len(items)
    return render(
        request,
        "services/catalog.html",
        {
            "items": items,
            "departments": departments,
            "life_events": await service.life_events(session, None),
            "life_event_name": life_event_name,
            "q": q,
            "life_event": life_event,
            "department": department,
            "more": more,
            "errors": errors,
            "total": len(await service.list_service_items(session, None)),
            "item_name": data_name,
            "department_name": data_name,
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


@router.get("/services/{code}", dependencies=[Depends(public)])
async def item_page(
    request: Request, session: DbSession, principal: Visitor, code: str
) -> Response:
    return await cached_page(
        request,
        service.CATALOGUE_PAGES,
        ("item", code[:32]),
        lambda: _item_page(request, session, principal, code[:32]),
        signed_in=principal is not None,
    )


async def _item_page(
    request: Request, session: DbSession, principal: Principal | None, code: str
) -> Response:
    item = await service.get_service_item(session, None, code)
    departments = await service.departments_of_items(session, None)
    draft = None
    if principal is not None and principal.kind in item.applicant_kinds:
        draft = await drafts.open_draft(session, principal, item)
    return render(
        request,
        "services/item.html",
        {
            "item": item,
            "department": departments[item.department_id],
            "can_apply": principal is not None and principal.kind in item.applicant_kinds,
            "draft": draft,
            "who": drafts.who_may_apply(item),
            **await subscriptions.subscription_context(session, principal, item),
        },
        principal=principal,
    )


# --- applying online (网上申报) ------------------------------------------------------------------


def _missing_message(kind: str, label: str) -> str:
    if kind == "field":
        return _("Fill in %(label)s.") % {"label": label}
    return _("Hand in %(name)s.") % {"name": label}


def _errors_of(exc: Problem) -> dict[str, str]:
    """A refusal's messages by form field: every field of a refused save, each missing item
    of a refused submission, or the one field (or the form) it names."""
    errors: dict[str, str] = {}
    for entry in exc.extensions.get("errors") or []:
        errors[str(entry["field"])] = str(entry["message"])
    for missing in exc.extensions.get("missing") or []:
        key = missing["name"] if missing["kind"] == "field" else f"material:{missing['name']}"
        errors[str(key)] = _missing_message(missing["kind"], missing["label"])
    if not errors:
        errors[str(exc.extensions.get("field") or "_form")] = exc.detail
    return errors


def _chosen(form: FormData, name: str) -> UploadFile | None:
    """The file a form part carries, if one was chosen (browsers send an empty part when not)."""
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None


async def _upload(
    session: DbSession,
    principal: Principal,
    application_id: uuid.UUID,
    name: str,
    upload: UploadFile,
) -> str | None:
    """Store one chosen file in its own savepoint; the refusal's message, or None."""
    content = await materials.read_upload(upload)
    try:
        async with session.begin_nested():
            await materials.upload_material(
                session,
                principal,
                application_id,
                name=name,
                filename=upload.filename,
                content=content,
            )
    except Problem as exc:
        if exc.status == 404:
            raise
        return exc.detail
    return None


def _form_context(view: ApplicationView, **extra: Any) -> dict[str, Any]:
    return {
        "view": view,
        "item": view.item,
        "department": view.department,
        "application": view.application,
        "max_size": materials.size_in_words(materials.MAX_MATERIAL_BYTES),
        "accept": ",".join(sorted(materials.EXTENSIONS.values()))
        + ","
        + ",".join(sorted(materials.EXTENSIONS)),
        **extra,
    }


async def _item_for(session: DbSession, principal: Principal, code: str) -> ServiceItem:
    item = await service.get_service_item(session, principal, code[:32])
    drafts.check_applicant_kind(item, principal)
    return item


async def _posted_draft(
    session: DbSession, principal: Principal, item: ServiceItem, raw: Any
) -> Application | None:
    """The application the form was rendered for, if it names one of the caller's for this
    item."""
    try:
        application_id = uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None
    if application_id is None:
        return None
    try:
        found = await access.get_application(session, principal, application_id)
    except NotFound:
        return None
    return found if found.item_id == item.id else None


@router.get("/services/{code}/apply")
async def apply_form(
    request: Request, session: DbSession, principal: Applicant, code: str
) -> Response:
    """The application form: what the registries hold shown with its source, the rest to
    fill in, materials to upload; saved as a draft or submitted."""
    item = await _item_for(session, principal, code)
    draft = await drafts.open_draft(session, principal, item)
    view = await following.draft_form(session, principal, item, draft, via="page")
    params = request.query_params
    return render(
        request,
        "services/apply.html",
        _form_context(
            view,
            values={f.name: f.value for f in view.fields},
            saved=params.get("saved", ""),
        ),
        principal=principal,
    )


@router.post("/services/{code}/apply")
async def apply_submit(
    request: Request, session: DbSession, principal: Applicant, code: str
) -> Response:
    """One form for everything, so nothing typed is lost: the answers are saved, chosen files
    uploaded, a file removed (action ``remove:<id>``), then submitted if asked (``submit``).
    Whatever was accepted stays; what was refused is marked next to its field (422)."""
    form = await request.form()
    check_csrf(request, form)
    item = await _item_for(session, principal, code)
    action = str(form.get("action") or "save")
    application = await _posted_draft(session, principal, item, form.get("application"))
    if application is None:
        application, _created = await drafts.start_application(session, principal, item.code)
    elif application.status != "draft":
        # Sent twice (a double click on submit): the first one went through.
        return RedirectResponse(f"/my/applications/{application.id}", status_code=303)
    before = await following.draft_form(session, principal, item, application, log=False)
    typed = {
        f.name: str(form.get(f.name) or "")
        for f in before.fields
        if f.source is None and isinstance(form.get(f.name), str)
    }
    errors: dict[str, str] = {}
    try:
        async with session.begin_nested():
            await drafts.save_answers(session, principal, application.id, typed)
    except Problem as exc:
        if exc.status == 404:
            raise
        errors.update(_errors_of(exc))
    for material in before.materials:
        upload = _chosen(form, f"file-{material.index}")
        if upload is not None:
            refused = await _upload(session, principal, application.id, material.name, upload)
            if refused:
                errors[f"material:{material.name}"] = f"{material.name}：{refused}"
    if action.startswith("remove:"):
        try:
            async with session.begin_nested():
                await materials.remove_material(
                    session,
                    principal,
                    uuid.UUID(action.removeprefix("remove:")),
                    application_id=application.id,
                )
        except (Problem, ValueError) as exc:
            if isinstance(exc, Problem) and exc.status not in (404, 409):
                raise
            errors["_form"] = _("That file could not be removed; reload the page.")
    if action == "submit" and not errors:
        try:
            async with session.begin_nested():
                await submission.submit_application(session, principal, application.id, via="page")
        except Problem as exc:
            if exc.status == 404:
                raise
            errors.update(_errors_of(exc))
        else:
            return RedirectResponse(
                f"/my/applications/{application.id}?submitted=1", status_code=303
            )
    if errors:
        view = await following.draft_form(session, principal, item, application, via="page")
        if action == "submit":
            # Not submitted because of another problem: name what is missing too, at once.
            for missing in view.missing:
                key = missing.name if missing.kind == "field" else f"material:{missing.name}"
                errors.setdefault(key, _missing_message(missing.kind, missing.label))
        values = {f.name: f.value for f in view.fields} | typed
        return render(
            request,
            "services/apply.html",
            _form_context(view, values=values, errors=errors),
            status_code=422,
            principal=principal,
        )
    anchor = "#materials" if action != "save" else ""
    saved = "file" if action != "save" else "draft"
    return RedirectResponse(f"/services/{item.code}/apply?saved={saved}{anchor}", status_code=303)


@router.post("/my/applications/{application_id}/delete")
async def delete_draft(
    request: Request, session: DbSession, principal: Applicant, application_id: uuid.UUID
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    await drafts.delete_draft(session, principal, application_id)
    return RedirectResponse("/my/applications?deleted=1", status_code=303)


# --- following (我的申请) -------------------------------------------------------------------------


@router.get("/my/applications")
async def my_applications(request: Request, session: DbSession, principal: Applicant) -> Response:
    lines = await following.list_my_applications(session, principal)
    return render(
        request,
        "services/my_applications.html",
        {"lines": lines, "deleted": request.query_params.get("deleted", "")},
        principal=principal,
    )


async def _application_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    application_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = await following.describe_application(session, principal, application_id, via="page")
    if view.case is None:
        # A draft is followed on its form.
        return RedirectResponse(f"/services/{view.item.code}/apply", status_code=303)
    params = request.query_params
    return render(
        request,
        "services/application.html",
        {
            "view": view,
            "item": view.item,
            "case": view.case,
            "application": view.application,
            "errors": errors or {},
            "values": values or {},
            "notice": next(
                (k for k in ("submitted", "uploaded", "supplemented", "rated") if params.get(k)),
                "",
            ),
            # What the registries provide is not uploaded; anything else goes as 补正材料.
            "supplement_names": [
                m["name"] for m in view.item.materials if not m.get("from_registry")
            ]
            + [materials.SUPPLEMENT_MATERIAL],
            "max_size": materials.size_in_words(materials.MAX_MATERIAL_BYTES),
            "licence": await licences.licence_for_case(session, view.case.id),
        },
        status_code=status_code,
        principal=principal,
    )


@router.get("/my/applications/{application_id}")
async def application_page(
    request: Request, session: DbSession, principal: Applicant, application_id: uuid.UUID
) -> Response:
    """An application's status, time left, timeline, what was handed in; the 补正 form while
    the department waits; the 好差评 form once it is finished."""
    return await _application_page(request, session, principal, application_id)


@router.post("/my/applications/{application_id}/supplement")
async def supplement(
    request: Request, session: DbSession, principal: Applicant, application_id: uuid.UUID
) -> Response:
    """补正: upload a file (``upload``) or send the supplement with a note (``send``)."""
    form = await request.form()
    check_csrf(request, form)
    action = str(form.get("action") or "upload")
    note = str(form.get("note") or "")
    name = str(form.get("material") or "")
    errors: dict[str, str] = {}
    upload = _chosen(form, "file")
    if upload is not None:
        refused = await _upload(session, principal, application_id, name, upload)
        if refused:
            errors["file"] = refused
    elif action == "upload":
        errors["file"] = _("Choose a file to upload.")
    if action == "send" and not errors:
        try:
            async with session.begin_nested():
                await following.supplement(session, principal, application_id, note=note)
        except Problem as exc:
            if exc.status == 404:
                raise
            errors.update(_errors_of(exc))
    if errors:
        return await _application_page(
            request,
            session,
            principal,
            application_id,
            errors=errors,
            values={"note": note, "material": name},
            status_code=422,
        )
    target = "?supplemented=1" if action == "send" else "?uploaded=1#supplement"
    return RedirectResponse(f"/my/applications/{application_id}{target}", status_code=303)


@router.post("/my/applications/{application_id}/rating")
async def rate(
    request: Request, session: DbSession, principal: Applicant, application_id: uuid.UUID
) -> Response:
    """好差评: 1 to 5 stars and a comment, once, after the case is finished."""
    form = await request.form()
    check_csrf(request, form)
    raw = str(form.get("score") or "")
    comment = str(form.get("comment") or "")
    errors: dict[str, str] = {}
    if not raw.isdigit():
        errors["score"] = _("Choose from 1 to 5 stars.")
    else:
        try:
            async with session.begin_nested():
                await following.rate_application(
                    session, principal, application_id, int(raw), comment
                )
        except Problem as exc:
            if exc.status == 404:
                raise
            errors.update(_errors_of(exc))
    if errors:
        return await _application_page(
            request,
            session,
            principal,
            application_id,
            errors=errors,
            values={"score": raw, "comment": comment},
            status_code=422,
        )
    return RedirectResponse(f"/my/applications/{application_id}?rated=1", status_code=303)
