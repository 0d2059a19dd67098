"""Pages of the knowledge base: the public common questions (/hotline/knowledge: search and
the answers by category, each answer with its source and review date) and the department's
desk for its answers (/hotline/knowledge/manage: due for review, the edit form with marked
fields, publish and retire). Every form works without JavaScript."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from smartcity.core.authz import Principal
from smartcity.core.errors import NotFound, Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.hotline import service as hotline
from smartcity.hotline.categories import NODES, category_nodes
from smartcity.hotline.knowledge import service
from smartcity.hotline.knowledge.models import KnowledgeAnswer
from smartcity.hotline.knowledge.schemas import QUERY_MAX, AnswerInput
from smartcity.hotline.views import english
from smartcity.web.pages import page_principal, require_page
from smartcity.web.render import check_csrf, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Visitor = Annotated[Principal | None, Depends(page_principal)]
Staff = Annotated[Principal, Depends(require_page("staff"))]

STATE_TITLES = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "retired": N_("Retired"),
}
ACTIONS = ("publish", "retire")
POPULAR = 12
_KEYWORD_SPLIT = re.compile(r"[,，、;；\s]+")
_FIELD_MESSAGES = {
    "title": N_("Write the question in 1 to 200 characters."),
    "title_en": N_("Write the English question in at most 200 characters."),
    "answer": N_("Write the answer in 1 to 4,000 characters."),
    "answer_en": N_("Write the English answer in at most 4,000 characters."),
    "category": N_("Choose the category the answer belongs to."),
    "keywords": N_("Give at most 20 keywords of at most 30 characters each."),
    "source_name": N_("Name the source (the policy document) in 1 to 200 characters."),
    "source_number": N_("Give the document number in at most 100 characters."),
    "source_link": N_("Give a link that starts with http:// or https://, or leave it empty."),
    "effective_on": N_("Give the date the answer takes effect."),
    "review_by": N_("Give a review date on or after the effective date."),
}


def _state_title(state: str) -> str:
    return _(STATE_TITLES.get(state, state))


def _title(answer: KnowledgeAnswer) -> str:
    return answer.title_en if english() and answer.title_en else answer.title


def _branches() -> list[tuple[str, str]]:
    """The top of the category tree, for the list by category."""
    return [
        (n.code, n.name_en if english() else n.name) for n in category_nodes() if n.parent is None
    ]


def _category_options() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every category below the top, grouped under its top branch, for one select."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for node in category_nodes():
        if node.parent is None:
            continue
        top = NODES[node.code.split(".")[0]]
        label = top.name_en if english() else top.name
        name = node.name_en if english() else node.name
        indent = "— " if node.department is not None else ""
        groups.setdefault(label, []).append((node.code, indent + name))
    return list(groups.items())


async def _common(session: DbSession) -> dict[str, Any]:
    departments = await hotline.department_names(session)

    def department_label(code: str) -> str:
        names = departments.get(code)
        if names is None:
            return code
        return (names[1] or names[0]) if english() else names[0]

    return {
        "english": english(),
        "department_label": department_label,
        "state_title": _state_title,
        "answer_title": _title,
        "category_name": lambda code: service.category_name(code, english()),
        "overdue": service.is_overdue,
        "today": service.today(),
    }


# --- the public common questions (常见问题) ----------------------------------------------------


@router.get("/hotline/knowledge", dependencies=[Depends(public)])
async def knowledge_home(request: Request, session: DbSession, principal: Visitor) -> Response:
    """Search the answers, or browse them by category (the public sees published ones)."""
    q = request.query_params.get("q", "")
    category = request.query_params.get("category", "")[:20]
    if category and category not in NODES:
        category = ""
    errors: dict[str, str] = {}
    hits: list[tuple[KnowledgeAnswer, float]] = []
    listed: list[KnowledgeAnswer] = []
    if len(q) > QUERY_MAX:
        errors["q"] = _("Search with at most %(max)s characters.") % {"max": QUERY_MAX}
        q = q[:QUERY_MAX]
    elif q.strip():
        hits = await service.search_answers(
            session, None, q, limit=service.SEARCH_MAX, category=category or None
        )
    else:
        listed, _total = await service.list_answers(
            session, None, category=category or None, limit=service.LIST_MAX
        )
        if not category:
            # The first page: the answers most used and read, the rest by their category.
            listed = sorted(listed, key=lambda a: (-(a.uses * 5 + a.views), a.category_code))
            listed = listed[:POPULAR]
    staff = principal is not None and principal.kind == "staff"
    return render(
        request,
        "hotline_knowledge/index.html",
        {
            "q": q,
            "category": category,
            "branches": _branches(),
            "hits": hits,
            "listed": listed,
            "popular": not category and not q.strip(),
            "errors": errors,
            "staff": staff,
            **await _common(session),
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


@router.get("/hotline/knowledge/{answer_id:uuid}", dependencies=[Depends(public)])
async def answer_page(
    request: Request, session: DbSession, principal: Visitor, answer_id: uuid.UUID
) -> Response:
    """One published answer with its source and review date (public); its department and
    the 12345 centre also see drafts and retired answers here."""
    answer = await service.get_answer(session, principal, answer_id)
    await service.count_view(session, answer)
    return render(
        request,
        "hotline_knowledge/answer.html",
        {"answer": answer, **await _common(session)},
        principal=principal,
    )


# --- the department's answers -------------------------------------------------------------


@router.get("/hotline/knowledge/manage")
async def manage(request: Request, session: DbSession, principal: Staff) -> Response:
    """The department's answers: those due for review first, then all by state; the 12345
    centre reads every department's (``?department=``)."""
    code = await hotline.department_code_of(session, principal)
    in_centre = await hotline.in_centre(session, principal)
    wanted = request.query_params.get("department", "")[:40]
    department = wanted if in_centre and wanted else code
    state = request.query_params.get("state", "")
    state = state if state in STATE_TITLES else ""
    only_due = request.query_params.get("due") == "1"
    rows, total = await service.list_answers(
        session,
        principal,
        department=department or None,
        state=state or None,
        overdue=only_due,
        limit=service.LIST_MAX,
    )
    due = await service.overdue_for_department(session, principal)
    departments = await hotline.department_names(session)
    return render(
        request,
        "hotline_knowledge/manage.html",
        {
            "rows": rows,
            "total": total,
            "due": due,
            "department": department,
            "own": code,
            "in_centre": in_centre,
            "state": state,
            "only_due": only_due,
            "states": [(s, _(t)) for s, t in STATE_TITLES.items()],
            "departments": sorted(departments.items()),
            **await _common(session),
        },
        principal=principal,
    )


def _values(form: FormData) -> dict[str, Any]:
    def text(name: str, limit: int = 8000) -> str:
        value = form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    keywords = [w for w in _KEYWORD_SPLIT.split(text("keywords", 2000)) if w]
    return {
        "title": text("title", 1000),
        "title_en": text("title_en", 1000),
        "answer": text("answer"),
        "answer_en": text("answer_en"),
        "category": text("category", 20),
        "keywords": keywords[:100],
        "source_name": text("source_name", 1000),
        "source_number": text("source_number", 400),
        "source_link": text("source_link", 1000).strip() or None,
        "effective_on": text("effective_on", 20).strip() or None,
        "review_by": text("review_by", 20).strip() or None,
    }


def _errors_of_validation(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for entry in exc.errors():
        loc = [str(p) for p in entry["loc"] if not isinstance(p, int)]
        name = loc[0] if loc else "review_by"
        errors.setdefault(name, _(_FIELD_MESSAGES.get(name, N_("Check this field."))))
    return errors


def _form_values(answer: KnowledgeAnswer | None, values: dict[str, Any]) -> dict[str, Any]:
    if values:
        shown = dict(values)
        shown["keywords"] = "、".join(values.get("keywords") or [])
        shown["source_link"] = values.get("source_link") or ""
        for name in ("effective_on", "review_by"):
            shown[name] = values.get(name) or ""
        return shown
    if answer is None:
        start = service.today()
        return {
            "effective_on": start.isoformat(),
            "review_by": date(start.year + 1, start.month, min(start.day, 28)).isoformat(),
        }
    return {
        "title": answer.title,
        "title_en": answer.title_en,
        "answer": answer.answer,
        "answer_en": answer.answer_en,
        "category": answer.category_code,
        "keywords": "、".join(answer.keywords),
        "source_name": answer.source_name,
        "source_number": answer.source_number,
        "source_link": answer.source_link,
        "effective_on": answer.effective_on.isoformat(),
        "review_by": answer.review_by.isoformat(),
    }


async def _edit_context(
    session: DbSession,
    answer: KnowledgeAnswer | None,
    values: dict[str, Any],
    errors: dict[str, str],
    mine: bool = True,
) -> dict[str, Any]:
    return {
        "answer": answer,
        "values": _form_values(answer, values),
        "errors": errors,
        "groups": _category_options(),
        "revisions": await service.revisions_of(session, answer) if answer else [],
        "mine": mine,
        **await _common(session),
    }


@router.get("/hotline/knowledge/manage/new")
async def new_form(request: Request, session: DbSession, principal: Staff) -> Response:
    return render(
        request,
        "hotline_knowledge/edit.html",
        await _edit_context(session, None, {}, {}),
        principal=principal,
    )


@router.post("/hotline/knowledge/manage/new")
async def new_submit(request: Request, session: DbSession, principal: Staff) -> Response:
    form = await request.form()
    check_csrf(request, form)
    values = _values(form)
    errors: dict[str, str] = {}
    answer: KnowledgeAnswer | None = None
    try:
        data = AnswerInput.model_validate(values)
        async with session.begin_nested():
            answer = await service.create_answer(session, principal, data)
    except ValidationError as exc:
        errors = _errors_of_validation(exc)
    except Problem as exc:
        errors = {str(exc.extensions.get("field") or "_form"): exc.detail}
    if answer is None:
        return render(
            request,
            "hotline_knowledge/edit.html",
            await _edit_context(session, None, values, errors),
            status_code=422,
            principal=principal,
        )
    return RedirectResponse(f"/hotline/knowledge/manage/{answer.id}?done=saved", status_code=303)


@router.get("/hotline/knowledge/manage/{answer_id:uuid}")
async def edit_form(
    request: Request, session: DbSession, principal: Staff, answer_id: uuid.UUID
) -> Response:
    answer = await service.get_answer(session, principal, answer_id)
    mine = answer.department_code == await hotline.department_code_of(session, principal)
    context = await _edit_context(session, answer, {}, {}, mine)
    context["done"] = request.query_params.get("done", "")[:20]
    return render(request, "hotline_knowledge/edit.html", context, principal=principal)


@router.post("/hotline/knowledge/manage/{answer_id:uuid}")
async def edit_submit(
    request: Request, session: DbSession, principal: Staff, answer_id: uuid.UUID
) -> Response:
    """Save a new version; what was wrong is marked by its field and everything typed stays."""
    form = await request.form()
    check_csrf(request, form)
    answer = await service.get_answer(session, principal, answer_id)
    values = _values(form)
    errors: dict[str, str] = {}
    try:
        data = AnswerInput.model_validate(values)
        async with session.begin_nested():
            await service.update_answer(session, principal, answer.id, data)
    except ValidationError as exc:
        errors = _errors_of_validation(exc)
    except Problem as exc:
        if exc.status == 404:
            raise
        errors = {str(exc.extensions.get("field") or "_form"): exc.detail}
    if errors:
        await session.refresh(answer)
        return render(
            request,
            "hotline_knowledge/edit.html",
            await _edit_context(session, answer, values, errors),
            status_code=403 if "_form" in errors and len(errors) == 1 else 422,
            principal=principal,
        )
    return RedirectResponse(f"/hotline/knowledge/manage/{answer.id}?done=saved", status_code=303)


@router.post("/hotline/knowledge/manage/{answer_id:uuid}/{action}")
async def act(
    request: Request, session: DbSession, principal: Staff, answer_id: uuid.UUID, action: str
) -> Response:
    """Publish (发布) or retire (下线) the answer; a refusal is shown on the answer's page."""
    form = await request.form()
    check_csrf(request, form)
    if action not in ACTIONS:
        raise NotFound(_("There is no such action."))
    answer = await service.get_answer(session, principal, answer_id)
    try:
        async with session.begin_nested():
            if action == "publish":
                await service.publish(session, principal, answer.id)
            else:
                await service.retire(session, principal, answer.id)
    except Problem as exc:
        if exc.status == 404:
            raise
        await session.refresh(answer)
        errors = {str(exc.extensions.get("field") or "_form"): exc.detail}
        mine = answer.department_code == await hotline.department_code_of(session, principal)
        return render(
            request,
            "hotline_knowledge/edit.html",
            await _edit_context(session, answer, {}, errors, mine),
            status_code=exc.status,
            principal=principal,
        )
    return RedirectResponse(f"/hotline/knowledge/manage/{answer.id}?done={action}", status_code=303)
