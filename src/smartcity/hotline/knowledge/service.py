"""The knowledge base's business (知识库): departments write, publish, revise and retire their
answers; agents and citizens search the published ones; an agent answers a consultation with
one on the call and closes it at intake (直接办结), which counts as a use of the answer.

Only the department that owns an answer edits it; the 12345 centre, supervisors and admins
read every answer; other staff read the published ones and their own; everyone else the
published ones only."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.hotline import service as hotline
from smartcity.hotline.categories import NODES
from smartcity.hotline.knowledge import search
from smartcity.hotline.knowledge.models import KnowledgeAnswer, KnowledgeRevision
from smartcity.hotline.knowledge.schemas import QUERY_MAX, AnswerInput, UseInput
from smartcity.hotline.schemas import OrderCreate

ACTIONS: dict[str, frozenset[str]] = {
    "hotline.knowledge.edit": frozenset({"staff"}),
    "hotline.knowledge.use": frozenset({"staff"}),
}
LIST_MAX = 200
SEARCH_MAX = 20
# How many answers a search scores at most (the published base of a city is a few thousand).
SEARCH_POOL = 5000


def today() -> date:
    """The city's date (Asia/Shanghai): an answer is overdue the day after its review date."""
    return clock.to_city(clock.now()).date()


def is_overdue(answer: KnowledgeAnswer, on: date | None = None) -> bool:
    return answer.state == "published" and answer.review_by < (on or today())


async def _reader(session: AsyncSession, principal: Principal | None) -> tuple[bool, str]:
    """(reads every answer?, the principal's department code)."""
    if principal is None:
        return False, ""
    if principal.is_("supervisor", "admin", "auditor"):
        return True, ""
    code = await hotline.department_code_of(session, principal)
    if principal.kind == "staff":
        return code == hotline.centre_code(), code
    return False, ""


def readable_answers(every: bool, department_code: str) -> Select[KnowledgeAnswer]:
    """The answers a reader sees: all (the centre, supervisors), the published and their own
    department's (other staff), or the published only (everyone else)."""
    query = select(KnowledgeAnswer)
    if every:
        return query
    if department_code:
        return query.where(
            or_(
                KnowledgeAnswer.state == "published",
                KnowledgeAnswer.department_code == department_code,
            )
        )
    return query.where(KnowledgeAnswer.state == "published")


async def get_answer(
    session: AsyncSession, principal: Principal | None, answer_id: uuid.UUID
) -> KnowledgeAnswer:
    """One readable answer, else 404 (a draft or retired answer of another department too)."""
    every, code = await _reader(session, principal)
    found = (
        await session.execute(readable_answers(every, code).where(KnowledgeAnswer.id == answer_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such answer in the knowledge base."))
    return found


async def list_answers(
    session: AsyncSession,
    principal: Principal | None,
    *,
    category: str | None = None,
    department: str | None = None,
    state: str | None = None,
    overdue: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[KnowledgeAnswer], int]:
    """A page of readable answers by category then title, and how many match. ``overdue``:
    the published answers past their review date (待复核)."""
    if not 1 <= limit <= LIST_MAX or not 0 <= offset <= 1_000_000:
        raise InvalidInput(
            _("A page holds 1 to %(max)s answers.") % {"max": LIST_MAX}, field="limit"
        )
    every, code = await _reader(session, principal)
    query = readable_answers(every, code)
    if category:
        query = query.where(
            or_(
                KnowledgeAnswer.category_code == category,
                KnowledgeAnswer.category_code.like(f"{category}.%"),
            )
        )
    if department:
        query = query.where(KnowledgeAnswer.department_code == department)
    if state:
        query = query.where(KnowledgeAnswer.state == state)
    if overdue:
        query = query.where(
            KnowledgeAnswer.state == "published", KnowledgeAnswer.review_by < today()
        )
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(
        query.order_by(
            KnowledgeAnswer.review_by if overdue else KnowledgeAnswer.category_code,
            KnowledgeAnswer.title,
            KnowledgeAnswer.id,
        )
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), int(total)


async def overdue_for_department(
    session: AsyncSession, principal: Principal
) -> list[KnowledgeAnswer]:
    """The principal's department's published answers past their review date, oldest first."""
    code = await hotline.department_code_of(session, principal)
    if not code:
        return []
    rows, _total = await list_answers(
        session, principal, department=code, overdue=True, limit=LIST_MAX
    )
    return rows


async def revisions_of(session: AsyncSession, answer: KnowledgeAnswer) -> list[KnowledgeRevision]:
    rows = await session.execute(
        select(KnowledgeRevision)
        .where(KnowledgeRevision.answer_id == answer.id)
        .order_by(KnowledgeRevision.version.desc())
    )
    return list(rows.scalars())


# --- search -------------------------------------------------------------------------------


def check_query(q: str) -> str:
    query = q.strip()
    if len(query) > QUERY_MAX:
        raise InvalidInput(
            _("Search with at most %(max)s characters.") % {"max": QUERY_MAX},
            field="q",
            slug="query-too-long",
        )
    return query


async def search_answers(
    session: AsyncSession,
    principal: Principal | None,
    q: str,
    *,
    limit: int = 10,
    category: str | None = None,
    published_only: bool = True,
) -> list[tuple[KnowledgeAnswer, float]]:
    """The answers that best fit the query, best first, with their scores; published only
    unless asked otherwise (the manage page searches its department's drafts too)."""
    query = check_query(q)
    if not 1 <= limit <= SEARCH_MAX:
        raise InvalidInput(_("Ask for 1 to %(max)s answers.") % {"max": SEARCH_MAX}, field="limit")
    if not query:
        return []
    every, code = await _reader(session, principal)
    pool = readable_answers(every, code).with_only_columns(
        KnowledgeAnswer.id,
        KnowledgeAnswer.title,
        KnowledgeAnswer.title_terms,
        KnowledgeAnswer.keyword_terms,
        KnowledgeAnswer.answer_terms,
    )
    if published_only:
        pool = pool.where(KnowledgeAnswer.state == "published")
    if category:
        pool = pool.where(
            or_(
                KnowledgeAnswer.category_code == category,
                KnowledgeAnswer.category_code.like(f"{category}.%"),
            )
        )
    rows = (await session.execute(pool.limit(SEARCH_POOL))).all()
    documents = [search.document(*row) for row in rows]
    best = await asyncio.to_thread(search.rank, query, documents, limit)
    if not best:
        return []
    found = {
        a.id: a
        for a in (
            await session.execute(
                select(KnowledgeAnswer).where(KnowledgeAnswer.id.in_([b.id for b in best]))
            )
        ).scalars()
    }
    return [(found[b.id], b.score) for b in best if b.id in found]


# --- writing ------------------------------------------------------------------------------


def check_category(code: str) -> None:
    if code not in NODES:
        raise InvalidInput(
            _("There is no category %(code)s; choose one from the list.") % {"code": code},
            field="category",
            slug="unknown-category",
        )


async def _owner_code(session: AsyncSession, principal: Principal) -> str:
    authorize(principal, "hotline.knowledge.edit")
    code = await hotline.department_code_of(session, principal)
    if not code:
        raise Forbidden(_("Answers are kept by a department; your account has none."))
    return code


async def _owned(
    session: AsyncSession, principal: Principal, answer_id: uuid.UUID
) -> KnowledgeAnswer:
    """The answer, if the principal's department owns it (else 403; unreadable 404)."""
    answer = await get_answer(session, principal, answer_id)
    code = await _owner_code(session, principal)
    if answer.department_code != code:
        raise Forbidden(
            _("Only the department that owns this answer edits it."), slug="not-answer-owner"
        )
    return answer


def _terms(data: AnswerInput) -> dict[str, str]:
    """The words search looks up, cut from the texts as saved (CPU work: run in a thread)."""
    return {
        "title_terms": search.terms([data.title, data.title_en]),
        "keyword_terms": search.terms(data.keywords),
        "answer_terms": search.terms([data.answer, data.answer_en]),
    }


def _fields(data: AnswerInput) -> dict[str, Any]:
    keywords: dict[str, None] = {}
    for word in data.keywords:
        keywords.setdefault(word, None)
    return {
        "title": data.title,
        "title_en": data.title_en,
        "answer": data.answer.strip(),
        "answer_en": data.answer_en.strip(),
        "category_code": data.category,
        "keywords": list(keywords),
        "source_name": data.source_name,
        "source_number": data.source_number,
        "source_link": data.source_link or "",
        "effective_on": data.effective_on,
        "review_by": data.review_by,
    }


def _check(data: AnswerInput) -> None:
    check_category(data.category)
    if not data.answer.strip():
        raise InvalidInput(_("Write the answer."), field="answer")


async def create_answer(
    session: AsyncSession, principal: Principal, data: AnswerInput
) -> KnowledgeAnswer:
    """A new answer of the principal's department, as a draft."""
    code = await _owner_code(session, principal)
    _check(data)
    now = clock.now()
    terms = await asyncio.to_thread(_terms, data)
    answer = KnowledgeAnswer(
        id=uuid.uuid4(),
        **_fields(data),
        **terms,
        department_code=code,
        state="draft",
        version=1,
        views=0,
        uses=0,
        created_at=now,
        updated_at=now,
        updated_by=principal.name[:100],
    )
    session.add(answer)
    await session.flush()
    return answer


async def update_answer(
    session: AsyncSession, principal: Principal, answer_id: uuid.UUID, data: AnswerInput
) -> KnowledgeAnswer:
    """A new version of the answer; the text it replaces is kept (历史版本). A published
    answer stays published; a retired one is not edited."""
    answer = await _owned(session, principal, answer_id)
    if answer.state == "retired":
        raise Conflict(
            _("A retired answer is not edited; write a new one."),
            state=answer.state,
            slug="wrong-state",
        )
    _check(data)
    fields = _fields(data)
    if all(getattr(answer, name) == value for name, value in fields.items()):
        return answer
    session.add(
        KnowledgeRevision(
            id=uuid.uuid4(),
            answer_id=answer.id,
            version=answer.version,
            title=answer.title,
            title_en=answer.title_en,
            answer=answer.answer,
            answer_en=answer.answer_en,
            keywords=list(answer.keywords),
            category_code=answer.category_code,
            source_name=answer.source_name,
            source_number=answer.source_number,
            source_link=answer.source_link,
            effective_on=answer.effective_on,
            review_by=answer.review_by,
            edited_at=answer.updated_at,
            edited_by=answer.updated_by,
        )
    )
    terms = await asyncio.to_thread(_terms, data)
    for name, value in {**fields, **terms}.items():
        setattr(answer, name, value)
    answer.version += 1
    answer.updated_at = clock.now()
    answer.updated_by = principal.name[:100]
    await session.flush()
    return answer


async def publish(
    session: AsyncSession, principal: Principal, answer_id: uuid.UUID
) -> KnowledgeAnswer:
    """发布: a draft becomes public (a review date already past is refused)."""
    answer = await _owned(session, principal, answer_id)
    if answer.state != "draft":
        raise Conflict(_("Only a draft is published."), state=answer.state, slug="wrong-state")
    if answer.review_by < today():
        raise InvalidInput(
            _("The review date has passed: review the answer and set a new date first."),
            field="review_by",
            slug="review-date-passed",
        )
    answer.state = "published"
    answer.published_at = clock.now()
    answer.updated_at = clock.now()
    answer.updated_by = principal.name[:100]
    await session.flush()
    return answer


async def retire(
    session: AsyncSession, principal: Principal, answer_id: uuid.UUID
) -> KnowledgeAnswer:
    """下线: the answer is no longer given (a policy changed); it stays for the record."""
    answer = await _owned(session, principal, answer_id)
    if answer.state == "retired":
        raise Conflict(_("The answer is retired already."), state=answer.state, slug="wrong-state")
    answer.state = "retired"
    answer.updated_at = clock.now()
    answer.updated_by = principal.name[:100]
    await session.flush()
    return answer


async def count_view(session: AsyncSession, answer: KnowledgeAnswer) -> None:
    """One more reading of a published answer (an UPDATE, so concurrent readers add up)."""
    if answer.state != "published":
        return
    await session.execute(
        update(KnowledgeAnswer)
        .where(KnowledgeAnswer.id == answer.id)
        .values(views=KnowledgeAnswer.views + 1)
        .execution_options(synchronize_session=False)
    )


# --- at intake (直接办结) -------------------------------------------------------------------


async def _usable(
    session: AsyncSession, principal: Principal, answer_id: uuid.UUID
) -> KnowledgeAnswer:
    authorize(principal, "hotline.knowledge.use")
    if not await hotline.in_centre(session, principal):
        raise Forbidden(_("Only the 12345 centre answers calls."))
    answer = await get_answer(session, principal, answer_id)
    if answer.state != "published":
        raise Conflict(
            _("Only a published answer is given to a caller."),
            state=answer.state,
            slug="answer-not-published",
        )
    return answer


async def record_use(
    session: AsyncSession, principal: Principal, answer_id: uuid.UUID, order_state: str
) -> KnowledgeAnswer:
    """The answer closed a consultation at intake: one more use (and a reading)."""
    answer = await _usable(session, principal, answer_id)
    if order_state != "closed":
        raise Conflict(
            _("The answer counts only when it closes the consultation on the call."),
            slug="not-closed-at-intake",
        )
    await session.execute(
        update(KnowledgeAnswer)
        .where(KnowledgeAnswer.id == answer.id)
        .values(uses=KnowledgeAnswer.uses + 1)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(answer, ["uses"])
    return answer


async def count_intake_use(
    session: AsyncSession, principal: Principal, answer_id: str, order: Any
) -> bool:
    """The intake desk's form named the answer the agent used: count it when the call was
    closed at intake with it. A call saved otherwise (not a consultation, the answer cleared,
    the answer retired meanwhile) is saved all the same and counts nothing."""
    try:
        chosen = uuid.UUID(answer_id.strip())
    except ValueError:
        return False
    if order.state != "closed" or not await hotline.in_centre(session, principal):
        return False
    try:
        async with session.begin_nested():
            await record_use(session, principal, chosen, order.state)
    except (NotFound, Conflict):
        return False
    return True


async def answer_at_intake(
    session: AsyncSession, principal: Principal, answer_id: uuid.UUID, data: UseInput
) -> tuple[Any, KnowledgeAnswer]:
    """Take the call as a consultation answered with this answer and closed at once: the
    hotline's own intake (受理 then 直接办结), and one more use of the answer."""
    answer = await _usable(session, principal, answer_id)
    values = data.model_dump(exclude={"answer"})
    values["answer"] = answer.answer
    values["kind"] = "consultation"
    values["department"] = None
    order = await hotline.create_order(
        session, principal, OrderCreate.model_validate(values), channel="phone"
    )
    return order, await record_use(session, principal, answer.id, order.state)


def excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def category_name(code: str, english: bool) -> str:
    node = NODES.get(code)
    if node is None:
        return code
    return node.name_en if english else node.name
