"""REST API of public participation: drafts open for comment, comments by citizens and
enterprises, moderation and answers by the owning department, the adoption report, the
register of adopted documents and the participation figure."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.security import optional_principal, public, require_principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.participation import service, views
from smartcity.participation.schemas import (
    AnswerInput,
    CommentCreate,
    CommentRead,
    DocumentCreate,
    DocumentRead,
    DraftCreate,
    DraftRead,
    DraftSummary,
    FigureRead,
    ModerationInput,
    ReportInput,
)

router = APIRouter(
    prefix="/api/v1/participation", route_class=UnitOfWorkRoute, tags=["participation"]
)

Staff = Annotated[Principal, Depends(require_principal("staff"))]
Commenter = Annotated[Principal, Depends(require_principal("citizen", "enterprise"))]
Visitor = Annotated[Principal | None, Depends(optional_principal)]
Year = Annotated[int, Query(ge=2000, le=2100)]
State = Annotated[str | None, Query(pattern=r"^(draft|open|closed|answered)$")]


@router.get("/drafts", response_model=list[DraftSummary], dependencies=[Depends(public)])
async def list_drafts(
    session: DbSession,
    principal: Visitor,
    state: State = None,
    limit: Annotated[int, Query(ge=1, le=service.LIST_MAX)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DraftSummary]:
    """Drafts the caller may read: published ones for everyone, a department's own too."""
    drafts = await service.list_drafts(session, principal, state=state, limit=limit, offset=offset)
    return await views.summaries(session, drafts)


@router.post("/drafts", response_model=DraftRead, status_code=201)
async def create_draft(session: DbSession, principal: Staff, data: DraftCreate) -> DraftRead:
    """A department's draft, split into articles; published with /publish."""
    draft = await service.create_draft(session, principal, data)
    return await views.full(session, principal, draft)


@router.get("/drafts/{draft_id}", response_model=DraftRead, dependencies=[Depends(public)])
async def get_draft(session: DbSession, principal: Visitor, draft_id: uuid.UUID) -> DraftRead:
    """A draft with its articles, the comments the caller may read and the report."""
    return await views.full(
        session, principal, await service.get_draft(session, principal, draft_id)
    )


@router.put("/drafts/{draft_id}", response_model=DraftRead)
async def update_draft(
    session: DbSession, principal: Staff, draft_id: uuid.UUID, data: DraftCreate
) -> DraftRead:
    """Replace an unpublished draft (its articles too); 409 once published."""
    draft = await service.update_draft(session, principal, draft_id, data)
    return await views.full(session, principal, draft)


@router.post("/drafts/{draft_id}/publish", response_model=DraftRead)
async def publish(session: DbSession, principal: Staff, draft_id: uuid.UUID) -> DraftRead:
    draft = await service.publish(session, principal, draft_id)
    return await views.full(session, principal, draft)


@router.post("/drafts/{draft_id}/comments", response_model=CommentRead, status_code=201)
async def post_comment(
    session: DbSession, principal: Commenter, draft_id: uuid.UUID, data: CommentCreate
) -> CommentRead:
    """A comment on an article (or the whole draft) while the window is open; pending
    moderation. After the window: 409 participation-window-closed."""
    comment = await service.post_comment(
        session, principal, draft_id, article=data.article, text=data.text
    )
    draft = await service.get_draft(session, principal, draft_id)
    numbers = views.article_numbers(await service.articles_of(session, draft))
    return views.comment_read(comment, draft, numbers, principal)


@router.post("/comments/{comment_id}/moderation", response_model=CommentRead)
async def moderate(
    session: DbSession, principal: Staff, comment_id: uuid.UUID, data: ModerationInput
) -> CommentRead:
    comment = await service.moderate(session, principal, comment_id, data.decision, data.reason)
    return await _comment(session, principal, comment.draft_id, comment.id)


@router.post("/comments/{comment_id}/answer", response_model=CommentRead)
async def answer(
    session: DbSession, principal: Staff, comment_id: uuid.UUID, data: AnswerInput
) -> CommentRead:
    comment = await service.answer(session, principal, comment_id, data.answer, data.reason)
    return await _comment(session, principal, comment.draft_id, comment.id)


async def _comment(
    session: DbSession, principal: Principal, draft_id: uuid.UUID, comment_id: uuid.UUID
) -> CommentRead:
    draft = await service.get_draft(session, principal, draft_id)
    full = await views.full(session, principal, draft)
    return next(c for c in full.comment_list if c.id == comment_id)


@router.post("/drafts/{draft_id}/report", response_model=DraftRead)
async def publish_report(
    session: DbSession, principal: Staff, draft_id: uuid.UUID, data: ReportInput
) -> DraftRead:
    """The adoption report (采纳情况说明): every comment answered first; tells each commenter."""
    draft = await service.publish_report(session, principal, draft_id, data.text)
    return await views.full(session, principal, draft)


@router.get("/my/comments", response_model=list[CommentRead])
async def my_comments(session: DbSession, principal: Commenter) -> list[CommentRead]:
    """The caller's own comments, with the moderation's reason and the answer."""
    out = []
    for comment, draft in await service.my_comments(session, principal):
        numbers = views.article_numbers(await service.articles_of(session, draft))
        out.append(views.comment_read(comment, draft, numbers, principal))
    return out


@router.post("/documents", response_model=DocumentRead, status_code=201)
async def record_document(
    session: DbSession, principal: Staff, data: DocumentCreate
) -> DocumentRead:
    """Record an adopted regulation or major public investment (the register)."""
    document = await service.record_document(session, principal, data)
    draft = (
        await service.get_draft(session, principal, document.draft_id)
        if document.draft_id
        else None
    )
    [read] = await views.document_reads(session, [(document, draft)])
    return read


@router.get("/documents", response_model=list[DocumentRead], dependencies=[Depends(public)])
async def list_documents(session: DbSession, year: Year | None = None) -> list[DocumentRead]:
    """The register of one year (this year by default): public, as the figure is."""
    year = year or clock.to_city(clock.now()).year
    return await views.document_reads(session, await service.documents(session, year))


@router.get("/figure", response_model=FigureRead, dependencies=[Depends(public)])
async def figure(session: DbSession, year: Year | None = None) -> FigureRead:
    """The share of regulations and major public investments adopted in the year that were
    open for online comment for at least 30 days, per department and in all."""
    year = year or clock.to_city(clock.now()).year
    return await views.figure_read(session, await service.figure(session, year))
