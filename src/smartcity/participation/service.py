"""The business of public participation (民意征集): a department's draft (征求意见稿) split into
articles and opened for comment for at least 30 days, closed automatically at the end of its
window; comments by signed-in citizens and enterprises, moderated with reasons; the answer
to each comment (采纳 / 部分采纳 / 未采纳) and the adoption report (采纳情况说明) that tells
every commenter; the register of adopted documents and the figure of those open for comment.

Staff act only on their own department's drafts (``authorize`` with same_department); every
read starts from ``readable_drafts``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import authz, clock, people
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.text import clean_text
from smartcity.participation import articles as parsing
from smartcity.participation.models import AdoptedDocument, Article, Comment, Draft
from smartcity.participation.schemas import DocumentCreate, DraftCreate
from smartcity.participation.types import (
    ANSWER_REASON_MAX,
    COMMENT_INTERVAL_MINUTES,
    COMMENT_MAX,
    MAX_WINDOW_DAYS,
    MIN_WINDOW_DAYS,
    REASON_MAX,
    REPORT_MAX,
)

STAFF = frozenset({"staff"})
ACTIONS: dict[str, frozenset[str]] = {
    "participation.draft.create": STAFF,
    "participation.draft.edit": STAFF,
    "participation.draft.publish": STAFF,
    "participation.comment.post": frozenset({"citizen", "enterprise"}),
    "participation.comment.moderate": STAFF,
    "participation.comment.answer": STAFF,
    "participation.report.publish": STAFF,
    "participation.document.record": STAFF,
}
# Staff act on their own department's drafts and documents only.
RULES: dict[str, authz.ObjectRule] = {
    action: authz.same_department for action, who in ACTIONS.items() if who == STAFF
}
LIST_MAX = 200
PUBLIC_STATES = ("open", "closed", "answered")


# --- reading ------------------------------------------------------------------------------


def readable_drafts(principal: Principal | None) -> Select[Draft]:
    """Published drafts for everyone; a department's staff also its unpublished ones;
    supervisors, auditors and admins every draft."""
    query = select(Draft)
    if principal is not None and principal.is_("supervisor", "auditor", "admin"):
        return query
    public = Draft.state.in_(PUBLIC_STATES)
    if principal is not None and principal.kind == "staff" and principal.department_id:
        return query.where(or_(public, Draft.department_id == principal.department_id))
    return query.where(public)


async def get_draft(
    session: AsyncSession, principal: Principal | None, draft_id: uuid.UUID
) -> Draft:
    found = (
        await session.execute(readable_drafts(principal).where(Draft.id == draft_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such draft."))
    return found


async def get_draft_by_number(
    session: AsyncSession, principal: Principal | None, number: str
) -> Draft:
    found = (
        await session.execute(readable_drafts(principal).where(Draft.number == number))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such draft."))
    return found


async def list_drafts(
    session: AsyncSession,
    principal: Principal | None,
    *,
    state: str | None = None,
    department_id: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Draft]:
    """Open drafts first (closing soonest first), then the others, newest first."""
    query = readable_drafts(principal)
    if state:
        query = query.where(Draft.state == state)
    if department_id is not None:
        query = query.where(Draft.department_id == department_id)
    query = query.order_by((Draft.state != "open"), Draft.closes_at.desc())
    rows = await session.execute(query.limit(min(limit, LIST_MAX)).offset(offset))
    return list(rows.scalars())


async def articles_of(session: AsyncSession, draft: Draft) -> list[Article]:
    rows = await session.execute(
        select(Article).where(Article.draft_id == draft.id).order_by(Article.number)
    )
    return list(rows.scalars())


def sees_all_comments(principal: Principal | None, draft: Draft) -> bool:
    """The owning department (who moderates) and supervisors see every comment."""
    if principal is None:
        return False
    if principal.is_("supervisor", "auditor", "admin"):
        return True
    return principal.kind == "staff" and principal.department_id == draft.department_id


async def comments_of(
    session: AsyncSession, principal: Principal | None, draft: Draft
) -> list[Comment]:
    """Published comments; the commenter's own whatever their state; every one for the
    owning department."""
    query = select(Comment).where(Comment.draft_id == draft.id)
    if not sees_all_comments(principal, draft):
        mine = (
            Comment.author_account_id == principal.id
            if principal is not None and principal.id is not None
            else false()
        )
        query = query.where(or_(Comment.state == "published", mine))
    rows = await session.execute(query.order_by(Comment.created_at, Comment.id))
    return list(rows.scalars())


async def comment_counts(session: AsyncSession, draft_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Published comments per draft, for the lists."""
    if not draft_ids:
        return {}
    rows = await session.execute(
        select(Comment.draft_id, func.count())
        .where(Comment.draft_id.in_(draft_ids), Comment.state == "published")
        .group_by(Comment.draft_id)
    )
    return {draft_id: count for draft_id, count in rows.all()}


async def my_comments(session: AsyncSession, principal: Principal) -> list[tuple[Comment, Draft]]:
    """The caller's own comments (我的意见), newest first, with their drafts."""
    if principal.id is None:
        return []
    rows = await session.execute(
        select(Comment, Draft)
        .join(Draft, Draft.id == Comment.draft_id)
        .where(Comment.author_account_id == principal.id)
        .order_by(Comment.created_at.desc())
        .limit(LIST_MAX)
    )
    return [(c, d) for c, d in rows.all()]


async def moderation_queue(
    session: AsyncSession, principal: Principal
) -> list[tuple[Comment, Draft]]:
    """The comments awaiting moderation on the caller's department's drafts, oldest first."""
    if principal.department_id is None:
        return []
    rows = await session.execute(
        select(Comment, Draft)
        .join(Draft, Draft.id == Comment.draft_id)
        .where(Draft.department_id == principal.department_id, Comment.state == "pending")
        .order_by(Comment.created_at)
        .limit(LIST_MAX)
    )
    return [(c, d) for c, d in rows.all()]


def mask_name(name: str) -> str:
    """张**: the first character only, as comments are shown to everyone."""
    return name[:1] + "**" if name else ""


async def department_names(session: AsyncSession) -> dict[uuid.UUID, tuple[str, str, str]]:
    """(code, name, name_en) of every department, by id."""
    rows = await session.execute(
        select(Department.id, Department.code, Department.name, Department.name_en)
    )
    return {id_: (code, name, name_en) for id_, code, name, name_en in rows.all()}


# --- the window ---------------------------------------------------------------------------


def city_instant(value: datetime) -> datetime:
    """An instant; a time without an offset is the city's wall clock (Asia/Shanghai)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=clock.CITY_TZ)
    return value.astimezone(clock.now().tzinfo)


def city_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=clock.CITY_TZ)


def check_window(opens_at: datetime, closes_at: datetime) -> None:
    if closes_at <= opens_at:
        raise InvalidInput(
            _("The window must end after it starts."),
            slug="participation-window-invalid",
            field="closes_at",
        )
    if closes_at - opens_at < timedelta(days=MIN_WINDOW_DAYS):
        raise InvalidInput(
            _("A draft is open for comment for at least %(days)s days.")
            % {"days": MIN_WINDOW_DAYS},
            slug="participation-window-too-short",
            field="closes_at",
        )
    if closes_at - opens_at > timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidInput(
            _("A window lasts at most %(days)s days.") % {"days": MAX_WINDOW_DAYS},
            slug="participation-window-invalid",
            field="closes_at",
        )


def window_open(draft: Draft, at: datetime | None = None) -> bool:
    at = at or clock.now()
    return draft.state == "open" and draft.opens_at <= at < draft.closes_at


# --- drafts -------------------------------------------------------------------------------


def _parsed(data: DraftCreate) -> parsing.ParsedDraft:
    try:
        if data.articles is not None and (data.text is None or not data.text.strip()):
            return parsing.from_list(data.articles)
        if data.articles is not None:
            raise parsing.ArticleError(N_("Give the text or the articles, not both."))
        return parsing.parse(data.text or "")
    except parsing.ArticleError as exc:
        raise InvalidInput(
            _(exc.message) % exc.values, slug="participation-articles-invalid", field="text"
        ) from None


async def _new_number(session: AsyncSession, at: datetime) -> str:
    """ZQ + the city's year + a sequence of that year: ZQ2026-0007."""
    year = clock.to_city(at).year
    prefix = f"ZQ{year}-"
    count = (
        await session.execute(select(func.count()).where(Draft.number.like(f"{prefix}%")))
    ).scalar_one()
    return f"{prefix}{count + 1:04d}"


async def create_draft(session: AsyncSession, principal: Principal, data: DraftCreate) -> Draft:
    """A department's draft (征求意见稿), not yet published."""
    authorize(principal, "participation.draft.create")
    if principal.department_id is None:
        raise InvalidInput(_("Only a department's staff publish drafts."), field="department")
    parsed = _parsed(data)
    opens_at, closes_at = city_instant(data.opens_at), city_instant(data.closes_at)
    check_window(opens_at, closes_at)
    now = clock.now()
    draft = Draft(
        id=uuid.uuid4(),
        number=await _new_number(session, now),
        title=data.title,
        title_en=data.title_en,
        kind=data.kind,
        department_id=principal.department_id,
        preamble=parsed.preamble,
        state="draft",
        opens_at=opens_at,
        closes_at=closes_at,
        created_at=now,
        created_by=principal.name,
    )
    authorize(principal, "participation.draft.create", draft)
    session.add(draft)
    await session.flush()
    session.add_all(
        Article(id=uuid.uuid4(), draft_id=draft.id, number=a.number, chapter=a.chapter, text=a.text)
        for a in parsed.articles
    )
    await session.flush()
    return draft


async def update_draft(
    session: AsyncSession, principal: Principal, draft_id: uuid.UUID, data: DraftCreate
) -> Draft:
    """Edit a draft before it is published: title, kind, window and every article (the
    articles are replaced; no one has commented on an unpublished draft)."""
    draft = await get_draft(session, principal, draft_id)
    authorize(principal, "participation.draft.edit", draft)
    if draft.state != "draft":
        raise Conflict(
            _("A published draft is not edited: comments refer to its articles."),
            slug="participation-not-draft",
        )
    parsed = _parsed(data)
    opens_at, closes_at = city_instant(data.opens_at), city_instant(data.closes_at)
    check_window(opens_at, closes_at)
    draft.title, draft.title_en, draft.kind = data.title, data.title_en, data.kind
    draft.preamble, draft.opens_at, draft.closes_at = parsed.preamble, opens_at, closes_at
    for article in await articles_of(session, draft):
        await session.delete(article)
    await session.flush()
    session.add_all(
        Article(id=uuid.uuid4(), draft_id=draft.id, number=a.number, chapter=a.chapter, text=a.text)
        for a in parsed.articles
    )
    await session.flush()
    return draft


async def publish(session: AsyncSession, principal: Principal, draft_id: uuid.UUID) -> Draft:
    """Open the draft for comment (发布征求意见). A window that starts before today is
    refused; one that started earlier today starts now, and must still last 30 days."""
    draft = await get_draft(session, principal, draft_id)
    authorize(principal, "participation.draft.publish", draft)
    if draft.state != "draft":
        raise Conflict(_("This draft is already published."), slug="participation-not-draft")
    now = clock.now()
    if draft.opens_at < city_day_start(clock.to_city(now).date()):
        raise InvalidInput(
            _("The window starts in the past: choose a start from today."),
            slug="participation-window-in-past",
            field="opens_at",
        )
    draft.opens_at = max(draft.opens_at, now)
    check_window(draft.opens_at, draft.closes_at)
    draft.state, draft.published_at = "open", now
    await session.flush()
    return draft


async def close_due(session: AsyncSession, at: datetime | None = None) -> list[Draft]:
    """Close every open draft whose window has ended (the job, and ``smartcity
    participation close``): from the instant the window ends, no comment is taken."""
    at = at or clock.now()
    rows = await session.execute(
        select(Draft).where(Draft.state == "open", Draft.closes_at <= at).order_by(Draft.closes_at)
    )
    closed = list(rows.scalars())
    for draft in closed:
        draft.state, draft.closed_at = "closed", at
    await session.flush()
    return closed


async def close_due_job(session: AsyncSession) -> None:
    await close_due(session)


# --- comments -----------------------------------------------------------------------------


async def post_comment(
    session: AsyncSession,
    principal: Principal,
    draft_id: uuid.UUID,
    *,
    article: int | None,
    text: str,
) -> Comment:
    """A signed-in citizen's or enterprise's comment, pending moderation."""
    authorize(principal, "participation.comment.post")
    draft = await get_draft(session, principal, draft_id)
    now = clock.now()
    if draft.state != "open" or now >= draft.closes_at:
        raise Conflict(
            _("The comment period of this draft has ended."), slug="participation-window-closed"
        )
    if now < draft.opens_at:
        raise Conflict(
            _("The comment period of this draft has not started yet."),
            slug="participation-window-not-open",
        )
    text = clean_text(text.strip(), "text")
    if not text:
        raise InvalidInput(_("Write your comment."), field="text")
    if len(text) > COMMENT_MAX:
        raise InvalidInput(
            _("Write your comment in 1 to %(n)s characters.") % {"n": COMMENT_MAX}, field="text"
        )
    article_id: uuid.UUID | None = None
    if article is not None:
        article_id = (
            await session.execute(
                select(Article.id).where(Article.draft_id == draft.id, Article.number == article)
            )
        ).scalar_one_or_none()
        if article_id is None:
            raise InvalidInput(
                _("This draft has no article %(n)s.") % {"n": article},
                slug="participation-unknown-article",
                field="article",
            )
    assert principal.id is not None
    since = now - timedelta(minutes=COMMENT_INTERVAL_MINUTES)
    recent = (
        await session.execute(
            select(func.count()).where(
                Comment.author_account_id == principal.id,
                Comment.draft_id == draft.id,
                Comment.article_id.is_(None)
                if article_id is None
                else Comment.article_id == article_id,
                Comment.created_at > since,
            )
        )
    ).scalar_one()
    if recent:
        raise TooManyRequests(
            _("You have just commented on this; wait %(n)s minutes before the next comment.")
            % {"n": COMMENT_INTERVAL_MINUTES},
            slug="participation-comment-too-soon",
        )
    name = principal.display_name or (await people.display_names(session, [principal.name])).get(
        principal.name, principal.name
    )
    comment = Comment(
        id=uuid.uuid4(),
        draft_id=draft.id,
        article_id=article_id,
        author_account_id=principal.id,
        author_kind=principal.kind,
        author_name=name[:100],
        text=text,
        created_at=now,
        state="pending",
    )
    session.add(comment)
    await session.flush()
    return comment


async def _comment_of_department(
    session: AsyncSession, principal: Principal, comment_id: uuid.UUID
) -> tuple[Comment, Draft]:
    row = (
        await session.execute(
            select(Comment, Draft)
            .join(Draft, Draft.id == Comment.draft_id)
            .where(Comment.id == comment_id)
        )
    ).one_or_none()
    if row is None or not sees_all_comments(principal, row[1]):
        raise NotFound(_("There is no such comment."))
    return row[0], row[1]


async def moderate(
    session: AsyncSession, principal: Principal, comment_id: uuid.UUID, decision: str, reason: str
) -> Comment:
    """Publish a pending comment, or reject it with the reason the commenter reads."""
    comment, draft = await _comment_of_department(session, principal, comment_id)
    authorize(principal, "participation.comment.moderate", draft)
    if comment.state != "pending":
        raise Conflict(
            _("This comment has been moderated already."), slug="participation-moderated"
        )
    reason = clean_text(reason.strip(), "reason")[:REASON_MAX]
    if decision == "reject" and not reason:
        raise InvalidInput(
            _("Say why the comment is not published."),
            slug="participation-reason-required",
            field="reason",
        )
    comment.state = "published" if decision == "publish" else "rejected"
    comment.rejection_reason = reason if decision == "reject" else ""
    comment.moderated_at, comment.moderated_by = clock.now(), principal.name
    await session.flush()
    return comment


async def answer(
    session: AsyncSession, principal: Principal, comment_id: uuid.UUID, kind: str, reason: str
) -> Comment:
    """The department's answer to a published comment, once comment has closed: adopted,
    partly adopted or not adopted; the last two with the reason."""
    comment, draft = await _comment_of_department(session, principal, comment_id)
    authorize(principal, "participation.comment.answer", draft)
    if draft.state != "closed":
        raise Conflict(
            _("Comments are answered after the comment period and before the report."),
            slug="participation-not-closed",
        )
    if comment.state != "published":
        raise Conflict(
            _("Only published comments are answered."), slug="participation-comment-not-published"
        )
    reason = clean_text(reason.strip(), "reason")[:ANSWER_REASON_MAX]
    if kind in ("partly", "not_adopted") and not reason:
        raise InvalidInput(
            _("Give the reason when a comment is not or only partly adopted."),
            slug="participation-reason-required",
            field="reason",
        )
    comment.answer, comment.answer_reason = kind, reason
    comment.answered_at, comment.answered_by = clock.now(), principal.name
    await session.flush()
    return comment


async def publish_report(
    session: AsyncSession, principal: Principal, draft_id: uuid.UUID, text: str
) -> Draft:
    """Publish the adoption report (采纳情况说明) once every comment is moderated and every
    published one answered; then tell each commenter, once."""
    from smartcity.participation.notices import notify_commenters

    draft = await get_draft(session, principal, draft_id)
    authorize(principal, "participation.report.publish", draft)
    if draft.state != "closed":
        raise Conflict(
            _("The report is published after the comment period, once."),
            slug="participation-not-closed",
        )
    comments = await comments_of(session, principal, draft)
    pending = sum(1 for c in comments if c.state == "pending")
    unanswered = sum(1 for c in comments if c.state == "published" and not c.answer)
    if pending or unanswered:
        raise Conflict(
            _(
                "Moderate and answer every comment first: %(pending)s awaiting moderation, "
                "%(unanswered)s without an answer."
            )
            % {"pending": pending, "unanswered": unanswered},
            slug="participation-unanswered",
            pending=pending,
            unanswered=unanswered,
        )
    text = clean_text(text.strip(), "text")[:REPORT_MAX]
    draft.state, draft.report_text, draft.reported_at = "answered", text, clock.now()
    await session.flush()
    await notify_commenters(session, draft, [c.author_account_id for c in comments])
    return draft


# --- the register and the figure ----------------------------------------------------------


def open_for_comment(draft: Draft | None) -> bool:
    """Whether a draft went to online comment for at least 30 days (and the window ended)."""
    return (
        draft is not None
        and draft.published_at is not None
        and draft.state in ("closed", "answered")
        and draft.closes_at - draft.opens_at >= timedelta(days=MIN_WINDOW_DAYS)
    )


async def record_document(
    session: AsyncSession, principal: Principal, data: DocumentCreate
) -> AdoptedDocument:
    """Record a regulation or major public investment the department adopted (the register),
    with the draft that went to comment when there was one."""
    authorize(principal, "participation.document.record")
    if principal.department_id is None:
        raise InvalidInput(_("Only a department's staff record documents."), field="department")
    draft: Draft | None = None
    if data.draft:
        draft = (
            await session.execute(
                readable_drafts(principal).where(
                    Draft.number == data.draft, Draft.department_id == principal.department_id
                )
            )
        ).scalar_one_or_none()
        if draft is None:
            raise InvalidInput(
                _("Your department has no draft %(number)s.") % {"number": data.draft},
                slug="participation-unknown-draft",
                field="draft",
            )
        if draft.kind != data.kind:
            raise InvalidInput(
                _("The draft is of another kind than the document."),
                slug="participation-kind-mismatch",
                field="kind",
            )
        if draft.state not in ("closed", "answered"):
            raise Conflict(
                _("The draft's comment period has not ended."), slug="participation-not-closed"
            )
    document = AdoptedDocument(
        id=uuid.uuid4(),
        department_id=principal.department_id,
        kind=data.kind,
        title=data.title,
        title_en=data.title_en,
        adopted_on=data.adopted_on,
        draft_id=draft.id if draft is not None else None,
        recorded_at=clock.now(),
        recorded_by=principal.name,
    )
    authorize(principal, "participation.document.record", document)
    session.add(document)
    await session.flush()
    return document


async def documents(
    session: AsyncSession, year: int, department_id: uuid.UUID | None = None
) -> list[tuple[AdoptedDocument, Draft | None]]:
    """The register of one year (by the day of adoption), with each document's draft."""
    query = (
        select(AdoptedDocument, Draft)
        .outerjoin(Draft, Draft.id == AdoptedDocument.draft_id)
        .where(
            AdoptedDocument.adopted_on >= date(year, 1, 1),
            AdoptedDocument.adopted_on <= date(year, 12, 31),
        )
        .order_by(AdoptedDocument.adopted_on, AdoptedDocument.title)
    )
    if department_id is not None:
        query = query.where(AdoptedDocument.department_id == department_id)
    rows = await session.execute(query)
    return [(d, dr) for d, dr in rows.all()]


@dataclass(frozen=True)
class FigureLine:
    department_id: uuid.UUID | None
    documents: int
    open_for_comment: int

    @property
    def share(self) -> float | None:
        return self.open_for_comment / self.documents if self.documents else None


@dataclass(frozen=True)
class Figure:
    """The share of regulations and major public investments adopted in a year that were
    open for online comment for at least 30 days (the plan aims at 100%)."""

    year: int
    lines: tuple[FigureLine, ...]
    total: FigureLine


async def figure(session: AsyncSession, year: int) -> Figure:
    register = await documents(session, year)
    by_department: dict[uuid.UUID, list[bool]] = {}
    for document, draft in register:
        by_department.setdefault(document.department_id, []).append(open_for_comment(draft))
    lines = tuple(FigureLine(dep, len(flags), sum(flags)) for dep, flags in by_department.items())
    total = FigureLine(
        None, sum(line.documents for line in lines), sum(line.open_for_comment for line in lines)
    )
    return Figure(year, lines, total)
