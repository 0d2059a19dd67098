"""Shaping drafts and comments for the API and the pages: masked names, counts, labels."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.participation import service
from smartcity.participation.articles import label
from smartcity.participation.models import AdoptedDocument, Article, Comment, Draft
from smartcity.participation.schemas import (
    ArticleRead,
    CommentRead,
    DocumentRead,
    DraftRead,
    DraftSummary,
    FigureRead,
    FigureRow,
)


def comment_read(
    comment: Comment, draft: Draft, numbers: dict[object, int], principal: Principal | None
) -> CommentRead:
    own = principal is not None and principal.id == comment.author_account_id
    staff = service.sees_all_comments(principal, draft)
    shown = draft.state == "answered" or staff or own
    return CommentRead(
        id=comment.id,
        draft=draft.number,
        article=numbers.get(comment.article_id) if comment.article_id else None,
        author=service.mask_name(comment.author_name),
        author_kind=comment.author_kind,
        text=comment.text,
        created_at=comment.created_at,
        state=comment.state,
        rejection_reason=comment.rejection_reason
        if (own or staff) and comment.rejection_reason
        else None,
        answer=comment.answer if shown and comment.answer else None,
        answer_reason=comment.answer_reason if shown and comment.answer else None,
    )


async def summaries(session: AsyncSession, drafts: list[Draft]) -> list[DraftSummary]:
    counts = await service.comment_counts(session, [d.id for d in drafts])
    departments = await service.department_names(session)
    return [
        DraftSummary(
            id=d.id,
            number=d.number,
            title=d.title,
            title_en=d.title_en,
            kind=d.kind,
            department=departments.get(d.department_id, ("", "", ""))[0],
            state=d.state,
            opens_at=d.opens_at,
            closes_at=d.closes_at,
            comments=counts.get(d.id, 0),
        )
        for d in drafts
    ]


def article_numbers(articles: list[Article]) -> dict[object, int]:
    return {a.id: a.number for a in articles}


async def full(session: AsyncSession, principal: Principal | None, draft: Draft) -> DraftRead:
    [summary] = await summaries(session, [draft])
    articles = await service.articles_of(session, draft)
    comments = await service.comments_of(session, principal, draft)
    numbers = article_numbers(articles)
    published: dict[object, int] = {}
    for c in comments:
        if c.state == "published":
            published[c.article_id] = published.get(c.article_id, 0) + 1
    return DraftRead(
        **summary.model_dump(),
        preamble=draft.preamble,
        articles=[
            ArticleRead(
                number=a.number,
                label=label(a.number),
                chapter=a.chapter,
                text=a.text,
                comments=published.get(a.id, 0),
            )
            for a in articles
        ],
        comment_list=[comment_read(c, draft, numbers, principal) for c in comments],
        report_text=draft.report_text if draft.state == "answered" else None,
        reported_at=draft.reported_at,
    )


async def document_reads(
    session: AsyncSession, rows: list[tuple[AdoptedDocument, Draft | None]]
) -> list[DocumentRead]:
    departments = await service.department_names(session)
    return [
        DocumentRead(
            id=d.id,
            title=d.title,
            kind=d.kind,
            department=departments.get(d.department_id, ("", "", ""))[0],
            adopted_on=d.adopted_on,
            draft=draft.number if draft is not None else None,
            open_for_comment=service.open_for_comment(draft),
        )
        for d, draft in rows
    ]


async def figure_read(session: AsyncSession, figure: service.Figure) -> FigureRead:
    departments = await service.department_names(session)
    rows = []
    for line in figure.lines:
        code, name, _en = (
            departments.get(line.department_id, ("", "", ""))
            if line.department_id
            else ("", "", "")
        )
        rows.append(
            FigureRow(
                department=code,
                department_name=name,
                year=figure.year,
                documents=line.documents,
                open_for_comment=line.open_for_comment,
                share=line.share,
            )
        )
    rows.sort(key=lambda r: r.department)
    return FigureRead(
        year=figure.year,
        rows=rows,
        documents=figure.total.documents,
        open_for_comment=figure.total.open_for_comment,
        share=figure.total.share,
    )
