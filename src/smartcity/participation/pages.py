"""Pages of public participation: the public list (/participation), a draft with its
articles, comments and the comment form, the figure and register (/participation/figures),
the commenter's own comments (/my/comments), and the department's desk
(/participation/manage): new drafts, publication, moderation, answers, the report and the
register of adopted documents. Every form works without JavaScript."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.errors import NotFound, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.security import public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.participation import service
from smartcity.participation.articles import label
from smartcity.participation.models import Comment, Draft
from smartcity.participation.schemas import (
    AnswerInput,
    CommentCreate,
    DocumentCreate,
    DraftCreate,
    ModerationInput,
)
from smartcity.participation.types import (
    ANSWER_TITLES,
    ANSWERS,
    COMMENT_MAX,
    COMMENT_STATE_TITLES,
    KIND_TITLES,
    KINDS,
    MIN_WINDOW_DAYS,
    STATE_TITLES,
)
from smartcity.web.pages import page_principal, require_page
from smartcity.web.render import check_csrf, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Visitor = Annotated[Principal | None, Depends(page_principal)]
Staff = Annotated[Principal, Depends(require_page("staff"))]
Commenter = Annotated[Principal, Depends(require_page("citizen", "enterprise"))]
ACTIONS = ("edit", "publish", "moderate", "answer", "report")


def _text(form: FormData, name: str, limit: int = 4000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _titled(titles: dict[str, str]) -> Any:
    def title(name: str) -> str:
        return _(titles[name]) if name in titles else name

    return title


async def _common(session: DbSession) -> dict[str, Any]:
    names = await service.department_names(session)

    def department(dep_id: uuid.UUID) -> Any:
        _code, zh, en = names.get(dep_id, ("", "", ""))
        return SimpleNamespace(name=zh, name_en=en)

    return {
        "kind_title": _titled(KIND_TITLES),
        "state_title": _titled(STATE_TITLES),
        "comment_state_title": _titled(COMMENT_STATE_TITLES),
        "answer_title": _titled(ANSWER_TITLES),
        "department": department,
        "article_label": label,
        "now": clock.now(),
    }


def _errors_of_validation(exc: ValidationError, fields: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for entry in exc.errors():
        loc = [str(p) for p in entry["loc"] if not isinstance(p, int)]
        name = loc[0] if loc else "_form"
        errors.setdefault(name, fields.get(name, _("Check this field.")))
    return errors


def _errors_of_problem(exc: Problem) -> dict[str, str]:
    return {str(exc.extensions.get("field") or "_form"): exc.detail}


# --- public pages -------------------------------------------------------------------------


@router.get("/participation", dependencies=[Depends(public)])
async def index(request: Request, session: DbSession, principal: Visitor) -> Response:
    """Drafts open for comment, and the closed ones with their reports."""
    drafts = await service.list_drafts(session, None, limit=100)
    counts = await service.comment_counts(session, [d.id for d in drafts])
    return render(
        request,
        "participation/index.html",
        {
            "open": [d for d in drafts if d.state == "open"],
            "closed": [d for d in drafts if d.state in ("closed", "answered")],
            "counts": counts,
            **await _common(session),
        },
        principal=principal,
    )


@router.get("/participation/figures", dependencies=[Depends(public)])
async def figures(
    request: Request,
    session: DbSession,
    principal: Visitor,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """The share of regulations and major public investments of a year open for comment
    for at least 30 days, per department, and the register it is counted from."""
    this_year = clock.to_city(clock.now()).year
    year = year or this_year
    figure = await service.figure(session, year)
    register = await service.documents(session, year)
    return render(
        request,
        "participation/figures.html",
        {
            "year": year,
            "years": list(range(this_year, this_year - 5, -1)),
            "figure": figure,
            "register": register,
            "open_for_comment": service.open_for_comment,
            "min_days": MIN_WINDOW_DAYS,
            **await _common(session),
        },
        principal=principal,
    )


async def _draft_context(
    session: DbSession, principal: Principal | None, draft: Draft
) -> dict[str, Any]:
    articles = await service.articles_of(session, draft)
    comments = await service.comments_of(session, principal, draft)
    by_article: dict[uuid.UUID | None, list[Comment]] = {}
    for c in comments:
        by_article.setdefault(c.article_id, []).append(c)
    commenter = principal is not None and principal.kind in ("citizen", "enterprise")
    published = [c for c in comments if c.state == "published"]
    tally = {a: sum(1 for c in published if c.answer == a) for a in ANSWERS}
    return {
        "draft": draft,
        "articles": articles,
        "by_article": by_article,
        "comments": comments,
        "published_count": len(published),
        "tally": tally,
        "window_open": service.window_open(draft),
        "commenter": commenter,
        "mask": service.mask_name,
        "comment_max": COMMENT_MAX,
        "staff_view": service.sees_all_comments(principal, draft),
        **await _common(session),
    }


@router.get("/participation/{draft_id:uuid}", dependencies=[Depends(public)])
async def draft_page(
    request: Request,
    session: DbSession,
    principal: Visitor,
    draft_id: uuid.UUID,
    sent: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """A draft: its articles with the published comments under each, the comment form while
    the window is open, and the adoption report once published."""
    draft = await service.get_draft(session, principal, draft_id)
    context = await _draft_context(session, principal, draft)
    return render(
        request,
        "participation/draft.html",
        {**context, "sent": bool(sent), "errors": {}, "values": {}},
        principal=principal,
    )


@router.post("/participation/{draft_id:uuid}/comments")
async def comment_submit(
    request: Request, session: DbSession, principal: Commenter, draft_id: uuid.UUID
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    draft = await service.get_draft(session, principal, draft_id)
    raw_article = _text(form, "article", 10).strip()
    values = {"article": raw_article, "text": _text(form, "text", COMMENT_MAX * 2)}
    errors: dict[str, str] = {}
    try:
        data = CommentCreate.model_validate(
            {"article": raw_article or None, "text": values["text"]}
        )
        async with session.begin_nested():
            await service.post_comment(
                session, principal, draft.id, article=data.article, text=data.text
            )
    except ValidationError as exc:
        errors = _errors_of_validation(
            exc,
            {
                "text": _("Write your comment in 1 to %(n)s characters.") % {"n": COMMENT_MAX},
                "article": _("Choose an article of this draft."),
            },
        )
    except Problem as exc:
        errors = _errors_of_problem(exc)
    if errors:
        context = await _draft_context(session, principal, draft)
        return render(
            request,
            "participation/draft.html",
            {**context, "sent": False, "errors": errors, "values": values},
            status_code=409 if "_form" in errors else 422,
            principal=principal,
        )
    return RedirectResponse(f"/participation/{draft.id}?sent=1#comment-form", status_code=303)


@router.get("/my/comments")
async def my_comments(request: Request, session: DbSession, principal: Commenter) -> Response:
    """The commenter's own comments (我的意见): state, the reason of a refusal, the answer."""
    rows = await service.my_comments(session, principal)
    numbers: dict[uuid.UUID, int] = {}
    for _comment, draft in rows:
        for a in await service.articles_of(session, draft):
            numbers[a.id] = a.number
    return render(
        request,
        "participation/my_comments.html",
        {"rows": rows, "numbers": numbers, **await _common(session)},
        principal=principal,
    )


# --- the department's desk ------------------------------------------------------------------


@router.get("/participation/manage")
async def manage(request: Request, session: DbSession, principal: Staff) -> Response:
    """The department's drafts, the comments awaiting moderation, the register form."""
    return render(
        request,
        "participation/manage.html",
        await _manage_context(session, principal, {}, {}),
        principal=principal,
    )


async def _manage_context(
    session: DbSession, principal: Principal, values: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    drafts = (
        await service.list_drafts(
            session, principal, department_id=principal.department_id, limit=200
        )
        if principal.department_id
        else []
    )
    year = clock.to_city(clock.now()).year
    register = (
        await service.documents(session, year, principal.department_id)
        if principal.department_id
        else []
    )
    return {
        "drafts": drafts,
        "counts": await service.comment_counts(session, [d.id for d in drafts]),
        "queue": await service.moderation_queue(session, principal),
        "register": register,
        "year": year,
        "closed_drafts": [d for d in drafts if d.state in ("closed", "answered")],
        "open_for_comment": service.open_for_comment,
        "doc_kinds": [k for k in KINDS if k != "other"],
        "values": values,
        "errors": errors,
        "today": clock.to_city(clock.now()).date().isoformat(),
        **await _common(session),
    }


def _draft_form_values(form: FormData) -> dict[str, Any]:
    return {
        "title": _text(form, "title", 400),
        "title_en": _text(form, "title_en", 600),
        "kind": _text(form, "kind", 20),
        "text": _text(form, "text", 210_000),
        "opens_on": _text(form, "opens_on", 20).strip(),
        "closes_on": _text(form, "closes_on", 20).strip(),
    }


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _new_context(
    values: dict[str, Any], errors: dict[str, str], draft_id: uuid.UUID | None = None
) -> dict[str, Any]:
    today = clock.to_city(clock.now()).date()
    return {
        "draft_id": draft_id,
        "form_action": (
            f"/participation/manage/{draft_id}/edit" if draft_id else "/participation/manage/new"
        ),
        "values": values,
        "errors": errors,
        "kinds": [(k, _(KIND_TITLES[k])) for k in KINDS],
        "today": today.isoformat(),
        "min_days": MIN_WINDOW_DAYS,
    }


@router.get("/participation/manage/new")
async def new_form(request: Request, principal: Staff) -> Response:
    return render(request, "participation/new.html", _new_context({}, {}), principal=principal)


@router.post("/participation/manage/new")
async def new_submit(request: Request, session: DbSession, principal: Staff) -> Response:
    """A new draft: the text pasted whole, split at 第X条; the window from the first day
    (00:00) to the end of the last day (24:00) in Asia/Shanghai."""
    form = await request.form()
    check_csrf(request, form)
    return await _save_draft(request, session, principal, form, None)


async def _save_draft(
    request: Request,
    session: DbSession,
    principal: Principal,
    form: FormData,
    draft_id: uuid.UUID | None,
) -> Response:
    """Create a draft, or replace the unpublished draft ``draft_id``, from the form."""
    values = _draft_form_values(form)
    errors: dict[str, str] = {}
    opens, closes = _day(values["opens_on"]), _day(values["closes_on"])
    if opens is None:
        errors["opens_on"] = _("Give the first day of the window.")
    if closes is None:
        errors["closes_on"] = _("Give the last day of the window.")
    draft: Draft | None = None
    if not errors:
        assert opens is not None and closes is not None
        try:
            data = DraftCreate.model_validate(
                {
                    "title": values["title"],
                    "title_en": values["title_en"],
                    "kind": values["kind"],
                    "text": values["text"],
                    "opens_at": datetime.combine(opens, time(0, 0)),
                    "closes_at": datetime.combine(closes, time(0, 0)) + timedelta(days=1),
                }
            )
            async with session.begin_nested():
                if draft_id is None:
                    draft = await service.create_draft(session, principal, data)
                else:
                    draft = await service.update_draft(session, principal, draft_id, data)
        except ValidationError as exc:
            errors = _errors_of_validation(
                exc,
                {
                    "title": _("Give the title in 1 to 200 characters."),
                    "title_en": _("Give the English title in at most 300 characters."),
                    "kind": _("Choose the kind of draft."),
                    "text": _("Paste the text of the draft."),
                    "opens_at": _("Give the first day of the window."),
                    "closes_at": _("Give the last day of the window."),
                },
            )
        except Problem as exc:
            errors = _errors_of_problem(exc)
    if draft is None:
        for api_name, form_name in (("opens_at", "opens_on"), ("closes_at", "closes_on")):
            if api_name in errors:
                errors[form_name] = errors.pop(api_name)
        return render(
            request,
            "participation/new.html",
            _new_context(values, errors, draft_id),
            status_code=422,
            principal=principal,
        )
    done = "created" if draft_id is None else "edit"
    return RedirectResponse(f"/participation/manage/{draft.id}?done={done}", status_code=303)


@router.get("/participation/manage/{draft_id}/edit")
async def edit_form(
    request: Request, session: DbSession, principal: Staff, draft_id: uuid.UUID
) -> Response:
    """The new-draft form filled with an unpublished draft, its articles as text again."""
    draft = await service.get_draft(session, principal, draft_id)
    if draft.department_id != principal.department_id or draft.state != "draft":
        raise NotFound(_("There is no such draft."))
    lines = [draft.preamble] if draft.preamble else []
    chapter = ""
    for a in await service.articles_of(session, draft):
        if a.chapter and a.chapter != chapter:
            lines.append(a.chapter)
            chapter = a.chapter
        lines.append(f"{label(a.number)}　{a.text}")
    last_day = clock.to_city(draft.closes_at - timedelta(microseconds=1)).date()
    values = {
        "title": draft.title,
        "title_en": draft.title_en,
        "kind": draft.kind,
        "text": "\n".join(lines),
        "opens_on": clock.to_city(draft.opens_at).date().isoformat(),
        "closes_on": last_day.isoformat(),
    }
    return render(
        request,
        "participation/new.html",
        _new_context(values, {}, draft.id),
        principal=principal,
    )


@router.post("/participation/manage/documents")
async def record_document(request: Request, session: DbSession, principal: Staff) -> Response:
    form = await request.form()
    check_csrf(request, form)
    values = {
        "title": _text(form, "title", 400),
        "title_en": _text(form, "title_en", 600),
        "kind": _text(form, "kind", 20),
        "adopted_on": _text(form, "adopted_on", 20).strip(),
        "draft": _text(form, "draft", 40).strip().upper(),
    }
    errors: dict[str, str] = {}
    try:
        data = DocumentCreate.model_validate(values)
        async with session.begin_nested():
            await service.record_document(session, principal, data)
    except ValidationError as exc:
        errors = _errors_of_validation(
            exc,
            {
                "title": _("Give the title in 1 to 200 characters."),
                "title_en": _("Give the English title in at most 300 characters."),
                "kind": _("Choose the kind of document."),
                "adopted_on": _("Give the day it was adopted."),
                "draft": _("Give the draft's number, e.g. ZQ2026-0001, or leave it empty."),
            },
        )
    except Problem as exc:
        errors = _errors_of_problem(exc)
    if errors:
        return render(
            request,
            "participation/manage.html",
            await _manage_context(session, principal, values, errors),
            status_code=422,
            principal=principal,
        )
    return RedirectResponse("/participation/manage?done=recorded#register", status_code=303)


async def _manage_draft_context(
    session: DbSession, principal: Principal, draft: Draft, errors: dict[str, str]
) -> dict[str, Any]:
    context = await _draft_context(session, principal, draft)
    comments: list[Comment] = context["comments"]
    return {
        **context,
        "errors": errors,
        "pending": [c for c in comments if c.state == "pending"],
        "unanswered": [c for c in comments if c.state == "published" and not c.answer],
        "numbers": {a.id: a.number for a in context["articles"]},
        "answers": [(a, _(ANSWER_TITLES[a])) for a in ANSWERS],
        "own": principal.department_id == draft.department_id,
    }


@router.get("/participation/manage/{draft_id}")
async def manage_draft(
    request: Request,
    session: DbSession,
    principal: Staff,
    draft_id: uuid.UUID,
    done: Annotated[str | None, Query(pattern=r"^[a-z]{1,16}$")] = None,
) -> Response:
    """One of the department's drafts: publish it, moderate, answer, publish the report."""
    draft = await service.get_draft(session, principal, draft_id)
    if draft.department_id != principal.department_id:
        raise NotFound(_("There is no such draft."))
    context = await _manage_draft_context(session, principal, draft, {})
    return render(
        request, "participation/manage_draft.html", {**context, "done": done}, principal=principal
    )


@router.post("/participation/manage/{draft_id}/{action}")
async def manage_action(
    request: Request, session: DbSession, principal: Staff, draft_id: uuid.UUID, action: str
) -> Response:
    if action not in ACTIONS:
        raise NotFound(_("There is no such step."))
    form = await request.form()
    check_csrf(request, form)
    draft = await service.get_draft(session, principal, draft_id)
    if draft.department_id != principal.department_id:
        raise NotFound(_("There is no such draft."))
    if action == "edit":
        return await _save_draft(request, session, principal, form, draft.id)
    errors: dict[str, str] = {}
    comment_id: uuid.UUID | None = None
    try:
        async with session.begin_nested():
            if action == "publish":
                await service.publish(session, principal, draft.id)
            elif action == "report":
                await service.publish_report(
                    session, principal, draft.id, _text(form, "text", 10_000)
                )
            else:
                try:
                    comment_id = uuid.UUID(_text(form, "comment", 40))
                except ValueError:
                    raise NotFound(_("There is no such comment.")) from None
                if action == "moderate":
                    moderation = ModerationInput.model_validate(
                        {
                            "decision": _text(form, "decision", 10),
                            "reason": _text(form, "reason", 500),
                        }
                    )
                    await service.moderate(
                        session, principal, comment_id, moderation.decision, moderation.reason
                    )
                else:
                    given = AnswerInput.model_validate(
                        {"answer": _text(form, "answer", 20), "reason": _text(form, "reason", 2000)}
                    )
                    await service.answer(session, principal, comment_id, given.answer, given.reason)
    except ValidationError as exc:
        errors = _errors_of_validation(
            exc,
            {
                "decision": _("Choose to publish or to reject."),
                "answer": _("Choose adopted, partly adopted or not adopted."),
                "reason": _("Give the reason in at most 2,000 characters."),
            },
        )
    except Problem as exc:
        errors = _errors_of_problem(exc)
    if errors:
        await session.refresh(draft)
        context = await _manage_draft_context(session, principal, draft, errors)
        return render(
            request,
            "participation/manage_draft.html",
            {**context, "done": None, "failed_comment": comment_id},
            status_code=409 if "_form" in errors else 422,
            principal=principal,
        )
    anchor = f"#c-{comment_id}" if comment_id else ""
    return RedirectResponse(
        f"/participation/manage/{draft.id}?done={action}{anchor}", status_code=303
    )


def english() -> bool:
    return not i18n.current_locale.get().startswith("zh")
